"""The client API's rate limit: Mastodon's headers on every counted response, 429 with
Retry-After past the limit (the endpoint never reached), per token or per address, windows
that turn with the clock, and paths that are not counted."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func
from sqlmodel import select

from actors.accounts import ensure_instance_actor
from storage.tables import Status
from tests.conftest import add_account, make_settings
from tests.support.api import bearer
from web.app import create_app
from web.ratelimit import WINDOW, RateLimit

START = 1_800_000_000.0  # a window boundary: 1_800_000_000 is a multiple of 300


@pytest.fixture
async def unlimited_app(database_url, database):
    """The app with its own limit off, so the test's RateLimit (on a clock it moves) is the only one."""
    application = create_app(make_settings(database_url, api_rate_limit=0), database=database)
    ctx = application.state.ctx
    async with ctx.database.transaction() as session:
        await ensure_instance_actor(session, ctx.keyring, ctx.urls)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def clock():
    return [START + 10]


@pytest.fixture
async def limited(unlimited_app, clock):
    wrapped = RateLimit(unlimited_app, limit=3, clock=lambda: clock[0])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=wrapped), base_url="https://mayo.test") as client:
        yield client


async def test_counted_responses_carry_mastodons_headers(limited):
    response = await limited.get("/api/v1/instance")
    assert response.status_code == 200
    assert response.headers["X-RateLimit-Limit"] == "3"
    assert response.headers["X-RateLimit-Remaining"] == "2"
    reset = datetime.strptime(response.headers["X-RateLimit-Reset"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    assert reset.timestamp() == START + WINDOW
    assert (await limited.get("/api/v1/instance")).headers["X-RateLimit-Remaining"] == "1"


async def test_over_the_limit_is_refused_before_the_endpoint_runs(limited, unlimited_app):
    ctx = unlimited_app.state.ctx
    token = await bearer(ctx, await add_account(ctx, "ann", role="staff"), ("read", "write"))
    for _ in range(3):
        assert (await limited.get("/api/v1/accounts/verify_credentials", headers=token)).status_code == 200
    refused = await limited.post("/api/v1/statuses", headers=token, json={"status": "one too many"})
    assert refused.status_code == 429
    assert refused.json() == {"error": "Too many requests"}
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert refused.headers["Retry-After"] == str(WINDOW - 10)
    async with ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Status))).one() == 0


async def test_each_token_and_each_address_has_its_own_count(limited, unlimited_app):
    ctx = unlimited_app.state.ctx
    ann = await bearer(ctx, await add_account(ctx, "ann"))
    bob = await bearer(ctx, await add_account(ctx, "bob"))
    for _ in range(3):
        await limited.get("/api/v1/accounts/verify_credentials", headers=ann)
    assert (await limited.get("/api/v1/accounts/verify_credentials", headers=ann)).status_code == 429
    assert (await limited.get("/api/v1/accounts/verify_credentials", headers=bob)).status_code == 200
    assert (await limited.get("/api/v1/instance")).status_code == 200  # the address, without a token


async def test_the_count_starts_again_when_the_window_turns(limited, clock):
    for _ in range(3):
        await limited.get("/api/v1/instance")
    assert (await limited.get("/api/v1/instance")).status_code == 429
    clock[0] = START + WINDOW + 1
    again = await limited.get("/api/v1/instance")
    assert again.status_code == 200 and again.headers["X-RateLimit-Remaining"] == "2"


async def test_pages_discovery_preflight_and_streaming_are_not_counted(limited):
    for path in ("/.well-known/nodeinfo", "/nodeinfo/2.0", "/api/v1/streaming/health"):
        for _ in range(4):
            response = await limited.get(path)
            assert response.status_code != 429, path
            assert "X-RateLimit-Limit" not in response.headers
    preflight = await limited.options("/api/v1/instance", headers={
        "Origin": "https://elk.zone", "Access-Control-Request-Method": "GET"})
    assert "X-RateLimit-Limit" not in preflight.headers
    assert (await limited.get("/api/v1/instance")).headers["X-RateLimit-Remaining"] == "2"


async def test_the_instance_counts_by_default_and_zero_turns_it_off(client, unlimited_app):
    assert (await client.get("/api/v1/instance")).headers["X-RateLimit-Limit"] == "300"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=unlimited_app),
                                 base_url="https://mayo.test") as off:
        assert "X-RateLimit-Limit" not in (await off.get("/api/v1/instance")).headers
