"""Hospital instances federating in one process: follows, posts at every visibility, reactions.

Every request between instances is a real signed HTTP request through the apps' own
routes (an httpx transport routes by host); each instance has its own real database.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from federation.keys import generate_rsa_key, public_key_pem
from inbox.notes import MAX_ANCESTORS
from inbox.process import LEASE, InboxWorker
from storage.tables import Actor, Delivery, Favourite, Follow, InboxItem, LocalKey, Status, Tombstone
from tests.support.actions import (
    approve,
    create_note,
    follow,
    follow_state,
    inbox_rows,
    post,
    signed_post,
    status_on,
    unfollow,
)
from tests.support.network import federation_of

MAYO, INOVA, RADBOUD = "mayo.test", "inova.test", "radboud.test"
AS_JSON = {"Accept": "application/activity+json"}


@pytest.fixture
async def network(new_database_url):
    async with federation_of([MAYO, INOVA, RADBOUD], new_database_url) as (nodes, drain):
        yield nodes, drain


async def test_follow_unlocked_staff_is_accepted_and_their_posts_arrive(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    ann_uri = f"https://{MAYO}/users/ann"
    assert await follow_state(mayo, ann_uri, bo.actor.uri) == "accepted"
    assert await follow_state(inova, ann_uri, bo.actor.uri) == "accepted"
    status = await post(inova, "dr_bo", "Flu shots are open", "public")
    await drain()
    received = await status_on(mayo, status.uri)
    assert received is not None and received.content == "<p>Flu shots are open</p>"
    assert received.visibility == "public" and not received.local


async def test_follow_locked_member_stays_pending_until_approved(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann")
    cy = await inova.account("cy")  # a patient: locked by default
    await follow(mayo, "ann", cy.actor.uri)
    await drain()
    ann_uri = f"https://{MAYO}/users/ann"
    assert await follow_state(inova, ann_uri, cy.actor.uri) == "pending"
    assert await follow_state(mayo, ann_uri, cy.actor.uri) == "pending"
    private = await post(inova, "cy", "Scan results tomorrow", "private")
    await drain()
    assert await status_on(mayo, private.uri) is None  # a pending follow grants nothing
    await approve(inova, "cy", ann_uri)
    await drain()
    assert await follow_state(mayo, ann_uri, cy.actor.uri) == "accepted"
    second = await post(inova, "cy", "Results were fine", "private")
    await drain()
    received = await status_on(mayo, second.uri)
    assert received is not None and received.visibility == "private"


async def test_each_visibility_reaches_exactly_the_instances_that_may_see_it(network):
    (mayo, inova, radboud), drain = network
    await mayo.account("ann")
    await radboud.account("dee")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    dee_uri = f"https://{RADBOUD}/users/dee"
    posts = {
        visibility: await post(inova, "dr_bo", f"a {visibility} post", visibility)
        for visibility in ("public", "unlisted", "private", "local")
    }
    direct = await post(inova, "dr_bo", "for dee only", "direct", mentions=(dee_uri,))
    await drain()
    for visibility in ("public", "unlisted", "private"):
        assert await status_on(mayo, posts[visibility].uri) is not None, visibility
        assert await status_on(radboud, posts[visibility].uri) is None, visibility
    assert await status_on(mayo, posts["local"].uri) is None
    assert await status_on(radboud, posts["local"].uri) is None
    assert await status_on(radboud, direct.uri) is not None
    assert await status_on(mayo, direct.uri) is None
    async with inova.ctx.database.session() as session:
        hosts = set((await session.exec(select(Delivery.host).where(
            Delivery.activity_uri == posts["private"].uri + "/activity"))).all())
    assert hosts == {MAYO}


async def test_followers_only_post_is_served_only_to_a_signed_fetch_from_a_follower_instance(network):
    (mayo, inova, radboud), drain = network
    await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    private = await post(inova, "dr_bo", "staff rota", "private")
    public = await post(inova, "dr_bo", "open day", "public")
    await drain()
    assert (await inova.client.get(public.uri, headers=AS_JSON)).json()["content"] == "<p>open day</p>"
    assert (await inova.client.get(private.uri, headers=AS_JSON)).status_code == 404  # unsigned
    # A signed fetch by each instance's instance actor, as the fetcher sends it.
    assert (await mayo.federation.fetcher.fetch_activity(private.uri))["id"] == private.uri
    with pytest.raises(Exception) as refused:
        await radboud.federation.fetcher.fetch_activity(private.uri)
    assert "404" in str(refused.value) or "not found" in str(refused.value).lower()
    local = await post(inova, "dr_bo", "cafeteria menu", "local")
    assert (await inova.client.get(local.uri, headers=AS_JSON)).status_code == 404


async def test_reply_thread_spans_three_instances(network):
    (mayo, inova, radboud), drain = network
    await mayo.account("ann", role="staff")
    await inova.account("dr_bo", role="staff")
    await radboud.account("dee", role="staff")
    ann, bo, dee = (f"https://{d}/users/{u}" for d, u in ((MAYO, "ann"), (INOVA, "dr_bo"), (RADBOUD, "dee")))
    await follow(inova, "dr_bo", ann)
    await follow(radboud, "dee", bo)
    await drain()
    root = await post(mayo, "ann", "Who has tried the new inhaler?", "public")
    await drain()
    reply = await post(inova, "dr_bo", "Our patients like it", "public", reply_to=root.uri, mentions=(ann,))
    await drain()
    answer = await post(radboud, "dee", "Same here", "public", reply_to=reply.uri, mentions=(bo,))
    await drain()
    on_mayo = await status_on(mayo, reply.uri)
    assert on_mayo is not None and on_mayo.in_reply_to_uri == root.uri
    on_inova = await status_on(inova, answer.uri)
    assert on_inova is not None and on_inova.in_reply_to_uri == reply.uri
    assert (await status_on(radboud, reply.uri)).in_reply_to_uri == root.uri


async def test_like_boost_edit_and_delete_propagate(network):
    (mayo, inova, radboud), drain = network
    await mayo.account("ann", role="staff")
    await radboud.account("dee", role="staff")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await follow(radboud, "dee", f"https://{MAYO}/users/ann")
    await drain()
    status = await post(inova, "dr_bo", "Vaccination drive Saturday", "public")
    await drain()
    ann = await mayo.local("ann")
    local_copy = await status_on(mayo, status.uri)
    async with mayo.ctx.database.transaction() as session:
        await mayo.federation.outbox.favourite(session, ann, local_copy, await mayo.remote(bo.actor.uri))
        boost = await mayo.federation.outbox.boost(session, ann, local_copy, await mayo.remote(bo.actor.uri))
    await drain()
    async with inova.ctx.database.session() as session:
        likes = (await session.exec(select(func.count()).select_from(Favourite))).one()
    assert likes == 1
    # Radboud follows ann (the booster), so it receives the boost and fetches the boosted post.
    boosted = await status_on(radboud, boost.uri)
    assert boosted is not None and boosted.reblog_of_id == (await status_on(radboud, status.uri)).id
    async with inova.ctx.database.transaction() as session:
        original = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
        await inova.federation.outbox.edit_status(session, original, await inova.local("dr_bo"),
                                                  content_html="<p>Vaccination drive Sunday</p>")
    await drain()
    edited = await status_on(mayo, status.uri)
    assert edited.content == "<p>Vaccination drive Sunday</p>" and edited.edited_at is not None
    async with inova.ctx.database.transaction() as session:
        original = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
        await inova.federation.outbox.delete_status(session, original, await inova.local("dr_bo"))
    await drain()
    gone = await status_on(mayo, status.uri)
    assert gone.deleted_at is not None and gone.content == ""


async def test_unfollow_stops_delivery(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    await unfollow(mayo, "ann", bo.actor.uri)
    await drain()
    assert await follow_state(inova, f"https://{MAYO}/users/ann", bo.actor.uri) is None
    later = await post(inova, "dr_bo", "after the unfollow", "public")
    await drain()
    assert await status_on(mayo, later.uri) is None


# --- deliveries as a hostile or careless peer sends them -----------------------------------

async def test_bad_deliveries_get_clear_answers_and_store_nothing(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann")
    await inova.account("dr_bo", role="staff")
    bo_uri = f"https://{INOVA}/users/dr_bo"
    inbox = f"https://{MAYO}/inbox"
    good = create_note(bo_uri, f"https://{INOVA}/users/dr_bo/statuses/1")
    assert (await mayo.client.post("/inbox", content=good,
                                   headers={"Content-Type": "application/activity+json"})).status_code == 401
    assert await signed_post(inova, "dr_bo", inbox, good, tamper=True) == 401
    assert await signed_post(inova, "dr_bo", inbox, b"{not json", ) == 400
    assert await signed_post(inova, "dr_bo", inbox, good, content_type="text/plain") == 415
    nested = b'{"a":' * 100 + b"1" + b"}" * 100
    assert await signed_post(inova, "dr_bo", inbox, nested) == 400
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/users/nobody/inbox", good) == 404
    # Signed by dr_bo but claiming to be another actor.
    impostor = create_note(f"https://{INOVA}/users/someone_else", f"https://{INOVA}/users/someone_else/statuses/2")
    assert await signed_post(inova, "dr_bo", inbox, impostor) == 401
    huge = b" " * (mayo.ctx.settings.max_body_bytes + 1)
    assert (await mayo.client.post("/inbox", content=huge,
                                   headers={"Content-Type": "application/activity+json"})).status_code == 413
    assert await inbox_rows(mayo) == 0


async def test_same_activity_twice_has_one_effect(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    body = create_note(bo.actor.uri, f"{bo.actor.uri}/statuses/77")
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", body) == 202
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/users/ann/inbox", body) == 202
    await drain()
    async with mayo.ctx.database.session() as session:
        copies = (await session.exec(select(func.count()).select_from(Status).where(
            Status.uri == f"{bo.actor.uri}/statuses/77"))).one()
        items = (await session.exec(select(InboxItem).where(InboxItem.activity_type == "Create"))).all()
    assert copies == 1 and len(items) == 1 and items[0].state == "done"


async def test_delete_before_create_leaves_a_tombstone_the_late_create_respects(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    note_id = f"{bo.actor.uri}/statuses/88"
    delete = json.dumps({"id": f"{note_id}#delete", "type": "Delete", "actor": bo.actor.uri,
                         "object": {"id": note_id, "type": "Tombstone"}}).encode()
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", delete) == 202
    await drain()
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", create_note(bo.actor.uri, note_id)) == 202
    await drain()
    assert await status_on(mayo, note_id) is None
    async with mayo.ctx.database.session() as session:
        assert await session.get(Tombstone, note_id) is not None


async def test_create_of_a_post_on_another_host_or_by_a_local_user_is_refused(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    spoofs = [
        create_note(bo.actor.uri, f"https://{RADBOUD}/users/dee/statuses/1"),
        create_note(bo.actor.uri, f"{bo.actor.uri}/statuses/5", attributedTo=f"https://{MAYO}/users/ann"),
    ]
    for body in spoofs:
        await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", body)
    await drain()
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Status))).one() == 0


async def test_network_mode_refuses_a_non_member_and_never_delivers_to_it(new_database_url, tmp_path):
    network = tmp_path / "network.toml"
    network.write_text(f'name = "HN"\n[[members]]\nname = "Mayo"\ndomain = "{MAYO}"\n'
                       f'[[members]]\nname = "Inova"\ndomain = "{INOVA}"\n')
    async with federation_of([MAYO, INOVA, RADBOUD], new_database_url, federation_mode="network",
                             network_file=network) as ((mayo, inova, radboud), drain):
        await mayo.account("ann", role="staff")
        await radboud.account("dee", role="staff")
        body = create_note(f"https://{RADBOUD}/users/dee", f"https://{RADBOUD}/users/dee/statuses/1")
        assert await signed_post(radboud, "dee", f"https://{MAYO}/inbox", body) == 403
        assert await inbox_rows(mayo) == 0
        # A follower on a non-member instance (from before the network mode) gets nothing.
        await inova.account("bo", role="staff")
        await follow(inova, "bo", f"https://{MAYO}/users/ann")
        await drain()
        ann = await mayo.local("ann")
        async with mayo.ctx.database.transaction() as session:
            dee = Actor(uri=f"https://{RADBOUD}/users/dee", username="dee", username_key="dee", domain=RADBOUD,
                        inbox_uri=f"https://{RADBOUD}/users/dee/inbox", shared_inbox_uri=f"https://{RADBOUD}/inbox")
            session.add(dee)
            await session.flush()
            session.add(Follow(follower_id=dee.id, followee_id=ann.id, state="accepted"))
        status = await post(mayo, "ann", "members only", "public")
        await drain()
        async with mayo.ctx.database.session() as session:
            hosts = set((await session.exec(select(Delivery.host).where(
                Delivery.activity_uri == status.uri + "/activity"))).all())
        assert hosts == {INOVA}
        assert await status_on(radboud, status.uri) is None


async def test_undo_before_its_follow_leaves_no_follow(network):
    (mayo, inova, _), drain = network
    ann = await mayo.account("ann", role="staff")
    await inova.account("dr_bo", role="staff")
    bo_uri = f"https://{INOVA}/users/dr_bo"
    follow_id = f"{bo_uri}#follows/1"
    follow_activity = {"id": follow_id, "type": "Follow", "actor": bo_uri, "object": ann.actor.uri}
    undo = json.dumps({"id": f"{bo_uri}#undo/1", "type": "Undo", "actor": bo_uri, "object": follow_activity}).encode()
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", undo) == 202
    await drain()
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", json.dumps(follow_activity).encode()) == 202
    await drain()
    assert await follow_state(mayo, bo_uri, ann.actor.uri) is None
    async with mayo.ctx.database.session() as session:
        outcomes = [item.outcome for item in (await session.exec(select(InboxItem).order_by(InboxItem.id))).all()]
    assert outcomes == ["undo of an unknown follow remembered", "this follow was undone before it arrived"]


async def test_undo_of_someone_elses_follow_is_refused(network):
    (mayo, inova, radboud), drain = network
    await mayo.account("ann", role="staff")
    await inova.account("dr_bo", role="staff")
    await radboud.account("dee", role="staff")
    bo_uri, dee_uri = f"https://{INOVA}/users/dr_bo", f"https://{RADBOUD}/users/dee"
    await follow(inova, "dr_bo", f"https://{MAYO}/users/ann")
    await drain()
    async with mayo.ctx.database.session() as session:
        follow_id = (await session.exec(select(Follow.uri))).one()
    forged = json.dumps({"id": f"{dee_uri}#undo/1", "type": "Undo", "actor": dee_uri,
                         "object": {"id": follow_id, "type": "Follow", "actor": bo_uri}}).encode()
    assert await signed_post(radboud, "dee", f"https://{MAYO}/inbox", forged) == 202
    await drain()
    assert await follow_state(mayo, bo_uri, f"https://{MAYO}/users/ann") == "accepted"


async def test_a_rotated_key_is_refetched_once_the_refresh_interval_has_passed(new_database_url):
    now = [datetime.now(UTC)]
    async with federation_of([MAYO, INOVA], new_database_url, clock=lambda: now[0]) as ((mayo, inova), drain):
        await mayo.account("ann")
        bo = await inova.account("dr_bo", role="staff")
        await follow(mayo, "ann", bo.actor.uri)
        await drain()
        # dr_bo's server rotates the key; mayo still holds the old one.
        new_key = generate_rsa_key()
        async with inova.ctx.database.transaction() as session:
            actor = await session.get(Actor, bo.actor.id)
            sealed = await session.get(LocalKey, bo.actor.id)
            actor.public_key_pem = public_key_pem(new_key)
            sealed.private_key_encrypted = inova.ctx.keyring.seal(actor.id, new_key)
            session.add_all([actor, sealed])
        body = create_note(bo.actor.uri, f"{bo.actor.uri}/statuses/501")
        # Within the refresh interval a failed check does not refetch: refused.
        assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", body) == 401
        now[0] += timedelta(minutes=6)
        assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", body) == 202
        async with mayo.ctx.database.session() as session:
            cached = await mayo.federation.actors.find(session, bo.actor.uri)
        assert cached.public_key_pem == public_key_pem(new_key)


async def test_the_same_activity_delivered_twice_at_the_same_moment_has_one_effect(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    body = create_note(bo.actor.uri, f"{bo.actor.uri}/statuses/99")
    answers = await asyncio.gather(*(signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", body) for _ in range(5)))
    assert answers == [202] * 5
    await drain()
    async with mayo.ctx.database.session() as session:
        copies = (await session.exec(select(func.count()).select_from(Status).where(
            Status.uri == f"{bo.actor.uri}/statuses/99"))).one()
        items = (await session.exec(select(func.count()).select_from(InboxItem).where(
            InboxItem.activity_type == "Create"))).one()
    assert copies == 1 and items == 1


async def test_a_worker_whose_claim_ran_out_does_not_apply_the_item_a_second_time(new_database_url):
    ahead = [timedelta()]  # real time, moved forward when the test says so

    def clock() -> datetime:
        return datetime.now(UTC) + ahead[0]

    async with federation_of([MAYO, INOVA], new_database_url, clock=clock) as ((mayo, inova), drain):
        await mayo.account("ann")
        bo = await inova.account("dr_bo", role="staff")
        await follow(mayo, "ann", bo.actor.uri)
        await drain()
        body = create_note(bo.actor.uri, f"{bo.actor.uri}/statuses/600")
        assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", body) == 202
        slow = mayo.federation.inbox_worker
        fast = InboxWorker(mayo.ctx.database, slow._h)
        [item_id] = await slow._claim(clock())  # the slow worker claims the item, then stalls
        ahead[0] = LEASE + timedelta(seconds=1)
        assert await fast.run_once() == 1  # the lease ran out: another worker applies it
        await slow._process(item_id)  # the stalled worker wakes up and finds it settled
        async with mayo.ctx.database.session() as session:
            copies = (await session.exec(select(func.count()).select_from(Status).where(
                Status.uri == f"{bo.actor.uri}/statuses/600"))).one()
            item = await session.get(InboxItem, item_id)
        assert copies == 1 and (item.state, item.attempts) == ("done", 1)


async def test_workers_claiming_at_once_lease_each_item_to_one_of_them_oldest_first(new_database_url):
    async with federation_of([MAYO, INOVA], new_database_url) as ((mayo, inova), drain):
        await mayo.account("ann")
        bo = await inova.account("dr_bo", role="staff")
        await follow(mayo, "ann", bo.actor.uri)
        await drain()
        for number in range(6):
            body = create_note(bo.actor.uri, f"{bo.actor.uri}/statuses/70{number}")
            assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", body) == 202
        first = mayo.federation.inbox_worker
        workers = [InboxWorker(mayo.ctx.database, first._h, batch=4) for _ in range(3)]
        now = first._h.clock()
        claims = await asyncio.gather(*(worker._claim(now) for worker in workers))
        async with mayo.ctx.database.session() as session:
            pending = sorted((await session.exec(select(InboxItem.id).where(InboxItem.state == "pending"))).all())
        leased = [item_id for claim in claims for item_id in claim]
        assert sorted(leased) == pending and len(pending) == 6  # each item once, none left out
        assert all(claim == sorted(claim) and len(claim) <= 4 for claim in claims)
        assert await first._claim(now) == []  # all leased: nothing for a fourth worker


async def test_a_reply_brings_the_posts_it_answers_fetched_from_their_own_hosts(network):
    (mayo, inova, radboud), drain = network
    await mayo.account("ann")
    await inova.account("dr_bo", role="staff")
    await radboud.account("dee", role="staff")
    await follow(mayo, "ann", f"https://{INOVA}/users/dr_bo")  # mayo knows nobody on radboud
    await drain()
    root = await post(radboud, "dee", "New asthma guidelines are out", "public")
    second = await post(radboud, "dee", "Summary in the thread", "public", reply_to=root.uri)
    await drain()
    assert await status_on(inova, second.uri) is None
    async with inova.ctx.database.transaction() as session:
        # inova looks the thread up (as search would), so dr_bo can answer it.
        for uri in (root.uri, second.uri):
            document = await inova.federation.fetcher.fetch_activity(uri)
            author = await inova.federation.actors.resolve(document["attributedTo"])
            session.add(Status(uri=uri, actor_id=author.id, local=False, visibility="public",
                               content=document["content"], in_reply_to_uri=document.get("inReplyTo")))
    reply = await post(inova, "dr_bo", "Thanks, sharing with the ward", "public", reply_to=second.uri)
    await drain()
    on_mayo = await status_on(mayo, reply.uri)
    assert on_mayo is not None and on_mayo.in_reply_to_uri == second.uri
    fetched_second, fetched_root = await status_on(mayo, second.uri), await status_on(mayo, root.uri)
    assert fetched_second.in_reply_to_uri == root.uri and fetched_second.content == "<p>Summary in the thread</p>"
    assert fetched_root.content == "<p>New asthma guidelines are out</p>" and fetched_root.in_reply_to_uri is None


async def test_fetching_the_posts_a_reply_answers_stops_after_a_bounded_number(network):
    (mayo, inova, radboud), drain = network
    await mayo.account("ann")
    await radboud.account("dee", role="staff")
    dee_uri = f"https://{RADBOUD}/users/dee"
    await follow(mayo, "ann", dee_uri)
    await drain()
    await unfollow(mayo, "ann", dee_uri)  # so that the thread below is not delivered to mayo
    await drain()
    chain = [await post(radboud, "dee", "post 0", "public")]
    for number in range(1, MAX_ANCESTORS + 5):
        chain.append(await post(radboud, "dee", f"post {number}", "public", reply_to=chain[-1].uri))
    await drain()
    await follow(mayo, "ann", dee_uri)
    await drain()
    last = await post(radboud, "dee", "the end", "public", reply_to=chain[-1].uri)
    await drain()
    assert await status_on(mayo, last.uri) is not None
    kept = [await status_on(mayo, status.uri) is not None for status in chain]
    assert kept == [False] * (len(chain) - MAX_ANCESTORS) + [True] * MAX_ANCESTORS  # the nearest ones only


async def test_an_undo_naming_a_like_by_its_bare_id_removes_the_like(network):
    (mayo, inova, _), drain = network
    await mayo.account("ann", role="staff")
    bo = await inova.account("dr_bo", role="staff")
    status = await post(mayo, "ann", "Visiting hours change on Monday", "public")
    like_id = f"{bo.actor.uri}#likes/1"
    like = {"id": like_id, "type": "Like", "actor": bo.actor.uri, "object": status.uri}
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", json.dumps(like).encode()) == 202
    await drain()
    undo = {"id": f"{bo.actor.uri}#undo/1", "type": "Undo", "actor": bo.actor.uri, "object": like_id}
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", json.dumps(undo).encode()) == 202
    await drain()
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Favourite))).one() == 0
        assert (await session.get(Tombstone, like_id)) is None  # it named a known like: nothing to remember


async def test_a_deletion_reaches_a_server_that_only_got_the_post_through_a_boost(network):
    (mayo, inova, radboud), drain = network
    ann = await mayo.account("ann", role="staff")
    bo = await inova.account("dr_bo", role="staff")
    await radboud.account("dee", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await follow(radboud, "dee", ann.actor.uri)  # radboud follows nobody on inova
    await drain()
    status = await post(inova, "dr_bo", "Free flu shots this week", "public")
    await drain()
    async with mayo.ctx.database.transaction() as session:
        copy = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
        await mayo.federation.outbox.boost(session, await mayo.local("ann"), copy, await mayo.remote(bo.actor.uri))
    await drain()
    assert (await status_on(radboud, status.uri)).content  # fetched when the boost arrived
    async with inova.ctx.database.transaction() as session:
        original = (await session.exec(select(Status).where(Status.uri == status.uri))).one()
        await inova.federation.outbox.delete_status(session, original, await inova.local("dr_bo"))
    await drain()
    gone = await status_on(radboud, status.uri)
    assert gone.deleted_at is not None and gone.content == ""
    async with radboud.ctx.database.session() as session:
        outcomes = (await session.exec(select(InboxItem.outcome).where(InboxItem.activity_type == "Delete"))).all()
    assert outcomes == ["post deleted (forwarded; gone at its origin)"]


async def test_a_forwarded_deletion_of_a_post_its_origin_still_serves_is_not_believed(network):
    (mayo, inova, radboud), drain = network
    await mayo.account("ann", role="staff")
    bo = await inova.account("dr_bo", role="staff")
    await radboud.account("dee", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    status = await post(inova, "dr_bo", "Still here", "public")
    await drain()
    # dee (radboud) forwards a Delete that dr_bo never sent.
    forged = {"id": f"{status.uri}#delete", "type": "Delete", "actor": bo.actor.uri,
              "object": {"id": status.uri, "type": "Tombstone"}}
    assert await signed_post(radboud, "dee", f"https://{MAYO}/inbox", json.dumps(forged).encode()) == 202
    # Anything else signed by someone other than its actor is refused at the door.
    like = {"id": f"{bo.actor.uri}#likes/9", "type": "Like", "actor": bo.actor.uri, "object": status.uri}
    assert await signed_post(radboud, "dee", f"https://{MAYO}/inbox", json.dumps(like).encode()) == 401
    await drain()
    kept = await status_on(mayo, status.uri)
    assert kept.deleted_at is None and kept.content == "<p>Still here</p>"
    async with mayo.ctx.database.session() as session:
        assert await session.get(Tombstone, status.uri) is None
