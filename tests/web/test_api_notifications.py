"""Notifications through the client API, in one app on a real database: local follows,
favourites, boosts and mentions notify (they never federate, so the outbox writes them), and
the list filters, pages, dismisses and clears as Mastodon's does."""

from __future__ import annotations

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.tables import Block, Mute, Notification
from tests.conftest import add_account
from tests.support.api import bearer, post

EVERYTHING = ("read", "write", "follow")
NOT_FOUND = {"error": "Record not found"}


@pytest.fixture
async def people(ctx):
    """ann is a member (locked); dr_bo is staff (unlocked); bob and eve are members."""
    accounts = {name: await add_account(ctx, name) for name in ("ann", "bob", "eve")}
    accounts["dr_bo"] = await add_account(ctx, "dr_bo", role="staff")
    return accounts


@pytest.fixture
async def tokens(ctx, people):
    return {name: await bearer(ctx, account, EVERYTHING) for name, account in people.items()}


async def listed(client, headers, **params) -> list[tuple[str, str, str | None]]:
    """(type, sender's acct, status id) for each notification listed, newest first."""
    response = await client.get("/api/v1/notifications", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [(n["type"], n["account"]["acct"], n["status"]["id"] if "status" in n else None)
            for n in response.json()]


async def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


async def stored(ctx) -> int:
    async with ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(Notification))).one()


async def test_a_local_follow_favourite_boost_and_mention_each_notify(ctx, client, people, tokens):
    bob = tokens["bob"]
    await ok(await client.post(f"/api/v1/accounts/{people['dr_bo'].actor.id}/follow", headers=bob))
    await ok(await client.post(f"/api/v1/accounts/{people['ann'].actor.id}/follow", headers=bob))
    status = await post(ctx, people["ann"].actor, "Support group moved to Thursday")
    await ok(await client.post(f"/api/v1/statuses/{status.id}/favourite", headers=bob))
    await ok(await client.post(f"/api/v1/statuses/{status.id}/reblog", headers=bob))
    mention = await ok(await client.post("/api/v1/statuses", headers=bob,
                                         data={"status": "@ann see you there", "visibility": "public"}))
    # Doing it all again adds nothing.
    await ok(await client.post(f"/api/v1/statuses/{status.id}/favourite", headers=bob))
    await ok(await client.post(f"/api/v1/statuses/{status.id}/reblog", headers=bob))
    await ok(await client.post(f"/api/v1/accounts/{people['ann'].actor.id}/follow", headers=bob))

    assert await listed(client, tokens["ann"]) == [
        ("mention", "bob", mention["id"]), ("reblog", "bob", str(status.id)),
        ("favourite", "bob", str(status.id)), ("follow_request", "bob", None)]
    assert await listed(client, tokens["dr_bo"]) == [("follow", "bob", None)]
    assert await listed(client, bob) == [] and await listed(client, tokens["eve"]) == []
    # The entity, as the iOS and Android apps need it.
    [entity] = (await client.get("/api/v1/notifications", headers=tokens["dr_bo"])).json()
    assert set(entity) == {"id", "type", "created_at", "group_key", "account"}
    assert entity["created_at"].endswith("Z") and entity["group_key"] == f"ungrouped-{entity['id']}"
    assert entity["account"]["id"] == str(people["bob"].actor.id)
    shown = await ok(await client.get(f"/api/v1/notifications/{entity['id']}", headers=tokens["dr_bo"]))
    assert shown == entity


async def test_acting_on_ones_own_post_notifies_nobody(ctx, client, people, tokens):
    status = await post(ctx, people["dr_bo"].actor, "Flu shots are open")
    await ok(await client.post(f"/api/v1/statuses/{status.id}/favourite", headers=tokens["dr_bo"]))
    await ok(await client.post(f"/api/v1/statuses/{status.id}/reblog", headers=tokens["dr_bo"]))
    await ok(await client.post("/api/v1/statuses", headers=tokens["dr_bo"], data={"status": "@dr_bo me"}))
    assert await stored(ctx) == 0


async def test_undoing_takes_the_notification_back(ctx, client, people, tokens):
    bob, ann_id = tokens["bob"], people["ann"].actor.id
    status = await post(ctx, people["ann"].actor, "Ward 4 coffee morning")
    await ok(await client.post(f"/api/v1/statuses/{status.id}/favourite", headers=bob))
    await ok(await client.post(f"/api/v1/statuses/{status.id}/reblog", headers=bob))
    await ok(await client.post(f"/api/v1/accounts/{ann_id}/follow", headers=bob))
    assert len(await listed(client, tokens["ann"])) == 3
    await ok(await client.post(f"/api/v1/statuses/{status.id}/unfavourite", headers=bob))
    await ok(await client.post(f"/api/v1/statuses/{status.id}/unreblog", headers=bob))
    await ok(await client.post(f"/api/v1/accounts/{ann_id}/unfollow", headers=bob))
    assert await listed(client, tokens["ann"]) == []
    assert await stored(ctx) == 0
    # Done again, told again.
    await ok(await client.post(f"/api/v1/statuses/{status.id}/favourite", headers=bob))
    assert await listed(client, tokens["ann"]) == [("favourite", "bob", str(status.id))]


