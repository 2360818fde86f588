"""OAuth 2 as Mastodon clients use it, through the real app, its pages and a real database."""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, update
from sqlmodel import select
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from storage.tables import LoginAttempt, OAuthAccessToken, OAuthApp, OAuthAuthorizationCode, User
from tests.conftest import add_account
from tests.support.browser import APPROVE_BUTTON, DENY_BUTTON, LOGIN_BUTTON, form_with
from web.auth import optional_viewer, require_app, require_viewer
from web.errors import http_exception

PASSWORD = "correct horse battery"
CALLBACK = "https://app.example/callback"
OOB = "urn:ietf:wg:oauth:2.0:oob"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


async def register(client: httpx.AsyncClient, redirect_uris: str | list[str] = CALLBACK,
                   scopes: str = "read write follow push") -> dict:
    response = await client.post("/api/v1/apps", data={
        "client_name": "Test app", "redirect_uris": redirect_uris, "scopes": scopes,
        "website": "https://app.example"})
    assert response.status_code == 200, response.text
    return response.json()


async def sign_in(client: httpx.AsyncClient, page: httpx.Response, username: str = "ann",
                  password: str = PASSWORD) -> httpx.Response:
    """Post the login form on `page`; follow the same-site redirect back to the consent page."""
    form = form_with(page.text, "username", LOGIN_BUTTON)
    response = await client.post(form.action, data=form.fill(LOGIN_BUTTON, username=username, password=password))
    if response.status_code == 303:
        location = response.headers["location"]
        assert location.startswith("/oauth/authorize?")
        response = await client.get(location)
    return response


async def consent(client: httpx.AsyncClient, page: httpx.Response, button=APPROVE_BUTTON) -> httpx.Response:
    form = form_with(page.text, button=button)
    return await client.post(form.action, data=form.fill(button))


async def authorize(client: httpx.AsyncClient, app: dict, *, scope: str = "read write follow push",
                    redirect_uri: str = CALLBACK, challenge: str | None = None, state: str | None = "xyz",
                    username: str = "ann") -> httpx.Response:
    params = {"response_type": "code", "client_id": app["client_id"], "redirect_uri": redirect_uri,
              "scope": scope}
    if state is not None:
        params["state"] = state
    if challenge is not None:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    login_page = await client.get("/oauth/authorize", params=params)
    assert login_page.status_code == 200, login_page.text
    consent_page = await sign_in(client, login_page, username)
    assert consent_page.status_code == 200, consent_page.text
    return await consent(client, consent_page)


def code_from(response: httpx.Response) -> str:
    assert response.status_code == 302, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    return query["code"][0]


async def exchange(client: httpx.AsyncClient, app: dict, code: str, verifier: str | None = None,
                   redirect_uri: str = CALLBACK) -> httpx.Response:
    data = {"grant_type": "authorization_code", "code": code, "client_id": app["client_id"],
            "client_secret": app["client_secret"], "redirect_uri": redirect_uri}
    if verifier is not None:
        data["code_verifier"] = verifier
    return await client.post("/oauth/token", data=data)


async def count(ctx, table) -> int:
    async with ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


