"""A poll across instances over signed HTTP: posted on inova, seen as a poll on mayo,
voted on through mayo's client API, counted once on inova however often the vote arrives,
and the new totals carried back to mayo by the Update of the Question."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.ids import new_id
from storage.tables import Delivery, Poll, PollVote, Status, utcnow
from tests.support.actions import follow, signed_post, status_on
from tests.support.api import bearer
from tests.support.network import federation_of

MAYO, INOVA = "mayo.test", "inova.test"
EVERYTHING = ("read", "write", "follow")


@pytest.fixture
async def network(new_database_url):
    async with federation_of([MAYO, INOVA], new_database_url) as (nodes, drain):
        yield nodes, drain


async def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


def totals(poll: dict) -> list[int | None]:
    return [option["votes_count"] for option in poll["options"]]


async def vote_deliveries(node) -> list[Delivery]:
    """The votes `node` sent: Creates of Notes with a name."""
    async with node.ctx.database.session() as session:
        deliveries = (await session.exec(select(Delivery).order_by(Delivery.id))).all()
    return [d for d in deliveries if json.loads(d.body)["type"] == "Create" and "name" in json.loads(d.body)["object"]]


@pytest.fixture
async def poll_on_both(network):
    """rita (staff, inova) posts a poll; sam on mayo follows her and has it."""
    (mayo, inova), drain = network
    rita = await inova.account("rita", role="staff")
    sam = await mayo.account("sam")
    await follow(mayo, "sam", rita.actor.uri)
    await drain()
    rita_token = await bearer(inova.ctx, rita, EVERYTHING)
    posted = await ok(await inova.client.post("/api/v1/statuses", headers=rita_token, json={
        "status": "Which ward gets the new monitors?", "visibility": "public",
        "poll": {"options": ["Cardiology", "Oncology", "Paediatrics"], "expires_in": 86400, "multiple": False}}))
    await drain()
    copy = await status_on(mayo, posted["uri"])
    assert copy is not None
    sam_token = await bearer(mayo.ctx, sam, EVERYTHING)
    return {"posted": posted, "copy": copy, "sam": sam_token, "rita": rita_token}


async def test_follower_votes_across_instances_and_sees_the_new_totals(network, poll_on_both):
    (mayo, inova), drain = network
    posted, copy, sam = poll_on_both["posted"], poll_on_both["copy"], poll_on_both["sam"]
    seen = await ok(await mayo.client.get(f"/api/v1/statuses/{copy.id}", headers=sam))
    assert seen["poll"] is not None
    assert [option["title"] for option in seen["poll"]["options"]] == ["Cardiology", "Oncology", "Paediatrics"]
    assert totals(seen["poll"]) == [0, 0, 0] and seen["poll"]["voted"] is False
    assert seen["poll"]["expires_at"] == posted["poll"]["expires_at"]

    voted = await ok(await mayo.client.post(f"/api/v1/polls/{seen['poll']['id']}/votes", headers=sam,
                                            json={"choices": [2]}))
    assert voted["voted"] is True and voted["own_votes"] == [2]
    await drain()

    at_home = await ok(await inova.client.get(f"/api/v1/polls/{posted['poll']['id']}",
                                              headers=poll_on_both["rita"]))
    assert totals(at_home) == [0, 0, 1] and at_home["voters_count"] == 1
    mirrored = await ok(await mayo.client.get(f"/api/v1/polls/{seen['poll']['id']}", headers=sam))
    assert totals(mirrored) == [0, 0, 1] and mirrored["voters_count"] == 1
    assert mirrored["own_votes"] == [2]
    # The Update carried only totals: the copy is not marked as edited.
    assert (await ok(await mayo.client.get(f"/api/v1/statuses/{copy.id}", headers=sam)))["edited_at"] is None


async def test_second_vote_is_refused(network, poll_on_both):
    (mayo, inova), drain = network
    poll_id = (await ok(await mayo.client.get(f"/api/v1/statuses/{poll_on_both['copy'].id}",
                                              headers=poll_on_both["sam"])))["poll"]["id"]
    url = f"/api/v1/polls/{poll_id}/votes"
    await ok(await mayo.client.post(url, headers=poll_on_both["sam"], json={"choices": [0]}))
    await drain()
    again = await mayo.client.post(url, headers=poll_on_both["sam"], json={"choices": [1]})
    assert again.status_code == 422 and "already voted" in again.json()["error"]
    await drain()
    assert len(await vote_deliveries(mayo)) == 1
    at_home = await ok(await inova.client.get(f"/api/v1/polls/{poll_on_both['posted']['poll']['id']}"))
    assert totals(at_home) == [1, 0, 0]


async def test_vote_delivered_twice_counts_once(network, poll_on_both):
    (mayo, inova), drain = network
    poll_id = (await ok(await mayo.client.get(f"/api/v1/statuses/{poll_on_both['copy'].id}",
                                              headers=poll_on_both["sam"])))["poll"]["id"]
    await ok(await mayo.client.post(f"/api/v1/polls/{poll_id}/votes", headers=poll_on_both["sam"],
                                    json={"choices": [1]}))
    await drain()
    [delivery] = await vote_deliveries(mayo)
    as_sent = json.loads(delivery.body)
    fresh = dict(as_sent, id=f"{as_sent['id']}-again-{new_id()}")  # the same vote under a new activity id
    for document in (as_sent, fresh):
        assert await signed_post(mayo, "sam", delivery.inbox_uri, json.dumps(document).encode()) == 202
    await drain()
    at_home = await ok(await inova.client.get(f"/api/v1/polls/{poll_on_both['posted']['poll']['id']}"))
    assert totals(at_home) == [0, 1, 0] and at_home["voters_count"] == 1
    async with inova.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(PollVote))).one() == 1
        # A vote is never kept as a post.
        assert (await session.exec(select(func.count()).select_from(Status))).one() == 1
        assert (await session.exec(select(Poll))).one().voters_count == 1


async def test_votes_for_no_option_or_after_the_end_are_not_counted(network, poll_on_both):
    (mayo, inova), drain = network
    posted = poll_on_both["posted"]
    sam = await mayo.local("sam")
    rita = await mayo.remote(posted["account"]["url"].replace("/@rita", "/users/rita"))

    async def send_vote(name: str) -> None:
        note = {"id": f"{sam.uri}#votes/{new_id()}", "type": "Note", "name": name, "attributedTo": sam.uri,
                "inReplyTo": posted["uri"], "to": [rita.uri]}
        document = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{note['id']}/activity",
                    "type": "Create", "actor": sam.uri, "object": note, "to": [rita.uri]}
        assert await signed_post(mayo, "sam", rita.shared_inbox_uri or rita.inbox_uri,
                                 json.dumps(document).encode()) == 202
        await drain()

    await send_vote("Radiology")
    poll_url = f"/api/v1/polls/{posted['poll']['id']}"
    assert totals(await ok(await inova.client.get(poll_url))) == [0, 0, 0]
    async with inova.ctx.database.transaction() as session:
        poll = (await session.exec(select(Poll))).one()
        poll.expires_at = poll.expires_at.replace(year=2000)
        session.add(poll)
    await send_vote("Oncology")
    ended = await ok(await inova.client.get(poll_url))
    assert ended["expired"] is True and totals(ended) == [0, 0, 0]
    async with inova.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(PollVote))).one() == 0
        assert (await session.exec(select(func.count()).select_from(Status))).one() == 1


async def end_polls_now(node) -> None:
    """Move every poll's end a minute into the past, as if its time had just run out."""
    async with node.ctx.database.transaction() as session:
        for poll in (await session.exec(select(Poll))).all():
            poll.expires_at = utcnow() - timedelta(minutes=1)
            session.add(poll)


