"""`/api/v1/conversations`: direct threads, one per thread for each person in it."""

from __future__ import annotations

import pytest

from tests.conftest import add_account
from tests.support.api import bearer, post


@pytest.fixture
async def people(ctx):
    return {name: await add_account(ctx, name) for name in ("ann", "bob", "cy", "eve")}


async def conversations(client, token, **params) -> list[dict]:
    answer = await client.get("/api/v1/conversations", headers=token, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_direct_thread_among_three_is_one_conversation_for_each_of_them(ctx, client, people):
    ann, bob, cy = people["ann"].actor, people["bob"].actor, people["cy"].actor
    first = await post(ctx, ann, "@bob @cy dinner friday?", "direct", mentions=(bob, cy))
    reply = await post(ctx, bob, "@ann @cy yes", "direct", reply_to=first, mentions=(ann, cy))
    newest = await post(ctx, cy, "@ann @bob I'll bring cake", "direct", reply_to=reply, mentions=(ann, bob))
    await post(ctx, ann, "a public post", "public")
    for name, others in (("ann", {"bob", "cy"}), ("bob", {"ann", "cy"}), ("cy", {"ann", "bob"})):
        found = await conversations(client, await bearer(ctx, people[name]))
        assert len(found) == 1, name
        assert found[0]["id"] == str(first.id)
        assert found[0]["unread"] is (name != "cy")  # the newest status is cy's
        assert {entity["username"] for entity in found[0]["accounts"]} == others, name
        assert found[0]["last_status"]["id"] == str(newest.id)
        assert found[0]["last_status"]["visibility"] == "direct"
    assert await conversations(client, await bearer(ctx, people["eve"])) == []


async def test_newest_activity_comes_first_and_pages_by_the_last_status(ctx, client, people):
    ann, bob, cy = people["ann"].actor, people["bob"].actor, people["cy"].actor
    older = await post(ctx, ann, "@bob first thread", "direct", mentions=(bob,))
    middle = await post(ctx, ann, "@cy second thread", "direct", mentions=(cy,))
    revived = await post(ctx, bob, "@ann back to the first", "direct", reply_to=older, mentions=(ann,))
    token = await bearer(ctx, people["ann"])
    everything = await conversations(client, token)
    assert [(c["id"], c["last_status"]["id"]) for c in everything] == [
        (str(older.id), str(revived.id)), (str(middle.id), str(middle.id))]
    first_page = await client.get("/api/v1/conversations", headers=token, params={"limit": 1})
    assert [c["id"] for c in first_page.json()] == [str(older.id)]
    assert f"max_id={revived.id}" in first_page.headers["link"]
    second = await conversations(client, token, limit=1, max_id=str(revived.id))
    assert [c["id"] for c in second] == [str(middle.id)]
    assert await conversations(client, token, max_id=str(middle.id)) == []
    newer = await conversations(client, token, min_id=str(middle.id))
    assert [c["id"] for c in newer] == [str(older.id)]
    assert [c["id"] for c in await conversations(client, token, since_id=str(middle.id))] == [str(older.id)]


async def test_read_and_delete_answer_for_the_viewers_own_conversations_only(ctx, client, people):
    ann, bob = people["ann"].actor, people["bob"].actor
    thread = await post(ctx, ann, "@bob psst", "direct", mentions=(bob,))
    token = await bearer(ctx, people["bob"], ("read", "write"))
    read = await client.post(f"/api/v1/conversations/{thread.id}/read", headers=token)
    assert read.status_code == 200, read.text
    assert (read.json()["id"], read.json()["unread"]) == (str(thread.id), False)
    assert [entity["username"] for entity in read.json()["accounts"]] == ["ann"]
    assert (await client.delete(f"/api/v1/conversations/{thread.id}", headers=token)).json() == {}
    stranger = await bearer(ctx, people["eve"], ("read", "write"))
    assert (await client.post(f"/api/v1/conversations/{thread.id}/read", headers=stranger)).status_code == 404
    assert (await client.delete(f"/api/v1/conversations/{thread.id}", headers=stranger)).status_code == 404


async def test_conversations_need_a_signed_in_person_with_the_right_scope(ctx, client, people):
    assert (await client.get("/api/v1/conversations")).status_code == 401
    narrow = await bearer(ctx, people["ann"], ("read:accounts",))
    assert (await client.get("/api/v1/conversations", headers=narrow)).status_code == 403
    reader = await bearer(ctx, people["ann"], ("read",))
    thread = await post(ctx, people["bob"].actor, "@ann hi", "direct", mentions=(people["ann"].actor,))
    assert (await client.post(f"/api/v1/conversations/{thread.id}/read", headers=reader)).status_code == 403


async def test_read_marks_stay_until_someone_else_writes_and_a_removed_conversation_comes_back(ctx, client, people):
    ann, bob = people["ann"].actor, people["bob"].actor
    thread = await post(ctx, bob, "@ann the results are in", "direct", mentions=(ann,))
    token = await bearer(ctx, people["ann"], ("read", "write"))
    [waiting] = await conversations(client, token)
    assert waiting["unread"] is True
    assert (await client.post(f"/api/v1/conversations/{thread.id}/read", headers=token)).json()["unread"] is False
    assert [c["unread"] for c in await conversations(client, token)] == [False]
    own = await post(ctx, ann, "@bob thank you", "direct", reply_to=thread, mentions=(bob,))
    assert [c["unread"] for c in await conversations(client, token)] == [False]  # her own answer
    await post(ctx, bob, "@ann see you monday", "direct", reply_to=own, mentions=(ann,))
    assert [c["unread"] for c in await conversations(client, token)] == [True]

    assert (await client.delete(f"/api/v1/conversations/{thread.id}", headers=token)).json() == {}
    assert await conversations(client, token) == []
    assert (await client.post(f"/api/v1/conversations/{thread.id}/read", headers=token)).status_code == 404
    assert len(await conversations(client, await bearer(ctx, people["bob"]))) == 1  # hidden for ann only
    latest = await post(ctx, bob, "@ann one more thing", "direct", reply_to=thread, mentions=(ann,))
    [back] = await conversations(client, token)
    assert (back["id"], back["unread"], back["last_status"]["id"]) == (str(thread.id), True, str(latest.id))
