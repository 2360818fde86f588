"""Three real `rounds serve` processes (mayo, inova, radboud) federating over loopback HTTP.

Local actions are taken the way the client API will take them (through `outbox`, against
the instance's own database, while its server runs); everything between instances is
real signed HTTP handled by the servers' own workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import httpx
import pytest
from sqlmodel import select

from actors.accounts import find_local_account
from storage.tables import Follow, Status
from tests.support.processes import Instance, running_instances
from web.context import AppContext
from web.services import build_federation
from web.settings import Settings

pytestmark = pytest.mark.e2e
WAIT = 20.0


@pytest.fixture
def three(new_database_url, tmp_path):
    with running_instances(["mayo", "inova", "radboud"], new_database_url, tmp_path,
                           ROUNDS_ALLOW_PRIVATE_ADDRESSES="true") as started:
        yield started


@contextlib.asynccontextmanager
async def acting_as(instance: Instance, username: str):
    """The instance's database, federation services and local actor, as a client API request has them.

    Remote actors are resolved before a transaction opens: resolving stores them in a
    transaction of its own.
    """
    ctx = AppContext.build(Settings.from_env(instance.env))
    federation = await build_federation(ctx)
    try:
        async with ctx.database.session() as session:
            me = (await find_local_account(session, username)).actor
        yield ctx.database, federation, me
    finally:
        await federation.client.aclose()
        await ctx.database.dispose()


async def eventually(check, what: str):
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def status_on(instance: Instance, uri: str) -> Status | None:
    ctx = AppContext.build(Settings.from_env(instance.env))
    try:
        async with ctx.database.session() as session:
            return (await session.exec(select(Status).where(Status.uri == uri))).first()
    finally:
        await ctx.database.dispose()


async def follow_states(instance: Instance) -> list[str]:
    ctx = AppContext.build(Settings.from_env(instance.env))
    try:
        async with ctx.database.session() as session:
            return list((await session.exec(select(Follow.state))).all())
    finally:
        await ctx.database.dispose()


async def post(instance: Instance, username: str, text: str, visibility: str) -> str:
    async with acting_as(instance, username) as (database, federation, me), database.transaction() as session:
        status = await federation.outbox.post_status(session, me, content_html=f"<p>{text}</p>",
                                                     visibility=visibility)
        return status.uri


async def test_follows_and_posts_at_every_visibility_between_three_real_servers(three):
    mayo, inova, radboud = three
    assert mayo.cli("accounts", "create", "ann", "--email", "ann@mayo.test").returncode == 0
    assert inova.cli("accounts", "create", "dr_bo", "--email", "bo@inova.test", "--role", "staff").returncode == 0
    assert inova.cli("accounts", "create", "cy", "--email", "cy@inova.test").returncode == 0
    assert radboud.cli("accounts", "create", "dee", "--email", "dee@radboud.test").returncode == 0
    bo_uri, cy_uri = f"{inova.base_url}/users/dr_bo", f"{inova.base_url}/users/cy"

    # ann (mayo) follows staff dr_bo (accepted at once) and patient cy (locked: pending).
    async with acting_as(mayo, "ann") as (database, federation, ann):
        bo, cy = await federation.actors.resolve(bo_uri), await federation.actors.resolve(cy_uri)
        async with database.transaction() as session:
            await federation.outbox.send_follow(session, ann, bo)
            await federation.outbox.send_follow(session, ann, cy)

    async def accepted_and_pending():
        states = sorted(await follow_states(mayo))
        return states == ["accepted", "pending"]

    await eventually(accepted_and_pending, "dr_bo's Accept to reach mayo")
    async with acting_as(inova, "cy") as (database, federation, cy), database.transaction() as session:
        request = (await session.exec(select(Follow).where(Follow.followee_id == cy.id))).one()
        assert request.state == "pending"
        follower = await federation.actors.find(session, f"{mayo.base_url}/users/ann")
        await federation.outbox.accept_follow(session, request, cy, follower)

    async def both_accepted():
        return await follow_states(mayo) == ["accepted", "accepted"]

    await eventually(both_accepted, "cy's approval to reach mayo")

    uris = {visibility: await post(inova, "dr_bo", f"{visibility} note", visibility)
            for visibility in ("public", "unlisted", "private", "local")}
    private_from_cy = await post(inova, "cy", "only for my followers", "private")
    for uri in (uris["public"], uris["unlisted"], uris["private"], private_from_cy):
        await eventually(lambda uri=uri: status_on(mayo, uri), f"{uri} on mayo")
    assert (await status_on(mayo, private_from_cy)).visibility == "private"
    assert await status_on(mayo, uris["local"]) is None
    for uri in uris.values():
        assert await status_on(radboud, uri) is None

    # The followers-only post is served to mayo's signed fetch, never to radboud or an unsigned GET.
    async with httpx.AsyncClient() as client:
        unsigned = await client.get(uris["private"], headers={"Accept": "application/activity+json"})
        assert unsigned.status_code == 404
    async with acting_as(radboud, "dee") as (_database, federation, _dee):
        with pytest.raises(Exception, match="404"):
            await federation.fetcher.fetch_activity(uris["private"])
    async with acting_as(mayo, "ann") as (_database, federation, _ann):
        assert (await federation.fetcher.fetch_activity(uris["private"]))["id"] == uris["private"]