@pytest.fixture
async def probe(app: Starlette, settings):
    """A tiny app sharing the instance's database, whose routes ask `web.auth` who is calling."""

    async def needs(request: Request) -> JSONResponse:
        viewer = await require_viewer(request, request.path_params["scope"])
        return JSONResponse({"username": viewer.actor.username, "scopes": sorted(viewer.scopes)})

    async def maybe(request: Request) -> JSONResponse:
        viewer = await optional_viewer(request)
        return JSONResponse({"username": viewer.actor.username if viewer else None})

    async def app_only(request: Request) -> JSONResponse:
        token = await require_app(request, "read")
        return JSONResponse({"app": token.app.name, "user_id": token.user_id})

    tiny = Starlette(routes=[Route("/needs/{scope}", needs, methods=["GET", "POST"]), Route("/maybe", maybe),
                             Route("/app", app_only)],
                     exception_handlers={HTTPException: http_exception})
    tiny.state.ctx = app.state.ctx
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=tiny), base_url=settings.base_url) as http:
        yield http


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- app registration -------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["form", "json", "query"])
async def test_register_app_in_form_json_and_query_string_encodings(ctx, client, encoding):
    uris = [OOB, "oauth2redirect://com.keylesspalace.tusky/", "com.tapbots.Ivory.19300:/request_token"]
    if encoding == "form":
        response = await client.post("/api/v1/apps", data={
            "client_name": "Tusky", "redirect_uris": "\n".join(uris), "scopes": "read write follow push"})
    elif encoding == "json":
        response = await client.post("/api/v1/apps", json={
            "client_name": "Tusky", "redirect_uris": uris, "scopes": "read write follow push"})
    else:  # IceCubes: everything in the query string, empty body
        response = await client.post("/api/v1/apps", params={
            "client_name": "Tusky", "redirect_uris": "\n".join(uris), "scopes": "read write follow push"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["name"] == "Tusky"
    assert body["redirect_uris"] == uris
    assert body["redirect_uri"] == "\n".join(uris)
    assert body["scopes"] == ["read", "write", "follow", "push"]
    assert body["client_secret_expires_at"] == 0
    assert body["client_id"] and body["client_secret"] and body["id"]
    assert response.headers["access-control-allow-origin"] == "*"
    async with ctx.database.session() as session:
        stored = (await session.exec(select(OAuthApp))).one()
    assert stored.client_id == body["client_id"] and stored.redirect_uris.splitlines() == uris


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"redirect_uris": CALLBACK}, "name", "ERR_BLANK"),
        ({"client_name": "x"}, "redirect_uri", "ERR_BLANK"),
        ({"client_name": "x", "redirect_uris": "javascript:alert(1)"}, "redirect_uri", "ERR_INVALID"),
        ({"client_name": "x", "redirect_uris": "/relative"}, "redirect_uri", "ERR_INVALID"),
        ({"client_name": "x", "redirect_uris": "https://a.example/cb#frag"}, "redirect_uri", "ERR_INVALID"),
        ({"client_name": "x", "redirect_uris": CALLBACK, "scopes": "read sudo"}, "scopes", "ERR_INVALID"),
        ({"client_name": "x", "redirect_uris": CALLBACK, "website": "ftp://a.example"}, "website", "ERR_INVALID"),
    ],
)
async def test_register_app_with_bad_input_is_422_and_writes_nothing(ctx, client, data, field, code):
    response = await client.post("/api/v1/apps", data=data)
    assert response.status_code == 422
    body = response.json()
    assert body["error"].startswith("Validation failed:")
    assert body["details"][field][0]["error"] == code
    assert await count(ctx, OAuthApp) == 0


