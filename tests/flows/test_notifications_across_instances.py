"""Notifications for things done on another instance: a follow, like, boost, mention, reply,
edit or delete delivered over signed HTTP notifies exactly as a local action does, once,
however often the activity arrives, and an Undo takes it back. Checked through the
client API of the receiving instance, as an app would see it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.ids import new_id
from storage.tables import Delivery, Notification
from tests.support.actions import follow, post, signed_post, status_on
from tests.support.api import bearer
from tests.support.network import federation_of

MAYO, INOVA = "mayo.test", "inova.test"
EVERYTHING = ("read", "write", "follow")


@pytest.fixture
async def network(new_database_url):
    async with federation_of([MAYO, INOVA], new_database_url) as (nodes, drain):
        yield nodes, drain


async def listed(node, headers) -> list[tuple[str, str, str | None]]:
    """(type, sender's acct, status uri) for each notification the person is shown, newest first."""
    response = await node.client.get("/api/v1/notifications", headers=headers)
    assert response.status_code == 200, response.text
    return [(n["type"], n["account"]["acct"], n["status"]["uri"] if "status" in n else None)
            for n in response.json()]


async def stored(node) -> int:
    async with node.ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(Notification))).one()


async def redeliver(sender, username: str, *, fresh_ids: bool) -> int:
    """POST again, signed, every activity `sender` has delivered: as it was (the receiver
    knows the id), or under a new id (as servers re-send follows and likes)."""
    async with sender.ctx.database.session() as session:
        deliveries = (await session.exec(select(Delivery).where(Delivery.state == "delivered")
                                         .order_by(Delivery.id))).all()
    for delivery in deliveries:
        document = json.loads(delivery.body)
        if fresh_ids:
            document["id"] = f"{document['id']}-again-{new_id()}"
        status = await signed_post(sender, username, delivery.inbox_uri, json.dumps(document).encode())
        assert status == 202, (status, document["type"])
    return len(deliveries)


async def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


async def test_remote_follow_like_boost_reply_and_mention_notify_once_each(network):
    (mayo, inova), drain = network
    al = await mayo.account("dr_al", role="staff")
    bo = await inova.account("dr_bo", role="staff")
    await follow(inova, "dr_bo", al.actor.uri)
    await drain()
    original = await post(mayo, "dr_al", "Flu clinic on Monday", "public")
    await drain()
    there = await status_on(inova, original.uri)
    assert there is not None
    bo_token = await bearer(inova.ctx, bo, EVERYTHING)
    await ok(await inova.client.post(f"/api/v1/statuses/{there.id}/favourite", headers=bo_token))
    await ok(await inova.client.post(f"/api/v1/statuses/{there.id}/reblog", headers=bo_token))
    reply = await post(inova, "dr_bo", "Will there be walk-ins?", "public", reply_to=original.uri)
    mention = await post(inova, "dr_bo", "ask dr_al about it", "public", mentions=(al.actor.uri,))
    await drain()

    al_token = await bearer(mayo.ctx, al, EVERYTHING)
    # The deliveries run concurrently, so they may arrive in any order: compare sorted.
    expected = sorted([("mention", "dr_bo@inova.test", mention.uri), ("mention", "dr_bo@inova.test", reply.uri),
                       ("reblog", "dr_bo@inova.test", original.uri), ("favourite", "dr_bo@inova.test", original.uri),
                       ("follow", "dr_bo@inova.test", None)], key=repr)
    assert sorted(await listed(mayo, al_token), key=repr) == expected
    assert await redeliver(inova, "dr_bo", fresh_ids=False) >= 5
    await drain()
    assert sorted(await listed(mayo, al_token), key=repr) == expected
    await redeliver(inova, "dr_bo", fresh_ids=True)
    await drain()
    assert sorted(await listed(mayo, al_token), key=repr) == expected
    assert await stored(mayo) == 5


