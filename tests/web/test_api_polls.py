"""Polls through the client API: posted in form and JSON encodings, read back as Mastodon's
Poll entity, voted on under the rules, and refused (401/403/404/422) with nothing written."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, update
from sqlmodel import select

from storage.tables import Delivery, Follow, Poll, PollOption, PollVote, Status, utcnow
from tests.conftest import add_account, add_remote_actor
from tests.support.api import bearer, follow
from web.api.entities.instance import MAX_POLL_OPTION_CHARACTERS, MAX_POLL_OPTIONS, MIN_POLL_EXPIRATION

WRITE = ("read", "write:statuses")
TABLES = (Status, Poll, PollOption, PollVote, Delivery)


# Without workers, so the deliveries a vote queues stay to be read.
pytestmark = pytest.mark.without_workers


@pytest.fixture
async def people(ctx):
    """ann posts polls; bob follows her; eve is a stranger."""
    accounts = {name: await add_account(ctx, name) for name in ("ann", "bob", "eve")}
    await follow(ctx, accounts["bob"].actor, accounts["ann"].actor)
    return accounts


async def row_counts(ctx) -> dict[str, int]:
    async with ctx.database.session() as session:
        return {table.__name__: (await session.exec(select(func.count()).select_from(table))).one()
                for table in TABLES}


async def ok(response) -> dict:
    assert response.status_code == 200, response.text
    return response.json()


async def post_poll(client, headers, *, multiple=False, visibility="public", hide_totals=False) -> dict:
    return await ok(await client.post("/api/v1/statuses", headers=headers, json={
        "status": "Which day for the flu clinic?", "visibility": visibility,
        "poll": {"options": ["Monday", "Tuesday", "Friday"], "expires_in": 86400,
                 "multiple": multiple, "hide_totals": hide_totals}}))


# --- posting ------------------------------------------------------------------------------

async def test_post_poll_form_encoded_then_read_it_back(ctx, client, people):
    headers = await bearer(ctx, people["ann"], WRITE)
    before = utcnow()
    status = await ok(await client.post("/api/v1/statuses", headers=headers, data={
        "status": "Lunch?", "visibility": "public", "poll[options][]": ["Soup", "Salad"], "poll[expires_in]": "3600",
        "poll[multiple]": "1", "poll[hide_totals]": "0"}))
    poll = status["poll"]
    assert [option["title"] for option in poll["options"]] == ["Soup", "Salad"]
    assert [option["votes_count"] for option in poll["options"]] == [0, 0]
    assert poll["multiple"] is True and poll["expired"] is False
    assert poll["votes_count"] == 0 and poll["voters_count"] == 0
    assert poll["voted"] is True and poll["own_votes"] == []  # one's own poll counts as voted
    assert poll["emojis"] == []
    async with ctx.database.session() as session:
        row = (await session.exec(select(Poll).where(Poll.status_id == int(status["id"])))).one()
    assert before + timedelta(seconds=3599) <= row.expires_at <= utcnow() + timedelta(seconds=3601)
    assert str(row.id) == poll["id"]
    read = await ok(await client.get(f"/api/v1/statuses/{status['id']}"))
    assert read["poll"]["options"] == poll["options"] and read["poll"]["voted"] is None


async def test_post_poll_as_json_sends_a_question_to_followers(ctx, client, people):
    carl = await add_remote_actor(ctx, "carl")
    async with ctx.database.transaction() as session:
        session.add(Follow(follower_id=carl.id, followee_id=people["ann"].actor.id, state="accepted",
                           uri=f"{carl.uri}#follows/1"))
    status = await post_poll(client, await bearer(ctx, people["ann"], WRITE))
    assert status["poll"]["multiple"] is False
    async with ctx.database.session() as session:
        delivery = (await session.exec(select(Delivery))).one()
    question = json.loads(delivery.body)["object"]
    assert json.loads(delivery.body)["type"] == "Create"
    assert question["type"] == "Question" and "anyOf" not in question
    assert [(o["name"], o["replies"]["totalItems"]) for o in question["oneOf"]] == \
        [("Monday", 0), ("Tuesday", 0), ("Friday", 0)]
    assert question["endTime"] and "closed" not in question


async def test_timelines_show_the_poll(ctx, client, people):
    status = await post_poll(client, await bearer(ctx, people["ann"], WRITE), multiple=True)
    home = await ok(await client.get("/api/v1/timelines/home", headers=await bearer(ctx, people["bob"])))
    assert [entry["poll"]["id"] for entry in home if entry["id"] == status["id"]] == [status["poll"]["id"]]


@pytest.mark.parametrize("poll, field", [
    ({"options": ["Only one"], "expires_in": 3600}, "poll[options]"),
    ({"options": [f"o{n}" for n in range(MAX_POLL_OPTIONS + 1)], "expires_in": 3600}, "poll[options]"),
    ({"options": ["x" * (MAX_POLL_OPTION_CHARACTERS + 1), "y"], "expires_in": 3600}, "poll[options]"),
    ({"options": ["Same", "Same"], "expires_in": 3600}, "poll[options]"),
    ({"options": ["Yes", ""], "expires_in": 3600}, "poll[options]"),
    ({"options": ["Yes", "No"], "expires_in": MIN_POLL_EXPIRATION - 1}, "poll[expires_in]"),
    ({"options": ["Yes", "No"], "expires_in": 10**9}, "poll[expires_in]"),
    ({"options": ["Yes", "No"]}, "poll[expires_in]"),
    ({"options": ["Yes", "No"], "expires_in": "soon"}, "poll[expires_in]"),
])
async def test_bad_polls_are_refused_naming_the_field_and_write_nothing(ctx, client, people, poll, field):
    headers = await bearer(ctx, people["ann"], WRITE)
    before = await row_counts(ctx)
    response = await client.post("/api/v1/statuses", headers=headers, json={"status": "Vote!", "poll": poll})
    assert response.status_code == 422, response.text
    assert field in response.json()["details"]
    assert await row_counts(ctx) == before


async def test_poll_and_media_together_are_refused(ctx, client, people):
    headers = await bearer(ctx, people["ann"], WRITE)
    before = await row_counts(ctx)
    response = await client.post("/api/v1/statuses", headers=headers, data={
        "status": "Vote!", "media_ids[]": ["123"], "poll[options][]": ["Yes", "No"], "poll[expires_in]": "3600"})
    assert response.status_code == 422 and "poll" in response.json()["details"]
    assert await row_counts(ctx) == before


# --- reading and voting -------------------------------------------------------------------

async def test_vote_on_a_local_poll_counts_at_once(ctx, client, people):
    status = await post_poll(client, await bearer(ctx, people["ann"], WRITE))
    poll_id = status["poll"]["id"]
    bob = await bearer(ctx, people["bob"], WRITE)
    voted = await ok(await client.post(f"/api/v1/polls/{poll_id}/votes", headers=bob, json={"choices": [1]}))
    assert [option["votes_count"] for option in voted["options"]] == [0, 1, 0]
    assert voted["voted"] is True and voted["own_votes"] == [1]
    assert voted["votes_count"] == 1 and voted["voters_count"] == 1
    eve = await bearer(ctx, people["eve"], WRITE)
    await ok(await client.post(f"/api/v1/polls/{poll_id}/votes", headers=eve, data={"choices[]": ["1"]}))
    read = await ok(await client.get(f"/api/v1/polls/{poll_id}", headers=await bearer(ctx, people["eve"])))
    assert [option["votes_count"] for option in read["options"]] == [0, 2, 0]
    assert read["own_votes"] == [1] and read["voters_count"] == 2
    anonymous = await ok(await client.get(f"/api/v1/polls/{poll_id}"))
    assert anonymous["voted"] is None and anonymous["votes_count"] == 2


async def test_multiple_choice_poll_takes_several_choices_and_counts_the_voter_once(ctx, client, people):
    status = await post_poll(client, await bearer(ctx, people["ann"], WRITE), multiple=True)
    bob = await bearer(ctx, people["bob"], WRITE)
    voted = await ok(await client.post(f"/api/v1/polls/{status['poll']['id']}/votes", headers=bob,
                                       json={"choices": [0, 2]}))
    assert [option["votes_count"] for option in voted["options"]] == [1, 0, 1]
    assert voted["votes_count"] == 2 and voted["voters_count"] == 1 and voted["own_votes"] == [0, 2]


async def test_hidden_totals_are_shown_to_the_author_only(ctx, client, people):
    ann = await bearer(ctx, people["ann"], WRITE)
    status = await post_poll(client, ann, hide_totals=True)
    bob = await bearer(ctx, people["bob"], WRITE)
    voted = await ok(await client.post(f"/api/v1/polls/{status['poll']['id']}/votes", headers=bob,
                                       json={"choices": [0]}))
    assert [option["votes_count"] for option in voted["options"]] == [None, None, None]
    own = await ok(await client.get(f"/api/v1/polls/{status['poll']['id']}", headers=ann))
    assert [option["votes_count"] for option in own["options"]] == [1, 0, 0]


@pytest.mark.parametrize("body, code", [
    ({"choices": [0, 1]}, "too_many"),
    ({"choices": [3]}, "out_of_range"),
    ({"choices": []}, "invalid"),
    ({"choices": ["first"]}, "invalid"),
])
async def test_bad_choices_are_refused_and_write_nothing(ctx, client, people, body, code):
    status = await post_poll(client, await bearer(ctx, people["ann"], WRITE))
    before = await row_counts(ctx)
    response = await client.post(f"/api/v1/polls/{status['poll']['id']}/votes",
                                 headers=await bearer(ctx, people["bob"], WRITE), json=body)
    assert response.status_code == 422, response.text
    assert response.json()["details"]["choices"][0]["error"] == code
    assert await row_counts(ctx) == before


async def test_second_vote_own_poll_and_ended_poll_are_refused(ctx, client, people):
    ann = await bearer(ctx, people["ann"], WRITE)
    status = await post_poll(client, ann)
    poll_id = status["poll"]["id"]
    bob = await bearer(ctx, people["bob"], WRITE)
    await ok(await client.post(f"/api/v1/polls/{poll_id}/votes", headers=bob, json={"choices": [0]}))
    before = await row_counts(ctx)
    again = await client.post(f"/api/v1/polls/{poll_id}/votes", headers=bob, json={"choices": [1]})
    assert again.status_code == 422 and "already voted" in again.json()["error"]
    own = await client.post(f"/api/v1/polls/{poll_id}/votes", headers=ann, json={"choices": [1]})
    assert own.status_code == 422 and own.json()["details"]["poll"][0]["error"] == "own_poll"
    async with ctx.database.transaction() as session:
        await session.exec(update(Poll).where(Poll.id == int(poll_id))  # type: ignore[call-overload]
                           .values(expires_at=utcnow() - timedelta(minutes=1)))
    late = await client.post(f"/api/v1/polls/{poll_id}/votes", headers=await bearer(ctx, people["eve"], WRITE),
                             json={"choices": [1]})
    assert late.status_code == 422 and late.json()["details"]["poll"][0]["error"] == "expired"
    assert await row_counts(ctx) == before
    ended = await ok(await client.get(f"/api/v1/polls/{poll_id}"))
    assert ended["expired"] is True and [o["votes_count"] for o in ended["options"]] == [1, 0, 0]


async def test_vote_needs_a_token_with_write_statuses(ctx, client, people):
    status = await post_poll(client, await bearer(ctx, people["ann"], WRITE))
    url = f"/api/v1/polls/{status['poll']['id']}/votes"
    before = await row_counts(ctx)
    assert (await client.post(url, json={"choices": [0]})).status_code == 401
    read_only = await bearer(ctx, people["bob"], ("read",))
    assert (await client.post(url, headers=read_only, json={"choices": [0]})).status_code == 403
    assert await row_counts(ctx) == before


async def test_polls_of_posts_one_may_not_see_are_not_found(ctx, client, people):
    status = await post_poll(client, await bearer(ctx, people["ann"], WRITE), visibility="private")
    url = f"/api/v1/polls/{status['poll']['id']}"
    eve = await bearer(ctx, people["eve"], WRITE)
    before = await row_counts(ctx)
    assert (await client.get(url, headers=eve)).status_code == 404
    assert (await client.post(f"{url}/votes", headers=eve, json={"choices": [0]})).status_code == 404
    assert (await client.get("/api/v1/polls/99999999", headers=eve)).status_code == 404
    assert (await client.get("/api/v1/polls/nope", headers=eve)).status_code == 404
    assert await row_counts(ctx) == before
    bob = await ok(await client.get(url, headers=await bearer(ctx, people["bob"])))
    assert bob["id"] == status["poll"]["id"]


async def test_vote_on_a_remote_poll_is_sent_to_its_author_and_recorded(ctx, client, people):
    carl = await add_remote_actor(ctx, "carl")
    async with ctx.database.transaction() as session:
        status = Status(uri=f"{carl.uri}/statuses/7", actor_id=carl.id, local=False, visibility="public",
                        content="<p>Coffee or tea?</p>")
        session.add(status)
        await session.flush()
        poll = Poll(status_id=status.id, expires_at=utcnow() + timedelta(hours=1), voters_count=3)
        session.add(poll)
        await session.flush()
        session.add(PollOption(poll_id=poll.id, position=0, title="Coffee", votes_count=2))
        session.add(PollOption(poll_id=poll.id, position=1, title="Tea", votes_count=1))
    bob = await bearer(ctx, people["bob"], WRITE)
    voted = await ok(await client.post(f"/api/v1/polls/{poll.id}/votes", headers=bob, json={"choices": [1]}))
    assert voted["voted"] is True and voted["own_votes"] == [1]
    assert [option["votes_count"] for option in voted["options"]] == [2, 1]  # the author's server counts
    async with ctx.database.session() as session:
        delivery = (await session.exec(select(Delivery))).one()
        recorded = (await session.exec(select(PollVote))).one()
    sent = json.loads(delivery.body)
    assert delivery.inbox_uri == carl.shared_inbox_uri
    assert sent["type"] == "Create" and sent["object"]["name"] == "Tea"
    assert sent["object"]["inReplyTo"] == status.uri and sent["object"]["to"] == [carl.uri]
    assert sent["object"]["id"] == recorded.uri and recorded.actor_id == people["bob"].actor.id