async def notification_types(node, token: dict) -> list[tuple[str, str | None]]:
    listed = await ok(await node.client.get("/api/v1/notifications", headers=token))
    return [(n["type"], n.get("status", {}).get("uri")) for n in listed]


async def test_the_end_of_a_poll_is_told_to_its_author_and_voters_once(network, poll_on_both):
    (mayo, inova), drain = network
    posted, copy, sam = poll_on_both["posted"], poll_on_both["copy"], poll_on_both["sam"]
    tom = await mayo.account("tom")  # follows rita too, but does not vote
    await follow(mayo, "tom", (await mayo.remote(posted["account"]["url"].replace("/@rita", "/users/rita"))).uri)
    await drain()
    tom_token = await bearer(mayo.ctx, tom, EVERYTHING)
    poll_id = (await ok(await mayo.client.get(f"/api/v1/statuses/{copy.id}", headers=sam)))["poll"]["id"]
    await ok(await mayo.client.post(f"/api/v1/polls/{poll_id}/votes", headers=sam, json={"choices": [0]}))
    await drain()

    # Before the end nobody is told anything about the poll.
    assert await mayo.federation.poll_endings.run_once() == 0
    assert await inova.federation.poll_endings.run_once() == 0

    await end_polls_now(mayo)
    await end_polls_now(inova)
    assert await mayo.federation.poll_endings.run_once() == 1
    assert await inova.federation.poll_endings.run_once() == 1
    assert ("poll", posted["uri"]) in await notification_types(mayo, sam)
    assert ("poll", posted["uri"]) in await notification_types(inova, poll_on_both["rita"])
    assert all(kind != "poll" for kind, _ in await notification_types(mayo, tom_token))

    # Told once: later passes find nothing left to announce.
    assert await mayo.federation.poll_endings.run_once() == 0
    assert await inova.federation.poll_endings.run_once() == 0
    kinds = [kind for kind, _ in await notification_types(mayo, sam)]
    assert kinds.count("poll") == 1


