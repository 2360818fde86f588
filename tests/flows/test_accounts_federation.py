"""Accounts across instances: profile updates, deleted accounts, blocks, undone boosts."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import select

from federation.keys import generate_rsa_key, public_key_pem
from storage.tables import Actor, Block, Favourite, InboxItem, LocalKey, Pin, Status
from tests.support.actions import create_note, follow, follow_state, post, signed_post, status_on
from tests.support.api import bearer
from tests.support.network import federation_of

MAYO, INOVA, RADBOUD = "mayo.test", "inova.test", "radboud.test"


@pytest.fixture
async def network(new_database_url):
    async with federation_of([MAYO, INOVA, RADBOUD], new_database_url) as (nodes, drain):
        yield nodes, drain


async def cached_actor(node, uri: str) -> Actor | None:
    async with node.ctx.database.session() as session:
        return await node.federation.actors.find(session, uri)


async def outcome_of(node, activity_type: str) -> str:
    async with node.ctx.database.session() as session:
        item = (await session.exec(select(InboxItem).where(InboxItem.activity_type == activity_type)
                                   .order_by(InboxItem.id.desc()))).first()  # type: ignore[union-attr]
    return item.outcome


async def test_profile_update_reaches_the_followers_instance(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    async with inova.ctx.database.transaction() as session:
        actor = await session.get(Actor, bo.actor.id)
        actor.display_name, actor.summary, actor.locked = "Dr Bo Lind", "<p>Cardiology, Inova</p>", True
        actor.fields = [{"name": "Pronouns", "value": "he/him"}]
        actor.avatar_url = "https://inova.test/system/media/bo.png"
        await inova.federation.outbox.update_profile(session, actor)
    await drain()
    copy = await cached_actor(mayo, bo.actor.uri)
    assert (copy.display_name, copy.summary, copy.locked) == ("Dr Bo Lind", "<p>Cardiology, Inova</p>", True)
    assert copy.fields == [{"name": "Pronouns", "value": "he/him"}]
    assert copy.avatar_url == "https://inova.test/system/media/bo.png" and copy.header_url is None


async def test_a_key_rotation_announced_by_update_replaces_the_old_key_at_once(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    async with inova.ctx.database.session() as session:
        sealed = await session.get(LocalKey, bo.actor.id)
        old_key = inova.ctx.keyring.open(bo.actor.id, sealed.private_key_encrypted)
    new_key = generate_rsa_key()
    async with inova.ctx.database.transaction() as session:
        actor = await session.get(Actor, bo.actor.id)
        actor.public_key_pem = public_key_pem(new_key)
        await inova.federation.outbox.update_profile(session, actor)  # signed with the old key
    await drain()
    assert (await cached_actor(mayo, bo.actor.uri)).public_key_pem == public_key_pem(new_key)
    # The old key no longer verifies; the new one does.
    body = create_note(bo.actor.uri, f"{bo.actor.uri}/statuses/5")
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", body, private_key=old_key) == 401
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", body, private_key=new_key) == 202


async def test_an_update_of_another_actor_is_not_applied(network):
    (mayo, inova, radboud), drain = network
    await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    dee = await radboud.account("dee", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await follow(mayo, "ann", dee.actor.uri)
    await drain()
    person = (await mayo.client.get(dee.actor.uri, headers={"Accept": "application/activity+json"})).json()
    forged = dict(person, name="Hijacked")
    update = json.dumps({"id": f"{bo.actor.uri}#updates/1", "type": "Update", "actor": bo.actor.uri,
                         "object": forged}).encode()
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", update) == 202
    await drain()
    assert (await cached_actor(mayo, dee.actor.uri)).display_name != "Hijacked"


async def test_a_deleted_remote_account_leaves_no_content_or_follows_behind(network):
    (mayo, inova, _), drain = network
    ann = await mayo.account("ann", role="staff")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await follow(inova, "dr_bo", ann.actor.uri)
    await drain()
    status = await post(inova, "dr_bo", "Clinic closes early today", "public")
    await drain()
    ann_post = await post(mayo, "ann", "Thanks for the heads-up", "public")
    await drain()
    async with inova.ctx.database.transaction() as session:
        copy = (await session.exec(select(Status).where(Status.uri == ann_post.uri))).one()
        await inova.federation.outbox.favourite(session, await inova.local("dr_bo"), copy,
                                                await inova.remote(ann.actor.uri))
    await drain()
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Favourite))).one() == 1
    assert (await status_on(mayo, status.uri)).content
    delete = json.dumps({"id": f"{bo.actor.uri}#delete", "type": "Delete", "actor": bo.actor.uri,
                         "object": bo.actor.uri, "to": ["https://www.w3.org/ns/activitystreams#Public"]}).encode()
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", delete) == 202
    await drain()
    gone = await status_on(mayo, status.uri)
    assert gone.deleted_at is not None and gone.content == ""
    assert await follow_state(mayo, ann.actor.uri, bo.actor.uri) is None
    assert await follow_state(mayo, bo.actor.uri, ann.actor.uri) is None
    assert (await status_on(mayo, ann_post.uri)).deleted_at is None  # only the deleted account's content
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Favourite))).one() == 0
    assert await outcome_of(mayo, "Delete") == "account removed"


async def test_delete_of_another_actor_is_refused(network):
    (mayo, inova, radboud), drain = network
    ann = await mayo.account("ann", role="staff")
    await inova.account("dr_bo", role="staff")
    dee = await radboud.account("dee", role="staff")
    await follow(mayo, "ann", dee.actor.uri)
    await drain()
    bo_uri = f"https://{INOVA}/users/dr_bo"
    forged = json.dumps({"id": f"{bo_uri}#delete", "type": "Delete", "actor": bo_uri,
                         "object": dee.actor.uri}).encode()
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", forged) == 202
    await drain()
    assert await follow_state(mayo, ann.actor.uri, dee.actor.uri) == "accepted"
    assert await outcome_of(mayo, "Delete") == "refused: an actor may only delete things on its own host"


async def test_a_remote_block_severs_follows_both_ways_and_its_undo_lifts_it(network):
    (mayo, inova, _), drain = network
    ann = await mayo.account("ann", role="staff")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await follow(inova, "dr_bo", ann.actor.uri)
    await drain()
    async with inova.ctx.database.transaction() as session:
        await inova.federation.outbox.block(session, await inova.local("dr_bo"), await inova.remote(ann.actor.uri))
    await drain()
    for node in (mayo, inova):
        assert await follow_state(node, ann.actor.uri, bo.actor.uri) is None
        assert await follow_state(node, bo.actor.uri, ann.actor.uri) is None
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Block))).one() == 1
    # A follow from the blocked account is rejected by the blocker's instance.
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    assert await follow_state(mayo, ann.actor.uri, bo.actor.uri) is None
    assert await follow_state(inova, ann.actor.uri, bo.actor.uri) is None
    async with inova.ctx.database.transaction() as session:
        assert await inova.federation.outbox.unblock(session, await inova.local("dr_bo"),
                                                     await inova.remote(ann.actor.uri))
    await drain()
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Block))).one() == 0
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    assert await follow_state(mayo, ann.actor.uri, bo.actor.uri) == "accepted"


async def test_an_undone_boost_and_like_disappear_on_the_authors_instance(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann", role="staff")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    status = await post(inova, "dr_bo", "Blood drive Monday", "public")
    await drain()
    async with mayo.ctx.database.transaction() as session:
        ann, author = await mayo.local("ann"), await mayo.remote(bo.actor.uri)
        copy = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
        boost = await mayo.federation.outbox.boost(session, ann, copy, author)
        await mayo.federation.outbox.favourite(session, ann, copy, author)
    await drain()
    assert (await status_on(inova, boost.uri)) is not None
    async with mayo.ctx.database.transaction() as session:
        copy = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
        assert await mayo.federation.outbox.unboost(session, ann, copy, author)
        await mayo.federation.outbox.unfavourite(session, ann, copy, author)
    await drain()
    undone = await status_on(inova, boost.uri)
    assert undone is None or undone.deleted_at is not None
    async with inova.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Favourite))).one() == 0


async def test_pins_reach_the_followers_instance_and_the_featured_collection(network):
    (mayo, inova, _), drain = network
    bo = await inova.account("dr_bo", role="staff")
    await mayo.account("ann")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    token = await bearer(inova.ctx, bo, ("read", "write"))
    public = await post(inova, "dr_bo", "Clinic hours", "public")
    private = await post(inova, "dr_bo", "Rota for followers", "private")
    await drain()
    for status in (public, private):
        assert (await inova.client.post(f"/api/v1/statuses/{status.id}/pin", headers=token)).status_code == 200
    await drain()

    featured = await inova.client.get("/users/dr_bo/collections/featured",
                                      headers={"Accept": "application/activity+json"})
    assert featured.status_code == 200
    assert [note["id"] for note in featured.json()["orderedItems"]] == [public.uri]  # followers-only stays home
    person = (await inova.client.get("/users/dr_bo", headers={"Accept": "application/activity+json"})).json()
    assert person["featured"] == featured.json()["id"]

    remote = await mayo.remote(bo.actor.uri)
    pinned_there = await mayo.client.get(f"/api/v1/accounts/{remote.id}/statuses", params={"pinned": "true"})
    assert [entity["uri"] for entity in pinned_there.json()] == [public.uri]

    assert (await inova.client.post(f"/api/v1/statuses/{public.id}/unpin", headers=token)).status_code == 200
    await drain()
    assert (await mayo.client.get(f"/api/v1/accounts/{remote.id}/statuses", params={"pinned": "true"})).json() == []


async def test_an_add_of_someone_elses_post_pins_nothing(network):
    (mayo, inova, radboud), drain = network
    bo = await inova.account("dr_bo", role="staff")
    await radboud.account("eve")
    await mayo.account("ann")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    notice = await post(inova, "dr_bo", "Clinic hours", "public")
    await drain()
    eve = await radboud.local("eve")
    forged = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{eve.uri}#pins/1", "type": "Add",
              "actor": eve.uri, "object": notice.uri, "target": f"{eve.uri}/collections/featured"}
    ann = await mayo.local("ann")
    assert await signed_post(radboud, "eve", ann.inbox_uri, json.dumps(forged).encode()) == 202
    await drain()
    assert "not a post of the sender's" in await outcome_of(mayo, "Add")
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Pin))).one() == 0