async def test_a_follow_request_leaves_the_list_once_answered(ctx, client, people, tokens):
    for name in ("bob", "eve"):
        await ok(await client.post(f"/api/v1/accounts/{people['ann'].actor.id}/follow", headers=tokens[name]))
    assert await listed(client, tokens["ann"]) == [("follow_request", "eve", None), ("follow_request", "bob", None)]
    await ok(await client.post(f"/api/v1/follow_requests/{people['bob'].actor.id}/authorize",
                               headers=tokens["ann"]))
    await ok(await client.post(f"/api/v1/follow_requests/{people['eve'].actor.id}/reject", headers=tokens["ann"]))
    assert await listed(client, tokens["ann"]) == []


async def test_an_edit_tells_the_local_people_who_boosted_it(ctx, client, people, tokens):
    status = await post(ctx, people["dr_bo"].actor, "Clinic opens at 9")
    await ok(await client.post(f"/api/v1/statuses/{status.id}/reblog", headers=tokens["bob"]))
    await ok(await client.put(f"/api/v1/statuses/{status.id}", headers=tokens["dr_bo"],
                              data={"status": "Clinic opens at 10"}))
    assert await listed(client, tokens["bob"]) == [("update", "dr_bo", str(status.id))]
    assert await listed(client, tokens["eve"]) == []
    # An edit that names someone new tells them, and only them.
    await ok(await client.put(f"/api/v1/statuses/{status.id}", headers=tokens["dr_bo"],
                              data={"status": "Clinic opens at 10, ask @eve"}))
    assert await listed(client, tokens["eve"]) == [("mention", "dr_bo", str(status.id))]
    assert [kind for kind, _, _ in await listed(client, tokens["bob"])] == ["update", "update"]


async def test_type_and_account_filters(ctx, client, people, tokens):
    status = await post(ctx, people["ann"].actor, "Results are in")
    await ok(await client.post(f"/api/v1/statuses/{status.id}/favourite", headers=tokens["bob"]))
    await ok(await client.post(f"/api/v1/statuses/{status.id}/favourite", headers=tokens["eve"]))
    await ok(await client.post("/api/v1/statuses", headers=tokens["bob"], data={"status": "@ann congrats"}))
    ann = tokens["ann"]
    assert [k for k, _, _ in await listed(client, ann, **{"types[]": "mention"})] == ["mention"]
    # Ivory's form: several `types[]`; Mastodon.py's exclusion list.
    both = await client.get("/api/v1/notifications?types[]=mention&types[]=favourite", headers=ann)
    assert len(both.json()) == 3
    assert [a for _, a, _ in await listed(client, ann, **{"exclude_types[]": "mention"})] == ["eve", "bob"]
    assert await listed(client, ann, **{"types[]": "admin.sign_up"}) == []
    assert [k for k, _, _ in await listed(client, ann, account_id=str(people["bob"].actor.id))] == [
        "mention", "favourite"]
    assert await listed(client, ann, account_id="nobody") == []


async def test_paging_with_link_headers(ctx, client, people, tokens):
    statuses = [await post(ctx, people["ann"].actor, f"post {n}") for n in range(5)]
    for status in statuses:
        await ok(await client.post(f"/api/v1/statuses/{status.id}/favourite", headers=tokens["bob"]))
    ann = tokens["ann"]
    everything = (await client.get("/api/v1/notifications", headers=ann)).json()
    ids = [n["id"] for n in everything]
    assert [n["status"]["id"] for n in everything] == [str(s.id) for s in reversed(statuses)]
    first = await client.get("/api/v1/notifications/", headers=ann, params={"limit": 2, "types[]": "favourite"})
    assert [n["id"] for n in first.json()] == ids[:2]
    links = first.headers["link"]
    assert f"max_id={ids[1]}" in links and f"min_id={ids[0]}" in links and "types%5B%5D=favourite" in links
    assert links.startswith("<http")
    second = await client.get("/api/v1/notifications", headers=ann, params={"limit": 2, "max_id": ids[1]})
    assert [n["id"] for n in second.json()] == ids[2:4]
    newer = await client.get("/api/v1/notifications", headers=ann, params={"limit": 2, "min_id": ids[4]})
    assert [n["id"] for n in newer.json()] == ids[2:4]
    since = await client.get("/api/v1/notifications", headers=ann, params={"limit": 2, "since_id": ids[4]})
    assert [n["id"] for n in since.json()] == ids[:2]
    empty = await client.get("/api/v1/notifications", headers=ann, params={"max_id": ids[4]})
    assert empty.json() == [] and "link" not in empty.headers