async def test_remote_undo_takes_each_notification_back(network):
    (mayo, inova), drain = network
    al = await mayo.account("dr_al", role="staff")
    bo = await inova.account("dr_bo", role="staff")
    await follow(inova, "dr_bo", al.actor.uri)
    await drain()
    original = await post(mayo, "dr_al", "Flu clinic on Monday", "public")
    await drain()
    there = await status_on(inova, original.uri)
    bo_token = await bearer(inova.ctx, bo, EVERYTHING)
    await ok(await inova.client.post(f"/api/v1/statuses/{there.id}/favourite", headers=bo_token))
    await ok(await inova.client.post(f"/api/v1/statuses/{there.id}/reblog", headers=bo_token))
    await drain()
    al_token = await bearer(mayo.ctx, al, EVERYTHING)
    assert sorted(kind for kind, _, _ in await listed(mayo, al_token)) == ["favourite", "follow", "reblog"]

    await ok(await inova.client.post(f"/api/v1/statuses/{there.id}/unfavourite", headers=bo_token))
    await drain()
    assert sorted(kind for kind, _, _ in await listed(mayo, al_token)) == ["follow", "reblog"]
    await ok(await inova.client.post(f"/api/v1/statuses/{there.id}/unreblog", headers=bo_token))
    await drain()
    assert [kind for kind, _, _ in await listed(mayo, al_token)] == ["follow"]
    al_there = (await inova.remote(al.actor.uri)).id
    await ok(await inova.client.post(f"/api/v1/accounts/{al_there}/unfollow", headers=bo_token))
    await drain()
    assert await listed(mayo, al_token) == []
    assert await stored(mayo) == 0


async def test_remote_follow_of_a_locked_member_asks_once_until_answered(network):
    (mayo, inova), drain = network
    ann = await mayo.account("ann")  # a member: locked
    await inova.account("dr_bo", role="staff")
    await follow(inova, "dr_bo", ann.actor.uri)
    await drain()
    await redeliver(inova, "dr_bo", fresh_ids=True)
    await drain()
    ann_token = await bearer(mayo.ctx, ann, EVERYTHING)
    assert await listed(mayo, ann_token) == [("follow_request", "dr_bo@inova.test", None)]
    [asker] = (await mayo.client.get("/api/v1/follow_requests", headers=ann_token)).json()
    await ok(await mayo.client.post(f"/api/v1/follow_requests/{asker['id']}/authorize", headers=ann_token))
    await drain()
    assert await listed(mayo, ann_token) == []


async def test_followers_only_mention_from_a_stranger_notifies_the_mentioned_person_only(network):
    (mayo, inova), drain = network
    ann = await mayo.account("ann")
    al = await mayo.account("dr_al", role="staff")
    cy = await mayo.account("cy")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "dr_al", bo.actor.uri)  # dr_al follows dr_bo; ann does not
    await drain()
    private = await post(inova, "dr_bo", "ann, your referral is through", "private", mentions=(ann.actor.uri,))
    await drain()
    await redeliver(inova, "dr_bo", fresh_ids=False)
    await drain()
    ann_token = await bearer(mayo.ctx, ann, EVERYTHING)
    assert await listed(mayo, ann_token) == [("mention", "dr_bo@inova.test", private.uri)]
    [entity] = (await mayo.client.get("/api/v1/notifications", headers=ann_token)).json()
    assert entity["status"]["visibility"] == "private"
    assert (await mayo.client.get(f"/api/v1/statuses/{entity['status']['id']}", headers=ann_token)).status_code == 200
    for other in (al, cy):
        assert await listed(mayo, await bearer(mayo.ctx, other, EVERYTHING)) == []
    assert await stored(mayo) == 1