async def test_a_poll_that_ended_long_ago_is_closed_without_notifying(network, poll_on_both):
    (mayo, inova), drain = network
    async with inova.ctx.database.transaction() as session:
        poll = (await session.exec(select(Poll))).one()
        poll.expires_at = utcnow() - timedelta(days=30)  # the server was down all that time
        session.add(poll)
    assert await inova.federation.poll_endings.run_once() == 0
    async with inova.ctx.database.session() as session:
        assert (await session.exec(select(Poll))).one().end_notified is True
    assert all(kind != "poll" for kind, _ in await notification_types(inova, poll_on_both["rita"]))


async def test_a_vote_on_a_followers_only_poll_counts_only_from_a_follower(network):
    (mayo, inova), drain = network
    rita = await inova.account("rita", role="staff")
    await mayo.account("sam")
    await mayo.account("tom")
    await follow(mayo, "sam", rita.actor.uri)
    await drain()
    rita_token = await bearer(inova.ctx, rita, EVERYTHING)
    posted = await ok(await inova.client.post("/api/v1/statuses", headers=rita_token, json={
        "status": "Staff rota preference?", "visibility": "private",
        "poll": {"options": ["Early", "Late"], "expires_in": 86400}}))
    await drain()

    async def vote(name: str, choice: str) -> None:
        voter = await mayo.local(name)
        note = {"id": f"{voter.uri}#votes/{new_id()}", "type": "Note", "name": choice, "attributedTo": voter.uri,
                "inReplyTo": posted["uri"], "to": [rita.actor.uri]}
        document = {"@context": "https://www.w3.org/ns/activitystreams", "id": f"{note['id']}/activity",
                    "type": "Create", "actor": voter.uri, "object": note, "to": [rita.actor.uri]}
        assert await signed_post(mayo, name, rita.actor.inbox_uri, json.dumps(document).encode()) == 202
        await drain()

    await vote("tom", "Early")  # knows the poll's address, but does not follow rita
    poll_url = f"/api/v1/polls/{posted['poll']['id']}"
    assert totals(await ok(await inova.client.get(poll_url, headers=rita_token))) == [0, 0]
    await vote("sam", "Late")
    assert totals(await ok(await inova.client.get(poll_url, headers=rita_token))) == [0, 1]
