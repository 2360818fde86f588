"""Following, blocking and follow requests through the client API, in one app on a real
database: the Relationship each action answers, what it writes, and what it refuses."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.tables import Actor, Block, Delivery, Follow
from tests.conftest import add_account, add_remote_actor
from tests.support.api import bearer, boost, follow, post

NOT_FOUND = {"error": "Record not found"}


async def count(ctx, table) -> int:
    async with ctx.database.session() as session:
        return (await session.exec(select(func.count()).select_from(table))).one()


async def follow_state(ctx, follower_id: int, followee_id: int) -> str | None:
    async with ctx.database.session() as session:
        found = await session.exec(select(Follow.state).where(
            Follow.follower_id == follower_id, Follow.followee_id == followee_id))
        return found.first()


async def relationship_of(client, headers, target_id: int) -> dict:
    response = await client.get("/api/v1/accounts/relationships", params={"id[]": str(target_id)},
                                headers=headers)
    assert response.status_code == 200, response.text
    [entity] = response.json()
    return entity


@pytest.fixture
async def people(ctx):
    """ann and bob are members (locked, as members are by default); dr_bo is unlocked staff."""
    return {
        "ann": await add_account(ctx, "ann"),
        "bob": await add_account(ctx, "bob"),
        "dr_bo": await add_account(ctx, "dr_bo", role="staff"),
    }


async def test_follow_unlocked_account_then_unfollow(ctx, client, people):
    ann = await bearer(ctx, people["ann"], ("read", "write"))
    bo_id = people["dr_bo"].actor.id
    response = await client.post(f"/api/v1/accounts/{bo_id}/follow", headers=ann)
    assert response.status_code == 200, response.text
    entity = response.json()
    assert entity["id"] == str(bo_id)
    assert (entity["following"], entity["requested"], entity["showing_reblogs"]) == (True, False, True)
    assert await follow_state(ctx, people["ann"].actor.id, bo_id) == "accepted"
    assert (await relationship_of(client, ann, bo_id))["following"] is True
    bo = await bearer(ctx, people["dr_bo"])
    assert (await relationship_of(client, bo, people["ann"].actor.id))["followed_by"] is True
    followers = await client.get(f"/api/v1/accounts/{bo_id}/followers")
    assert [a["id"] for a in followers.json()] == [str(people["ann"].actor.id)]

    response = await client.post(f"/api/v1/accounts/{bo_id}/unfollow", headers=ann)
    assert response.status_code == 200, response.text
    assert (response.json()["following"], response.json()["requested"]) == (False, False)
    assert await follow_state(ctx, people["ann"].actor.id, bo_id) is None
    assert await count(ctx, Delivery) == 0  # local follows send nothing


async def test_follow_twice_keeps_one_follow(ctx, client, people):
    ann = await bearer(ctx, people["ann"], ("write:follows",))
    bo_id = people["dr_bo"].actor.id
    for _ in range(2):
        response = await client.post(f"/api/v1/accounts/{bo_id}/follow", headers=ann,
                                     json={"reblogs": False, "notify": True})
        assert response.status_code == 200, response.text
        assert response.json()["following"] is True
    assert await count(ctx, Follow) == 1


async def test_following_again_changes_the_follow_settings_and_nothing_else(ctx, client, people):
    ann = await bearer(ctx, people["ann"], ("read", "write:follows"))
    bo_id = people["dr_bo"].actor.id
    first = (await client.post(f"/api/v1/accounts/{bo_id}/follow", headers=ann)).json()
    assert (first["following"], first["showing_reblogs"], first["notifying"]) == (True, True, False)
    # Mastodon.py sends its booleans as "0"/"1" in a form.
    changed = await client.post(f"/api/v1/accounts/{bo_id}/follow", headers=ann, data={"reblogs": "0", "notify": "1"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["showing_reblogs"], changed.json()["notifying"]) == (False, True)
    # A setting left out stays as it was.
    kept = (await client.post(f"/api/v1/accounts/{bo_id}/follow", headers=ann, json={"notify": False})).json()
    assert (kept["showing_reblogs"], kept["notifying"]) == (False, False)
    assert (await relationship_of(client, ann, bo_id))["showing_reblogs"] is False
    assert await count(ctx, Follow) == 1


async def home_texts(client, headers) -> list[str]:
    response = await client.get("/api/v1/timelines/home", headers=headers)
    assert response.status_code == 200, response.text
    return [(entry["reblog"] or entry)["content"] for entry in response.json()]


async def test_reblogs_false_keeps_their_boosts_out_of_the_home_timeline(ctx, client, people):
    ann = await bearer(ctx, people["ann"], ("read", "write:follows"))
    ann_actor, bo, bob = people["ann"].actor, people["dr_bo"].actor, people["bob"].actor
    await client.post(f"/api/v1/accounts/{bo.id}/follow", headers=ann, json={"reblogs": False})
    await follow(ctx, ann_actor, bob)
    boosted = await post(ctx, bo, "Handwashing week starts Monday")
    await boost(ctx, bo, await post(ctx, bob, "Our ward's garden is open"), bob)
    texts = await home_texts(client, ann)
    assert "<p>Handwashing week starts Monday</p>" in texts
    assert texts.count("<p>Our ward's garden is open</p>") == 1  # bob's own post, not dr_bo's boost of it
    await boost(ctx, bob, boosted, bo)
    assert (await home_texts(client, ann)).count("<p>Handwashing week starts Monday</p>") == 2  # bob's boosts show

    await client.post(f"/api/v1/accounts/{bo.id}/follow", headers=ann, json={"reblogs": True})
    assert (await home_texts(client, ann)).count("<p>Our ward's garden is open</p>") == 2


async def notified(client, headers) -> list[tuple[str, str]]:
    response = await client.get("/api/v1/notifications", headers=headers)
    assert response.status_code == 200, response.text
    return [(entry["type"], entry["status"]["content"]) for entry in response.json() if "status" in entry]


async def test_notify_true_tells_of_each_new_post_but_not_boosts_directs_or_replies_to_others(ctx, client, people):
    ann = await bearer(ctx, people["ann"], ("read", "write:follows"))
    bob = await bearer(ctx, people["bob"], ("read", "write:follows"))
    bo = people["dr_bo"].actor
    await client.post(f"/api/v1/accounts/{bo.id}/follow", headers=ann, json={"notify": True})
    await client.post(f"/api/v1/accounts/{bo.id}/follow", headers=bob)  # follows, but did not ask

    first = await post(ctx, bo, "Flu clinic open until 8pm")
    await post(ctx, bo, "Only for my followers", visibility="private")
    await post(ctx, bo, "A thread, part two", reply_to=first)  # answering oneself is a new post too
    await post(ctx, bo, "Just between us", visibility="direct", mentions=(people["bob"].actor,))
    await post(ctx, bo, "Reply to bob", reply_to=await post(ctx, people["bob"].actor, "A question"))
    await boost(ctx, bo, await post(ctx, people["bob"].actor, "Worth sharing"), people["bob"].actor)

    assert sorted(await notified(client, ann)) == [
        ("status", "<p>A thread, part two</p>"), ("status", "<p>Flu clinic open until 8pm</p>"),
        ("status", "<p>Only for my followers</p>")]
    assert all(kind != "status" for kind, _ in await notified(client, bob))

    # Asking no more stops them.
    await client.post(f"/api/v1/accounts/{bo.id}/follow", headers=ann, json={"notify": False})
    await post(ctx, bo, "Later news")
    assert ("status", "<p>Later news</p>") not in await notified(client, ann)


async def test_follow_locked_account_is_requested_until_authorized(ctx, client, people):
    ann = await bearer(ctx, people["ann"], ("follow",))
    bob = await bearer(ctx, people["bob"], ("read", "follow"))
    ann_id, bob_id = people["ann"].actor.id, people["bob"].actor.id
    response = await client.post(f"/api/v1/accounts/{bob_id}/follow", headers=ann,
                                 data={"reblogs": "1", "notify": "0"})
    assert response.status_code == 200, response.text
    assert (response.json()["following"], response.json()["requested"]) == (False, True)
    assert await follow_state(ctx, ann_id, bob_id) == "pending"
    assert (await relationship_of(client, bob, ann_id))["requested_by"] is True

    requests = await client.get("/api/v1/follow_requests", headers=bob)
    assert requests.status_code == 200, requests.text
    assert [(a["id"], a["acct"]) for a in requests.json()] == [(str(ann_id), "ann")]
    assert "link" in requests.headers

    response = await client.post(f"/api/v1/follow_requests/{ann_id}/authorize", headers=bob)
    assert response.status_code == 200, response.text
    entity = response.json()
    assert entity["id"] == str(ann_id)
    assert (entity["followed_by"], entity["requested_by"]) == (True, False)
    assert await follow_state(ctx, ann_id, bob_id) == "accepted"
    assert (await client.get("/api/v1/follow_requests", headers=bob)).json() == []
    assert (await relationship_of(client, ann, bob_id))["following"] is True
    # Authorized once: there is nothing left to authorize.
    again = await client.post(f"/api/v1/follow_requests/{ann_id}/authorize", headers=bob)
    assert again.status_code == 404 and again.json() == NOT_FOUND


async def test_follow_request_rejected_removes_it(ctx, client, people):
    bob = await bearer(ctx, people["bob"], ("read", "write"))
    ann_id, bob_id = people["ann"].actor.id, people["bob"].actor.id
    await follow(ctx, people["ann"].actor, people["bob"].actor, accept=False)
    response = await client.post(f"/api/v1/follow_requests/{ann_id}/reject", headers=bob)
    assert response.status_code == 200, response.text
    assert (response.json()["followed_by"], response.json()["requested_by"]) == (False, False)
    assert await follow_state(ctx, ann_id, bob_id) is None
    assert (await client.get("/api/v1/follow_requests", headers=bob)).json() == []


async def test_unfollow_withdraws_a_pending_request(ctx, client, people):
    ann = await bearer(ctx, people["ann"], ("write:follows",))
    ann_id, bob_id = people["ann"].actor.id, people["bob"].actor.id
    await client.post(f"/api/v1/accounts/{bob_id}/follow", headers=ann)
    assert await follow_state(ctx, ann_id, bob_id) == "pending"
    response = await client.post(f"/api/v1/accounts/{bob_id}/unfollow", headers=ann)
    assert response.json()["requested"] is False
    assert await follow_state(ctx, ann_id, bob_id) is None


async def test_follow_requests_page_with_link_headers(ctx, client, people):
    askers = [await add_account(ctx, f"patient{n}") for n in range(3)]
    for asker in askers:
        await follow(ctx, asker.actor, people["bob"].actor, accept=False)
    await follow(ctx, people["ann"].actor, people["dr_bo"].actor)  # someone else's, accepted
    bob = await bearer(ctx, people["bob"], ("read:follows",))
    first = await client.get("/api/v1/follow_requests", params={"limit": "2"}, headers=bob)
    assert [a["username"] for a in first.json()] == ["patient2", "patient1"]
    link = first.headers["link"]
    next_url = link.split(">; rel=\"next\"")[0].lstrip("<")
    assert next_url.startswith("http://mayo.test/api/v1/follow_requests?") or next_url.startswith(
        "https://mayo.test/api/v1/follow_requests?")
    second = await client.get(next_url.split("mayo.test", 1)[1], headers=bob)
    assert [a["username"] for a in second.json()] == ["patient0"]


async def test_block_removes_follows_both_ways_and_unblock_restores_nothing(ctx, client, people):
    ann = await bearer(ctx, people["ann"], ("read", "write"))
    ann_id, bo_id = people["ann"].actor.id, people["dr_bo"].actor.id
    await follow(ctx, people["ann"].actor, people["dr_bo"].actor)
    await follow(ctx, people["dr_bo"].actor, people["ann"].actor)
    assert await count(ctx, Follow) == 2
    response = await client.post(f"/api/v1/accounts/{bo_id}/block", headers=ann)
    assert response.status_code == 200, response.text
    entity = response.json()
    assert (entity["blocking"], entity["following"], entity["followed_by"]) == (True, False, False)
    assert await count(ctx, Follow) == 0
    assert await count(ctx, Block) == 1
    bo = await bearer(ctx, people["dr_bo"], ("read", "write"))
    assert (await relationship_of(client, bo, ann_id))["blocked_by"] is True
    # The blocked one cannot follow back, and the blocker must unblock first.
    refused = await client.post(f"/api/v1/accounts/{ann_id}/follow", headers=bo)
    assert refused.status_code == 403
    refused = await client.post(f"/api/v1/accounts/{bo_id}/follow", headers=ann)
    assert refused.status_code == 403
    assert await count(ctx, Follow) == 0

    response = await client.post(f"/api/v1/accounts/{bo_id}/unblock", headers=ann)
    assert response.status_code == 200, response.text
    assert (response.json()["blocking"], response.json()["following"]) == (False, False)
    assert await count(ctx, Block) == 0


async def test_follow_remote_account_is_requested_and_queues_a_follow(ctx, client, people):
    remote = await add_remote_actor(ctx, "dr_who")
    ann = await bearer(ctx, people["ann"], ("write:follows", "read:follows"))
    response = await client.post(f"/api/v1/accounts/{remote.id}/follow", headers=ann)
    assert response.status_code == 200, response.text
    assert (response.json()["following"], response.json()["requested"]) == (False, True)
    assert await follow_state(ctx, people["ann"].actor.id, remote.id) == "pending"
    async with ctx.database.session() as session:
        delivery = (await session.exec(select(Delivery))).one()
    assert delivery.inbox_uri == f"{remote.uri}/inbox"
    body = json.loads(delivery.body)
    assert (body["type"], body["object"]) == ("Follow", remote.uri)


async def test_refusals_write_nothing(ctx, client, people):
    bo_id, ann_id = people["dr_bo"].actor.id, people["ann"].actor.id
    await follow(ctx, people["bob"].actor, people["ann"].actor, accept=False)
    before = (await count(ctx, Follow), await count(ctx, Block), await count(ctx, Delivery))
    read_only = await bearer(ctx, people["ann"], ("read",))
    writer = await bearer(ctx, people["ann"], ("write:follows", "write:blocks"))
    follows_only = await bearer(ctx, people["ann"], ("write:follows",))
    cases = [
        ("post", f"/api/v1/accounts/{bo_id}/follow", {}, 401),
        ("post", f"/api/v1/accounts/{bo_id}/follow", {"Authorization": "Bearer nonsense"}, 401),
        ("post", f"/api/v1/accounts/{bo_id}/follow", read_only, 403),
        ("post", f"/api/v1/accounts/{bo_id}/block", follows_only, 403),
        ("post", f"/api/v1/follow_requests/{people['bob'].actor.id}/authorize", read_only, 403),
        ("get", "/api/v1/follow_requests", {}, 401),
        ("get", "/api/v1/follow_requests", writer, 403),
        ("post", "/api/v1/accounts/999999/follow", writer, 404),
        ("post", "/api/v1/accounts/not-an-id/block", writer, 404),
        ("post", f"/api/v1/accounts/{ann_id}/follow", writer, 422),
        ("post", f"/api/v1/accounts/{ann_id}/block", writer, 422),
        ("post", f"/api/v1/follow_requests/{bo_id}/authorize", writer, 404),  # bo never asked
        ("post", f"/api/v1/follow_requests/{bo_id}/reject", writer, 404),
        ("post", "/api/v1/follow_requests/999999/reject", writer, 404),
    ]
    for method, path, headers, expected in cases:
        response = await getattr(client, method)(path, headers=headers)
        assert response.status_code == expected, (method, path, response.text)
        assert "error" in response.json()
    assert (await count(ctx, Follow), await count(ctx, Block), await count(ctx, Delivery)) == before
    assert await follow_state(ctx, people["bob"].actor.id, ann_id) == "pending"


async def test_instance_actor_cannot_be_followed(ctx, client, people):
    ann = await bearer(ctx, people["ann"], ("write:follows",))
    async with ctx.database.session() as session:
        instance = (await session.exec(select(Actor).where(Actor.uri == ctx.urls.instance_actor))).one()
    response = await client.post(f"/api/v1/accounts/{instance.id}/follow", headers=ann)
    assert response.status_code == 404
    assert await count(ctx, Follow) == 0


# --- search in one instance -----------------------------------------------------------------

async def search(client, headers=None, **params):
    response = await client.get("/api/v2/search", params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"accounts", "statuses", "hashtags"}
    return body


async def test_search_finds_local_and_known_remote_accounts_by_name_prefix(ctx, client, people):
    await add_remote_actor(ctx, "dr_who")
    await add_account(ctx, "carla", display_name="Dr Carla Ortiz")
    gone = await add_account(ctx, "dr_gone")
    async with ctx.database.transaction() as session:
        gone.user.approved = False
        session.add(gone.user)
    ann = await bearer(ctx, people["ann"])
    found = await search(client, ann, q="DR")
    assert [a["acct"] for a in found["accounts"]] == ["carla", "dr_bo", "dr_who@inova.test"]
    assert [a["acct"] for a in (await search(client, q="@dr_w"))["accounts"]] == ["dr_who@inova.test"]
    assert [a["acct"] for a in (await search(client, ann, q="dr", limit="1", offset="1"))["accounts"]] == [
        "dr_bo"]
    assert (await search(client, ann, q="dr", type="hashtags"))["accounts"] == []
    assert (await search(client, ann, q="mayo.test"))["accounts"] == []  # never the instance actor
    assert (await search(client, ann, q="%"))["accounts"] == []  # a LIKE wildcard is only a character


async def test_search_finds_known_accounts_by_exact_handle_without_resolving(ctx, client, people):
    await add_remote_actor(ctx, "dr_who")
    ann = await bearer(ctx, people["ann"])
    assert [a["acct"] for a in (await search(client, ann, q="dr_who@INOVA.test"))["accounts"]] == [
        "dr_who@inova.test"]
    assert [a["acct"] for a in (await search(client, ann, q="@bob@mayo.test"))["accounts"]] == ["bob"]
    assert (await search(client, ann, q="dr@inova.test"))["accounts"] == []


async def test_search_finds_hashtags_of_public_posts_only(ctx, client, people):

    bo, ann = people["dr_bo"].actor, people["ann"].actor
    await post(ctx, bo, "#FluShots open", "public", hashtags=("flushots",))
    await post(ctx, bo, "flu", "unlisted", hashtags=("flu",))
    await post(ctx, ann, "secret", "direct", hashtags=("flusecret",), mentions=(bo,))
    found = await search(client, q="#flu")
    assert found["hashtags"] == [
        {"name": "flu", "url": "https://mayo.test/tags/flu", "history": [], "following": False},
        {"name": "flushots", "url": "https://mayo.test/tags/flushots", "history": [], "following": False}]
    assert (await search(client, q="flu", type="accounts"))["hashtags"] == []
    assert (await search(client, q="flu", type="nonsense")) == {"accounts": [], "statuses": [], "hashtags": []}


async def test_search_by_url_of_a_known_status_respects_visibility(ctx, client, people):

    public = await post(ctx, people["dr_bo"].actor, "open day", "public")
    private = await post(ctx, people["bob"].actor, "my rota", "private")
    ann = await bearer(ctx, people["ann"])
    assert [s["id"] for s in (await search(client, ann, q=public.uri))["statuses"]] == [str(public.id)]
    assert (await search(client, ann, q=private.uri))["statuses"] == []
    bob = await bearer(ctx, people["bob"])
    assert [s["id"] for s in (await search(client, bob, q=private.uri))["statuses"]] == [str(private.id)]


async def test_anonymous_search_may_not_resolve_or_page(ctx, client, people):
    for params in ({"q": "dr_who@inova.test", "resolve": "true"}, {"q": "dr", "offset": "20"}):
        response = await client.get("/api/v2/search", params=params)
        assert response.status_code == 401, params
        assert "error" in response.json()
    no_search_scope = await bearer(ctx, people["ann"], ("write",))
    assert (await client.get("/api/v2/search", params={"q": "dr"}, headers=no_search_scope)).status_code == 403
    assert await search(client, q="") == {"accounts": [], "statuses": [], "hashtags": []}