async def test_a_remote_edit_tells_local_boosters_and_a_local_boost_tells_the_remote_author(network):
    (mayo, inova), drain = network
    ann = await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    notice = await post(inova, "dr_bo", "Clinic opens at 9", "public")
    await drain()
    here = await status_on(mayo, notice.uri)
    ann_token = await bearer(mayo.ctx, ann, EVERYTHING)
    await ok(await mayo.client.post(f"/api/v1/statuses/{here.id}/reblog", headers=ann_token))
    await drain()
    bo_token = await bearer(inova.ctx, bo, EVERYTHING)
    assert sorted(await listed(inova, bo_token), key=repr) == [("follow", "ann@mayo.test", None),
                                                               ("reblog", "ann@mayo.test", notice.uri)]
    await ok(await inova.client.put(f"/api/v1/statuses/{notice.id}", headers=bo_token,
                                    data={"status": "Clinic opens at 10"}))
    await drain()
    assert await listed(mayo, ann_token) == [("update", "dr_bo@inova.test", notice.uri)]


async def test_a_remote_delete_takes_the_mention_away(network):
    (mayo, inova), drain = network
    ann = await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    mention = await post(inova, "dr_bo", "ann, call the ward", "public", mentions=(ann.actor.uri,))
    await drain()
    ann_token = await bearer(mayo.ctx, ann, EVERYTHING)
    assert await listed(mayo, ann_token) == [("mention", "dr_bo@inova.test", mention.uri)]
    bo_token = await bearer(inova.ctx, bo, EVERYTHING)
    await ok(await inova.client.delete(f"/api/v1/statuses/{mention.id}", headers=bo_token))
    await drain()
    assert await listed(mayo, ann_token) == []
    assert await stored(mayo) == 0


async def test_a_remote_edit_keeps_the_history_and_tells_whoever_it_newly_names(network):
    (mayo, inova), drain = network
    ann = await mayo.account("ann")
    cy = await mayo.account("cy")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    bo_token = await bearer(inova.ctx, bo, EVERYTHING)
    notice = await ok(await inova.client.post("/api/v1/statuses", headers=bo_token,
                                              json={"status": "Flu clinic opens at 9 #flu", "visibility": "public"}))
    await drain()
    here = await status_on(mayo, notice["uri"])
    await inova.remote(cy.actor.uri)  # inova knows cy, so the edit can name her
    await ok(await inova.client.put(f"/api/v1/statuses/{notice['id']}", headers=bo_token,
                                    json={"status": "Flu clinic opens at 10, @cy@mayo.test will be there #vaccines"}))
    await drain()

    ann_token = await bearer(mayo.ctx, ann, EVERYTHING)
    history = await ok(await mayo.client.get(f"/api/v1/statuses/{here.id}/history", headers=ann_token))
    assert ["9" in version["content"] for version in history] == [True, False]
    shown = await ok(await mayo.client.get(f"/api/v1/statuses/{here.id}", headers=ann_token))
    assert [tag["name"] for tag in shown["tags"]] == ["vaccines"]
    assert [mention["acct"] for mention in shown["mentions"]] == ["cy"]
    cy_token = await bearer(mayo.ctx, cy, EVERYTHING)
    assert await listed(mayo, cy_token) == [("mention", "dr_bo@inova.test", notice["uri"])]

    # The first version again, under a new activity id: older than what is kept, so ignored.
    async with inova.ctx.database.session() as session:
        updates = [json.loads(d.body) for d in (await session.exec(select(Delivery))).all()
                   if json.loads(d.body)["type"] == "Update"]
    stale = updates[0] | {"id": f"{updates[0]['id']}-again"}
    stale["object"] = stale["object"] | {"content": "<p>Flu clinic is closed</p>",
                                         "updated": "2000-01-01T00:00:00Z"}
    assert await signed_post(inova, "dr_bo", ann.actor.inbox_uri, json.dumps(stale).encode()) == 202
    await drain()
    assert "10" in (await ok(await mayo.client.get(f"/api/v1/statuses/{here.id}", headers=ann_token)))["content"]
    assert len(await ok(await mayo.client.get(f"/api/v1/statuses/{here.id}/history", headers=ann_token))) == 2