async def test_apps_verify_credentials_needs_a_token(client):
    app = await register(client)
    assert (await client.get("/api/v1/apps/verify_credentials")).status_code == 401
    token = (await client.post("/oauth/token", data={
        "grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"],
    })).json()["access_token"]
    response = await client.get("/api/v1/apps/verify_credentials", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["name"] == "Test app"
    assert "client_secret" not in response.json()


# --- the authorization-code flow --------------------------------------------------------------

async def test_authorization_code_flow_with_pkce_through_login_and_consent_pages(ctx, client, probe):
    await add_account(ctx, "ann")
    app = await register(client)
    verifier, challenge = pkce_pair()
    login_page = await client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK,
        "scope": "read+write+follow+push", "state": "s t&ate", "code_challenge": challenge,
        "code_challenge_method": "S256"})
    assert login_page.status_code == 200
    assert "Test app" in login_page.text and 'name="password"' in login_page.text
    consent_page = await sign_in(client, login_page, "ann@example.org")  # email works as login too
    assert consent_page.status_code == 200
    assert "@ann" in consent_page.text and "<code>push</code>" in consent_page.text
    approved = await consent(client, consent_page)
    location = urlsplit(approved.headers["location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "app.example", "/callback")
    query = parse_qs(location.query)
    assert query["state"] == ["s t&ate"]

    response = await exchange(client, app, query["code"][0], verifier)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read write follow push"
    assert isinstance(body["created_at"], int)
    assert response.headers["cache-control"] == "no-store"
    whoami = await probe.get("/needs/write:statuses", headers=bearer(body["access_token"]))
    assert whoami.json() == {"username": "ann", "scopes": ["follow", "push", "read", "write"]}
    async with ctx.database.session() as session:
        stored = (await session.exec(select(OAuthAccessToken))).one()
    assert body["access_token"] not in stored.token_hash  # only a digest is kept


async def test_signed_in_browser_goes_straight_to_consent(ctx, client):
    await add_account(ctx, "ann")
    app = await register(client)
    code_from(await authorize(client, app))
    again = await client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read"})
    assert form_with(again.text, button=APPROVE_BUTTON)
    forced = await client.get("/oauth/authorize/", params={  # toot's trailing slash
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read",
        "force_login": "true"})
    assert form_with(forced.text, "password", LOGIN_BUTTON)


async def test_out_of_band_shows_the_code_on_the_page(ctx, client, probe):
    await add_account(ctx, "ann")
    app = await register(client, redirect_uris=OOB, scopes="read")
    page = await authorize(client, app, redirect_uri=OOB, scope="read")
    assert page.status_code == 200
    code = page.text.split('<code id="authorization_code">')[1].split("</code>")[0]
    response = await exchange(client, app, code, redirect_uri=OOB)
    assert response.status_code == 200, response.text
    token = response.json()["access_token"]
    assert (await probe.get("/needs/read:statuses", headers=bearer(token))).status_code == 200


async def test_redirect_uri_mismatch_is_refused_on_the_page_without_redirect(ctx, client):
    await add_account(ctx, "ann")
    app = await register(client)
    for evil in ("https://evil.example/callback", CALLBACK + "/", CALLBACK + "?x=1"):
        response = await client.get("/oauth/authorize", params={
            "response_type": "code", "client_id": app["client_id"], "redirect_uri": evil, "scope": "read"})
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "redirect URI does not match" in response.text
    unknown = await client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": "nope", "redirect_uri": "https://evil.example/", "scope": "read"})
    assert unknown.status_code == 400 and "location" not in unknown.headers


async def test_redirect_uri_differing_at_token_exchange_is_refused(ctx, client):
    await add_account(ctx, "ann")
    app = await register(client, redirect_uris=[CALLBACK, "https://app.example/other"])
    code = code_from(await authorize(client, app))
    response = await exchange(client, app, code, redirect_uri="https://app.example/other")
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


async def test_wrong_or_missing_pkce_verifier_is_refused(ctx, client):
    await add_account(ctx, "ann")
    app = await register(client)
    verifier, challenge = pkce_pair()
    code = code_from(await authorize(client, app, challenge=challenge))
    wrong = await exchange(client, app, code, pkce_pair()[0])
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant" and "PKCE" in wrong.json()["error_description"]
    missing = await exchange(client, app, code)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_grant"
    assert await count(ctx, OAuthAccessToken) == 0
    assert (await exchange(client, app, code, verifier)).status_code == 200


async def test_plain_pkce_is_refused_back_to_the_client(ctx, client):
    app = await register(client)
    response = await client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read",
        "state": "k", "code_challenge": "a" * 43, "code_challenge_method": "plain"})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_request"] and query["state"] == ["k"]