async def test_dismiss_and_clear(ctx, client, people, tokens):
    for name in ("bob", "eve"):
        await ok(await client.post(f"/api/v1/accounts/{people['dr_bo'].actor.id}/follow", headers=tokens[name]))
    await ok(await client.post(f"/api/v1/accounts/{people['ann'].actor.id}/follow", headers=tokens["bob"]))
    bo = tokens["dr_bo"]
    [newest, oldest] = (await client.get("/api/v1/notifications", headers=bo)).json()
    assert await ok(await client.post(f"/api/v1/notifications/{oldest['id']}/dismiss", headers=bo)) == {}
    assert await listed(client, bo) == [("follow", "eve", None)]
    assert (await client.get(f"/api/v1/notifications/{oldest['id']}", headers=bo)).status_code == 404
    assert (await client.post(f"/api/v1/notifications/{oldest['id']}/dismiss", headers=bo)).status_code == 404
    response = await client.post("/api/v1/notifications/clear/", headers=bo)
    assert response.status_code == 200 and response.json() == {}
    assert response.headers["content-type"].startswith("application/json")
    assert await listed(client, bo) == []
    # ann's notification was not touched by dr_bo clearing his.
    assert await listed(client, tokens["ann"]) == [("follow_request", "bob", None)]


async def test_someone_elses_notification_is_not_found(ctx, client, people, tokens):
    await ok(await client.post(f"/api/v1/accounts/{people['dr_bo'].actor.id}/follow", headers=tokens["bob"]))
    [theirs] = (await client.get("/api/v1/notifications", headers=tokens["dr_bo"])).json()
    eve = tokens["eve"]
    for response in (await client.get(f"/api/v1/notifications/{theirs['id']}", headers=eve),
                     await client.post(f"/api/v1/notifications/{theirs['id']}/dismiss", headers=eve),
                     await client.get("/api/v1/notifications/abc", headers=eve),
                     await client.get("/api/v1/notifications/99999999999999999999", headers=eve)):
        assert response.status_code == 404 and response.json() == NOT_FOUND
    assert await stored(ctx) == 1


async def test_tokens_and_scopes(ctx, client, people):
    assert (await client.get("/api/v1/notifications")).status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert (await client.get("/api/v1/notifications", headers=bad)).status_code == 401
    statuses_only = await bearer(ctx, people["ann"], ("read:statuses", "write:statuses"))
    for response in (await client.get("/api/v1/notifications", headers=statuses_only),
                     await client.post("/api/v1/notifications/clear", headers=statuses_only)):
        assert response.status_code == 403, response.text
    reader = await bearer(ctx, people["ann"], ("read:notifications",))
    assert (await client.get("/api/v1/notifications", headers=reader)).status_code == 200
    assert (await client.post("/api/v1/notifications/clear", headers=reader)).status_code == 403
    writer = await bearer(ctx, people["ann"], ("write:notifications",))
    assert (await client.post("/api/v1/notifications/clear", headers=writer)).status_code == 200
    assert (await client.get("/api/v1/notifications", headers=writer)).status_code == 403


async def test_blocks_mutes_and_unseeable_statuses_keep_notifications_out(ctx, client, people, tokens):
    ann, bob, eve = people["ann"].actor, people["bob"].actor, people["eve"].actor
    async with ctx.database.transaction() as session:
        session.add(Mute(actor_id=ann.id, target_id=eve.id, notifications=True))
    await ok(await client.post("/api/v1/statuses", headers=tokens["eve"], data={"status": "@ann hi"}))
    assert await stored(ctx) == 0  # muted with notifications: never written
    mention = await ok(await client.post("/api/v1/statuses", headers=tokens["bob"],
                                         data={"status": "@ann hello", "visibility": "public"}))
    dm = await ok(await client.post("/api/v1/statuses", headers=tokens["bob"],
                                    data={"status": "@ann just you", "visibility": "direct"}))
    assert [s for _, _, s in await listed(client, tokens["ann"])] == [dm["id"], mention["id"]]
    # Deleted: its notification is no longer listed.
    await ok(await client.delete(f"/api/v1/statuses/{dm['id']}", headers=tokens["bob"]))
    assert [s for _, _, s in await listed(client, tokens["ann"])] == [mention["id"]]
    # bob blocks ann: she may no longer see his post, so its notification goes.
    async with ctx.database.transaction() as session:
        session.add(Block(actor_id=bob.id, target_id=ann.id))
    assert await listed(client, tokens["ann"]) == []
    # A block by the recipient hides what the blocked person did before it.
    await ok(await client.post(f"/api/v1/accounts/{people['dr_bo'].actor.id}/follow", headers=tokens["eve"]))
    assert await listed(client, tokens["dr_bo"]) == [("follow", "eve", None)]
    await ok(await client.post(f"/api/v1/accounts/{eve.id}/block", headers=tokens["dr_bo"]))
    assert await listed(client, tokens["dr_bo"]) == []


async def test_a_follow_notification_lasts_as_long_as_the_follow(ctx, client, people, tokens):
    bo_id = people["dr_bo"].actor.id
    await ok(await client.post(f"/api/v1/accounts/{bo_id}/follow", headers=tokens["bob"]))
    assert await listed(client, tokens["dr_bo"]) == [("follow", "bob", None)]
    # bob blocks dr_bo, which severs the follow: dr_bo no longer has a follower to hear about.
    await ok(await client.post(f"/api/v1/accounts/{bo_id}/block", headers=tokens["bob"]))
    assert await listed(client, tokens["dr_bo"]) == []
