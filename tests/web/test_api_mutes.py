"""Muting through the API as a client does it: the mute, the Relationship it answers, the
timelines it quiets and the lists of mutes and blocks, on both engines."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.tables import Block, Delivery, Mute, utcnow
from tests.conftest import add_account, add_remote_actor
from tests.support.api import bearer, boost, follow, post

MUTING = ("read", "write:mutes", "write:blocks")


# The app without its workers, so nothing is delivered behind the test's back.
pytestmark = pytest.mark.without_workers


@pytest.fixture
async def people(ctx):
    """bob follows ann and eve; ann and eve post in public."""
    accounts = {name: await add_account(ctx, name) for name in ("ann", "bob", "eve")}
    await follow(ctx, accounts["bob"].actor, accounts["ann"].actor)
    await follow(ctx, accounts["bob"].actor, accounts["eve"].actor)
    return accounts


async def count(ctx, table) -> int:
    async with ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def home_texts(client, headers) -> list[str]:
    response = await client.get("/api/v1/timelines/home", headers=headers)
    assert response.status_code == 200, response.text
    return [entity["content"] or entity["reblog"]["content"] for entity in response.json()]


async def expire_mutes(ctx) -> None:
    """Time passes: every mute with a duration is now past its end."""
    async with ctx.database.transaction() as session:
        for row in (await session.exec(select(Mute).where(Mute.expires_at.is_not(None)))).all():
            row.expires_at = utcnow() - timedelta(seconds=1)
            session.add(row)


async def test_mute_hides_posts_and_boosts_from_home_until_unmute(ctx, client, people):
    ann, eve = people["ann"].actor, people["eve"].actor
    await post(ctx, ann, "ann speaks")
    await post(ctx, eve, "eve speaks")
    await boost(ctx, eve, await post(ctx, ann, "ann again"), ann)
    headers = await bearer(ctx, people["bob"], MUTING)
    assert sorted(await home_texts(client, headers)) == ["<p>ann again</p>", "<p>ann again</p>",
                                                           "<p>ann speaks</p>", "<p>eve speaks</p>"]
    muted = await client.post(f"/api/v1/accounts/{ann.id}/mute", headers=headers)
    assert muted.status_code == 200, muted.text
    assert muted.json()["muting"] is True and muted.json()["muting_notifications"] is True
    # eve's boost of ann's post goes too: it is ann's post.
    assert await home_texts(client, headers) == ["<p>eve speaks</p>"]
    unmuted = await client.post(f"/api/v1/accounts/{ann.id}/unmute", headers=headers)
    assert unmuted.status_code == 200 and unmuted.json()["muting"] is False
    assert len(await home_texts(client, headers)) == 4
    assert await count(ctx, Mute) == 0


async def test_mute_with_a_duration_lapses_by_itself(ctx, client, people):
    ann = people["ann"].actor
    await post(ctx, ann, "ann speaks")
    headers = await bearer(ctx, people["bob"], MUTING)
    muted = await client.post(f"/api/v1/accounts/{ann.id}/mute", headers=headers,
                              data={"duration": "3600", "notifications": "0"})
    assert muted.status_code == 200, muted.text
    assert muted.json()["muting"] is True and muted.json()["muting_notifications"] is False
    [listed] = (await client.get("/api/v1/mutes", headers=headers)).json()
    assert listed["id"] == str(ann.id) and listed["mute_expires_at"] is not None
    assert await home_texts(client, headers) == []
    await expire_mutes(ctx)
    assert await home_texts(client, headers) == ["<p>ann speaks</p>"]
    relationship = (await client.get("/api/v1/accounts/relationships", params={"id[]": ann.id},
                                     headers=headers)).json()
    assert relationship[0]["muting"] is False
    assert (await client.get("/api/v1/mutes", headers=headers)).json() == []


async def test_muted_author_leaves_public_and_tag_timelines_and_is_flagged_on_the_status(ctx, client, people):
    ann, eve = people["ann"].actor, people["eve"].actor
    mine = await post(ctx, ann, "#tea time", hashtags=("tea",))
    await post(ctx, eve, "#tea for two", hashtags=("tea",))
    headers = await bearer(ctx, people["bob"], MUTING)
    await client.post(f"/api/v1/accounts/{ann.id}/mute", headers=headers, json={"notifications": False})
    for path in ("/api/v1/timelines/public", "/api/v1/timelines/tag/tea"):
        shown = (await client.get(path, headers=headers)).json()
        assert [entity["account"]["username"] for entity in shown] == ["eve"], path
        everyone = (await client.get(path)).json()  # an anonymous reader mutes nobody
        assert [entity["account"]["username"] for entity in everyone] == ["eve", "ann"], path
    # Still reachable by id, flagged as muted.
    direct = (await client.get(f"/api/v1/statuses/{mine.id}", headers=headers)).json()
    assert direct["muted"] is True
    assert (await client.get(f"/api/v1/statuses/{mine.id}")).json()["muted"] is False


async def test_muting_again_changes_the_existing_mute(ctx, client, people):
    ann = people["ann"].actor
    headers = await bearer(ctx, people["bob"], MUTING)
    await client.post(f"/api/v1/accounts/{ann.id}/mute", headers=headers, data={"duration": "60"})
    again = await client.post(f"/api/v1/accounts/{ann.id}/mute", headers=headers, data={"notifications": "false"})
    assert again.status_code == 200
    assert again.json()["muting"] is True and again.json()["muting_notifications"] is False
    async with ctx.database.session() as session:
        [row] = (await session.exec(select(Mute))).all()
    assert row.expires_at is None and row.notifications is False


async def test_mutes_list_pages_newest_first_with_link_headers(ctx, client, people):
    headers = await bearer(ctx, people["bob"], MUTING)
    remote = await add_remote_actor(ctx, "rae")
    for target in (people["ann"].actor, people["eve"].actor, remote):
        assert (await client.post(f"/api/v1/accounts/{target.id}/mute", headers=headers)).status_code == 200
    first = await client.get("/api/v1/mutes", params={"limit": 2}, headers=headers)
    assert [entity["username"] for entity in first.json()] == ["rae", "eve"]
    assert first.json()[0]["acct"] == "rae@inova.test" and first.json()[0]["mute_expires_at"] is None
    next_url = first.headers["link"].split(">")[0].lstrip("<")
    second = await client.get(next_url, headers=headers)
    assert [entity["username"] for entity in second.json()] == ["ann"]
    assert (await count(ctx, Delivery)) == 0  # a mute is never sent anywhere


async def test_blocks_list_shows_whom_the_viewer_blocks(ctx, client, people):
    headers = await bearer(ctx, people["bob"], MUTING)
    await client.post(f"/api/v1/accounts/{people['eve'].actor.id}/block", headers=headers)
    await client.post(f"/api/v1/accounts/{people['ann'].actor.id}/block", headers=headers)
    listed = await client.get("/api/v1/blocks", headers=headers)
    assert listed.status_code == 200
    assert [entity["username"] for entity in listed.json()] == ["ann", "eve"]
    others = await client.get("/api/v1/blocks", headers=await bearer(ctx, people["ann"], MUTING))
    assert others.json() == []


@pytest.mark.parametrize(("method", "path", "scope"), [
    ("POST", "/api/v1/accounts/{id}/mute", "write:mutes"),
    ("POST", "/api/v1/accounts/{id}/unmute", "write:mutes"),
    ("GET", "/api/v1/mutes", "read:mutes"),
    ("GET", "/api/v1/blocks", "read:blocks"),
])
async def test_mute_routes_want_a_token_with_their_scope(ctx, client, people, method, path, scope):
    target = path.format(id=people["ann"].actor.id)
    assert (await client.request(method, target)).status_code == 401
    wrong = await bearer(ctx, people["bob"], ("read:statuses", "write:statuses"))
    refused = await client.request(method, target, headers=wrong)
    assert refused.status_code == 403
    assert refused.json() == {"error": "This action is outside the authorized scopes"}
    allowed = await client.request(method, target, headers=await bearer(ctx, people["bob"], (scope,)))
    assert allowed.status_code == 200, allowed.text
    assert await count(ctx, Mute) == (1 if path.endswith("/mute") else 0)


async def test_muting_oneself_an_unknown_account_or_a_bad_duration_writes_nothing(ctx, client, people):
    headers = await bearer(ctx, people["bob"], MUTING)
    me = await client.post(f"/api/v1/accounts/{people['bob'].actor.id}/mute", headers=headers)
    assert me.status_code == 422
    for unknown in ("999999", "abc"):
        assert (await client.post(f"/api/v1/accounts/{unknown}/mute", headers=headers)).status_code == 404
    for duration in ("soon", "-5", "1.5"):
        bad = await client.post(f"/api/v1/accounts/{people['ann'].actor.id}/mute", headers=headers,
                                data={"duration": duration})
        assert bad.status_code == 422, duration
        assert bad.json()["error"].startswith("Validation failed: Duration")
    assert await count(ctx, Mute) == 0
    assert await count(ctx, Block) == 0