async def test_code_reused_is_refused(ctx, client):
    await add_account(ctx, "ann")
    app = await register(client)
    code = code_from(await authorize(client, app))
    assert (await exchange(client, app, code)).status_code == 200
    again = await exchange(client, app, code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert await count(ctx, OAuthAccessToken) == 1


async def test_expired_code_or_another_apps_code_is_refused(ctx, client):
    await add_account(ctx, "ann")
    app = await register(client)
    other = await register(client)
    code = code_from(await authorize(client, app))
    stolen = await exchange(client, other, code)
    assert stolen.status_code == 400 and stolen.json()["error"] == "invalid_grant"
    async with ctx.database.transaction() as session:
        await session.execute(update(OAuthAuthorizationCode).values(
            expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    expired = await exchange(client, app, code)
    assert expired.status_code == 400 and "expired" in expired.json()["error_description"]


async def test_scope_escalation_is_refused(ctx, client):
    await add_account(ctx, "ann")
    app = await register(client, scopes="read")
    response = await client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK,
        "scope": "read write", "state": "s1"})
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["error"] == ["invalid_scope"] and query["state"] == ["s1"]
    granular = code_from(await authorize(client, app, scope="read:statuses"))
    token = (await exchange(client, app, granular)).json()
    assert token["scope"] == "read:statuses"
    app_token = await client.post("/oauth/token", data={
        "grant_type": "client_credentials", "scope": "admin:write", "client_id": app["client_id"],
        "client_secret": app["client_secret"]})
    assert app_token.status_code == 400 and app_token.json()["error"] == "invalid_scope"


async def test_denying_consent_redirects_with_access_denied(ctx, client):
    await add_account(ctx, "ann")
    app = await register(client)
    login_page = await client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read",
        "state": "z"})
    denied = await consent(client, await sign_in(client, login_page), DENY_BUTTON)
    query = parse_qs(urlsplit(denied.headers["location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["z"]
    assert await count(ctx, OAuthAuthorizationCode) == 0


async def test_forms_without_a_valid_csrf_token_are_refused(ctx, client):
    await add_account(ctx, "ann")
    app = await register(client)
    login_page = await client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read"})
    form = form_with(login_page.text, "username", LOGIN_BUTTON)
    forged = form.fill(LOGIN_BUTTON, username="ann", password=PASSWORD, csrf_token="forged.token")
    response = await client.post(form.action, data=forged)
    assert response.status_code == 403
    client.cookies.clear()  # a page's token is bound to the browser that got it
    response = await client.post(form.action, data=form.fill(LOGIN_BUTTON, username="ann", password=PASSWORD))
    assert response.status_code == 403
    assert "location" not in response.headers


# --- tokens on routes -------------------------------------------------------------------------

async def test_revoked_token_gets_401(ctx, client, probe):
    await add_account(ctx, "ann")
    app = await register(client)
    token = (await exchange(client, app, code_from(await authorize(client, app)))).json()["access_token"]
    assert (await probe.get("/needs/read", headers=bearer(token))).status_code == 200
    other_app = await register(client)
    wrong_client = await client.post("/oauth/revoke", data={
        "token": token, "client_id": other_app["client_id"], "client_secret": other_app["client_secret"]})
    assert wrong_client.status_code == 200  # RFC 7009: same answer, but another app's token stays valid
    assert (await probe.get("/needs/read", headers=bearer(token))).status_code == 200
    revoked = await client.post("/oauth/revoke", data={
        "token": token, "client_id": app["client_id"], "client_secret": app["client_secret"]})
    assert revoked.status_code == 200 and revoked.json() == {}
    after = await probe.get("/needs/read", headers=bearer(token))
    assert after.status_code == 401 and after.json() == {"error": "The access token is invalid"}
    assert (await probe.get("/maybe", params={"access_token": token})).status_code == 401


async def test_token_lacking_the_scope_gets_403(ctx, client, probe):
    await add_account(ctx, "ann")
    app = await register(client, scopes="read write follow")
    token = (await exchange(client, app, code_from(await authorize(client, app, scope="read follow")))).json()
    headers = bearer(token["access_token"])
    assert (await probe.get("/needs/read:notifications", headers=headers)).status_code == 200
    assert (await probe.get("/needs/write:follows", headers=headers)).status_code == 200  # via `follow`
    refused = await probe.get("/needs/write:statuses", headers=headers)
    assert refused.status_code == 403
    assert refused.json() == {"error": "This action is outside the authorized scopes"}


async def test_token_in_header_query_or_form_and_none_is_anonymous(ctx, client, probe):
    await add_account(ctx, "ann")
    app = await register(client)
    token = (await exchange(client, app, code_from(await authorize(client, app)))).json()["access_token"]
    assert (await probe.get("/maybe")).json() == {"username": None}
    assert (await probe.get("/needs/read")).status_code == 401
    assert (await probe.get("/maybe", params={"access_token": token})).json() == {"username": "ann"}
    by_form = await probe.post("/needs/read", data={"access_token": token})
    assert by_form.json()["username"] == "ann"
    assert (await probe.get("/maybe", headers=bearer("made-up"))).status_code == 401


async def test_app_token_is_refused_where_a_person_is_needed(client, probe):
    app = await register(client)
    token = (await client.post("/oauth/token", json={
        "grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"],
        "scope": "read"})).json()["access_token"]
    refused = await probe.get("/needs/read", headers=bearer(token))
    assert refused.status_code == 401 and "authenticated user" in refused.json()["error"]
    assert (await probe.get("/app", headers=bearer(token))).json() == {"app": "Test app", "user_id": None}


async def test_disabled_account_token_is_refused_with_a_reason(ctx, client, probe):
    account = await add_account(ctx, "ann")
    app = await register(client)
    token = (await exchange(client, app, code_from(await authorize(client, app)))).json()["access_token"]
    async with ctx.database.transaction() as session:
        await session.execute(update(User).where(User.id == account.user.id).values(disabled=True))
    refused = await probe.get("/needs/read", headers=bearer(token))
    assert refused.status_code == 403 and refused.json()["error"] == "Your login is currently disabled"


# --- the token endpoint -----------------------------------------------------------------------

async def test_client_credentials_with_json_body_or_basic_auth(client):
    app = await register(client)
    by_json = await client.post("/oauth/token", json={
        "grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"]})
    assert by_json.status_code == 200
    assert by_json.json()["scope"] == "read" and by_json.json()["token_type"] == "Bearer"
    basic = await client.post("/oauth/token", data={"grant_type": "client_credentials", "scope": "write push"},
                              auth=(app["client_id"], app["client_secret"]))
    assert basic.status_code == 200 and basic.json()["scope"] == "write push"
    as_list = await client.post("/oauth/token", json={
        "grant_type": "client_credentials", "client_id": app["client_id"], "client_secret": app["client_secret"],
        "scope": ["read", "write"]})
    assert as_list.status_code == 200 and as_list.json()["scope"] == "read write"
    wrong = await client.post("/oauth/token", data={"grant_type": "client_credentials"},
                              auth=(app["client_id"], "not-the-secret"))
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


async def test_unknown_grant_type_and_garbage_bodies(client):
    app = await register(client)
    credentials = {"client_id": app["client_id"], "client_secret": app["client_secret"]}
    password = await client.post("/oauth/token", data={"grant_type": "password", **credentials})
    assert password.status_code == 400 and password.json()["error"] == "unsupported_grant_type"
    missing = await client.post("/oauth/token", data=credentials)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    bad_code = await client.post("/oauth/token", data={"grant_type": "authorization_code", "code": "x",
                                                        "redirect_uri": CALLBACK, **credentials})
    assert bad_code.status_code == 400 and bad_code.json()["error"] == "invalid_grant"
    not_json = await client.post("/oauth/token", content=b"{", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400


# --- sign-in protection -----------------------------------------------------------------------

async def test_brute_force_on_one_account_gets_429(ctx, client):
    await add_account(ctx, "ann")
    app = await register(client)
    login_page = await client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read"})
    for _attempt in range(5):
        wrong = await sign_in(client, login_page, password="wrong password")
        assert wrong.status_code == 401 and "Wrong username, email or password" in wrong.text
    limited = await sign_in(client, login_page, password=PASSWORD)  # even the right one, for now
    assert limited.status_code == 429
    assert "Too many failed sign-in attempts" in limited.text
    assert await count(ctx, LoginAttempt) == 5
    # The window passes: the account can sign in again.
    async with ctx.database.transaction() as session:
        await session.execute(update(LoginAttempt).values(created_at=datetime.now(UTC) - timedelta(minutes=6)))
    assert form_with((await sign_in(client, login_page)).text, button=APPROVE_BUTTON)


async def test_brute_force_across_accounts_from_one_address_gets_429(ctx, client):
    await add_account(ctx, "ann")
    app = await register(client)
    login_page = await client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read"})
    for attempt in range(20):
        assert (await sign_in(client, login_page, username=f"guess{attempt}")).status_code == 401
    limited = await sign_in(client, login_page, username="ann")
    assert limited.status_code == 429


async def test_account_awaiting_approval_cannot_sign_in_and_is_told_why(ctx, client):
    account = await add_account(ctx, "ann")
    async with ctx.database.transaction() as session:
        await session.execute(update(User).where(User.id == account.user.id).values(approved=False))
    app = await register(client)
    login_page = await client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read"})
    refused = await sign_in(client, login_page)
    assert refused.status_code == 403
    assert "waiting for a moderator" in refused.text


async def test_authorization_server_metadata(client):
    response = await client.get("/.well-known/oauth-authorization-server")
    body = response.json()
    assert body["issuer"] == "https://mayo.test/"
    assert body["authorization_endpoint"] == "https://mayo.test/oauth/authorize"
    assert body["token_endpoint"] == "https://mayo.test/oauth/token"
    assert body["revocation_endpoint"] == "https://mayo.test/oauth/revoke"
    assert body["app_registration_endpoint"] == "https://mayo.test/api/v1/apps"
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert set(body["grant_types_supported"]) == {"authorization_code", "client_credentials"}
    assert {"read", "write", "follow", "push", "admin:read:reports"} <= set(body["scopes_supported"])
    assert "userinfo_endpoint" not in body  # Mastodon.py's oauth_userinfo() cannot take http:// URLs
