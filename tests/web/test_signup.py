"""Sign-up through the client API and the web page, in each registration mode."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from actors.accounts import approve_account, ensure_instance_actor
from storage.tables import Actor, User
from tests.conftest import add_account, make_settings
from tests.support.browser import LOGIN_BUTTON, form_with
from web.app import create_app
from web.context import AppContext

CALLBACK = "https://app.example/callback"
GOOD = {"username": "ann", "email": "ann@example.org", "password": "a long password", "agreement": "true",
        "locale": "en"}


@pytest.fixture
def instance(database_url, database) -> Callable:
    """An instance in the given registration mode: yields its context and an HTTP client."""

    @asynccontextmanager
    async def start(mode: str) -> AsyncIterator[tuple[AppContext, httpx.AsyncClient]]:
        settings = make_settings(database_url, registrations=mode)
        app = create_app(settings, database=database)
        ctx: AppContext = app.state.ctx
        async with ctx.database.transaction() as session:
            await ensure_instance_actor(session, ctx.keyring, ctx.urls)
        async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=settings.base_url
        ) as client:
            yield ctx, client

    return start


async def app_token(client: httpx.AsyncClient, scopes: str = "read write follow push") -> tuple[dict, str]:
    app = (await client.post("/api/v1/apps", data={"client_name": "Signup app", "redirect_uris": CALLBACK,
                                                    "scopes": scopes})).json()
    token = (await client.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"],
        "scope": scopes})).json()["access_token"]
    return app, token


async def people(ctx: AppContext) -> int:
    async with ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(User))).one()


async def sign_in_result(client: httpx.AsyncClient, app: dict, username: str, password: str) -> httpx.Response:
    login_page = await client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read"})
    form = form_with(login_page.text, "username", LOGIN_BUTTON)
    return await client.post(form.action, data=form.fill(LOGIN_BUTTON, username=username, password=password))


async def test_api_sign_up_when_open_gives_a_usable_token(instance):
    async with instance("open") as (ctx, client):
        app, token = await app_token(client)
        response = await client.post("/api/v1/accounts", data=GOOD, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "Bearer" and body["scope"] == "follow push read write"
        check = await client.get("/api/v1/apps/verify_credentials",
                                 headers={"Authorization": f"Bearer {body['access_token']}"})
        assert check.status_code == 200
        async with ctx.database.session() as session:
            user, actor = (await session.exec(select(User, Actor).join(Actor, Actor.id == User.actor_id))).one()
        assert actor.username == "ann" and user.approved and user.email == "ann@example.org"
        assert (await sign_in_result(client, app, "ann", GOOD["password"])).status_code == 303


async def test_api_sign_up_in_approval_mode_waits_for_approval(instance):
    async with instance("approval") as (ctx, client):
        app, token = await app_token(client)
        response = await client.post("/api/v1/accounts", json={**GOOD, "reason": "My mother is treated here"},
                                     headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        new_token = response.json()["access_token"]
        pending = await client.get("/api/v1/apps/verify_credentials",
                                   headers={"Authorization": f"Bearer {new_token}"})
        assert pending.status_code == 403 and "pending approval" in pending.json()["error"]
        refused = await sign_in_result(client, app, "ann", GOOD["password"])
        assert refused.status_code == 403 and "waiting for a moderator" in refused.text
        async with ctx.database.transaction() as session:
            approved = await approve_account(session, "ann")
        assert approved is not None and approved.user.signup_reason == "My mother is treated here"
        assert (await sign_in_result(client, app, "ann", GOOD["password"])).status_code == 303


async def test_api_sign_up_when_closed_is_403_and_writes_nothing(instance):
    async with instance("closed") as (ctx, client):
        _app, token = await app_token(client)
        response = await client.post("/api/v1/accounts", data=GOOD, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 403 and "closed" in response.json()["error"]
        assert await people(ctx) == 0


async def test_api_sign_up_needs_an_app_token_with_write_accounts(instance):
    async with instance("open") as (ctx, client):
        assert (await client.post("/api/v1/accounts", data=GOOD)).status_code == 401
        _app, read_only = await app_token(client, "read")
        refused = await client.post("/api/v1/accounts", data=GOOD, headers={"Authorization": f"Bearer {read_only}"})
        assert refused.status_code == 403
        assert await people(ctx) == 0


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"username": ""}, "username", "ERR_BLANK"),
        ({"username": "ann smith"}, "username", "ERR_INVALID"),
        ({"username": "admin"}, "username", "ERR_RESERVED"),
        ({"username": "Taken"}, "username", "ERR_TAKEN"),
        ({"email": "TAKEN@example.org"}, "email", "ERR_TAKEN"),
        ({"email": "not-an-address"}, "email", "ERR_INVALID"),
        ({"password": "short"}, "password", "ERR_TOO_SHORT"),
        ({"agreement": "false"}, "agreement", "ERR_ACCEPTED"),
        ({"locale": "not a locale"}, "locale", "ERR_INCLUSION"),
    ],
)
async def test_api_sign_up_with_bad_input_is_422_naming_the_field_and_writes_nothing(instance, changes, field,
                                                                                    code):
    async with instance("open") as (ctx, client):
        await add_account(ctx, "taken")
        _app, token = await app_token(client)
        response = await client.post("/api/v1/accounts", data={**GOOD, **changes},
                                     headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 422
        body = response.json()
        assert body["error"].startswith("Validation failed: ")
        assert [item["error"] for item in body["details"][field]] == [code]
        assert await people(ctx) == 1


async def test_api_sign_up_reports_every_bad_field_at_once(instance):
    async with instance("open") as (ctx, client):
        _app, token = await app_token(client)
        response = await client.post("/api/v1/accounts", data={"username": "", "email": "x", "password": "1"},
                                     headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 422
        assert set(response.json()["details"]) == {"username", "email", "password", "agreement"}
        assert await people(ctx) == 0


async def fill_sign_up_page(client: httpx.AsyncClient, **typed: str) -> httpx.Response:
    page = await client.get("/auth/sign_up")
    assert page.status_code == 200
    form = form_with(page.text, "username")
    return await client.post(form.action, data=form.fill(**typed))


async def test_sign_up_page_in_approval_mode_says_the_account_waits(instance):
    async with instance("approval") as (ctx, client):
        done = await fill_sign_up_page(client, username="bo", email="bo@example.org", password="a long password",
                                       password_confirmation="a long password", agreement="1",
                                       reason="I am a caregiver")
        assert done.status_code == 201, done.text
        assert "waiting for a moderator" in done.text
        async with ctx.database.session() as session:
            user = (await session.exec(select(User))).one()
        assert not user.approved and user.signup_reason == "I am a caregiver"


async def test_sign_up_page_when_open_makes_a_usable_account(instance):
    async with instance("open") as (ctx, client):
        done = await fill_sign_up_page(client, username="bo", email="bo@example.org", password="a long password",
                                       password_confirmation="a long password", agreement="1")
        assert done.status_code == 201 and "Your account is ready" in done.text
        app, _token = await app_token(client)
        client.cookies.clear()
        assert (await sign_in_result(client, app, "bo", "a long password")).status_code == 303


async def test_sign_up_page_shows_problems_and_writes_nothing(instance):
    async with instance("open") as (ctx, client):
        page = await fill_sign_up_page(client, username="bo", email="bo@example.org", password="a long password",
                                       password_confirmation="another password", agreement="1")
        assert page.status_code == 422
        assert "does not match" in page.text
        assert 'value="bo"' in page.text  # what was typed is kept
        assert await people(ctx) == 0


async def test_sign_up_page_when_closed_says_so(instance):
    async with instance("closed") as (ctx, client):
        page = await client.get("/auth/sign_up")
        assert "Sign-ups are closed" in page.text
        assert 'name="password"' not in page.text
        refused = await client.post("/auth/sign_up", data={**GOOD, "csrf_token": "x"})
        assert refused.status_code == 403
        assert await people(ctx) == 0


async def test_sign_up_page_refuses_a_forged_form(instance):
    async with instance("open") as (ctx, client):
        refused = await client.post("/auth/sign_up", data={**GOOD, "csrf_token": "forged"})
        assert refused.status_code == 403
        assert await people(ctx) == 0


async def test_sign_up_page_offers_the_browsers_language_and_keeps_the_choice(instance):
    async with instance("open") as (ctx, client):
        page = await client.get("/auth/sign_up", headers={"Accept-Language": "de;q=0.2, es-MX, en;q=0.5"})
        assert '<option value="es" selected>Español</option>' in page.text
        form = form_with(page.text, "username")
        assert dict(form.fields)["locale"] == "es"
        done = await client.post(form.action, data=form.fill(
            username="bo", email="bo@example.org", password="a long password",
            password_confirmation="a long password", agreement="1"))
        assert done.status_code == 201, done.text
        async with ctx.database.session() as session:
            assert (await session.exec(select(User))).one().locale == "es"
        plain = await client.get("/auth/sign_up", headers={"Accept-Language": "ja, *;q=0.1"})
        assert '<option value="en" selected>English</option>' in plain.text
