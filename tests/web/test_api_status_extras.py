"""Bookmarks, pins, the favourites and bookmarks lists, edit history and source, the posting
app and `Idempotency-Key`, through the API as a client uses them, on both engines. Each
refusal also checks that nothing was written."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.tables import (
    Bookmark,
    Delivery,
    Follow,
    IdempotencyKey,
    OAuthAccessToken,
    OAuthApp,
    Pin,
    Status,
    StatusEdit,
)
from tests.conftest import add_account, add_remote_actor
from tests.support.api import bearer, boost, favourite, follow, post

EVERYTHING = ("read", "write")
TABLES = (Bookmark, Pin, Status, StatusEdit, IdempotencyKey, Delivery)


# The app without its workers, so the deliveries a post queues stay to be counted.
pytestmark = pytest.mark.without_workers


@pytest.fixture
async def people(ctx):
    """ann writes; bob follows her; eve is a stranger here."""
    accounts = {name: await add_account(ctx, name) for name in ("ann", "bob", "eve")}
    await follow(ctx, accounts["bob"].actor, accounts["ann"].actor)
    return accounts


async def row_counts(ctx) -> dict[str, int]:
    async with ctx.database.session() as session:
        return {table.__name__: (await session.exec(select(func.count()).select_from(table))).one()
                for table in TABLES}


def ids(response) -> list[str]:
    assert response.status_code == 200, response.text
    return [entity["id"] for entity in response.json()]


def next_link(response) -> str:
    return response.headers["link"].split(">")[0].lstrip("<")


# --- bookmarks ----------------------------------------------------------------------------

async def test_bookmark_then_list_then_unbookmark(ctx, client, people):
    first = await post(ctx, people["ann"].actor, "first")
    second = await post(ctx, people["ann"].actor, "second")
    headers = await bearer(ctx, people["bob"], EVERYTHING)
    marked = await client.post(f"/api/v1/statuses/{second.id}/bookmark", headers=headers)
    assert marked.status_code == 200, marked.text
    assert marked.json()["bookmarked"] is True
    await client.post(f"/api/v1/statuses/{first.id}/bookmark", headers=headers)
    again = await client.post(f"/api/v1/statuses/{first.id}/bookmark", headers=headers)
    assert again.json()["bookmarked"] is True and (await row_counts(ctx))["Bookmark"] == 2
    # Newest bookmark first, whatever the statuses' own order; one a page, following Link.
    page = await client.get("/api/v1/bookmarks", params={"limit": 1}, headers=headers)
    assert ids(page) == [str(first.id)]
    assert ids(await client.get(next_link(page), headers=headers)) == [str(second.id)]
    # The flag is the viewer's own.
    assert (await client.get(f"/api/v1/statuses/{first.id}", headers=headers)).json()["bookmarked"] is True
    assert (await client.get(f"/api/v1/statuses/{first.id}")).json()["bookmarked"] is False
    unmarked = await client.post(f"/api/v1/statuses/{first.id}/unbookmark", headers=headers)
    assert unmarked.status_code == 200 and unmarked.json()["bookmarked"] is False
    assert ids(await client.get("/api/v1/bookmarks", headers=headers)) == [str(second.id)]


async def test_bookmarked_post_the_viewer_can_no_longer_see_leaves_the_list(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "for followers", "private")
    headers = await bearer(ctx, people["bob"], EVERYTHING)
    assert (await client.post(f"/api/v1/statuses/{status.id}/bookmark", headers=headers)).status_code == 200
    await client.post(f"/api/v1/accounts/{people['ann'].actor.id}/unfollow", headers=headers)
    assert ids(await client.get("/api/v1/bookmarks", headers=headers)) == []
    # The bookmark can still be taken back.
    assert (await client.post(f"/api/v1/statuses/{status.id}/unbookmark", headers=headers)).status_code == 200
    assert (await row_counts(ctx))["Bookmark"] == 0


async def test_bookmarking_a_boost_bookmarks_the_boosted_post(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "please share")
    shared = await boost(ctx, people["eve"].actor, status, people["ann"].actor)
    headers = await bearer(ctx, people["bob"], EVERYTHING)
    marked = await client.post(f"/api/v1/statuses/{shared.id}/bookmark", headers=headers)
    assert marked.json()["id"] == str(status.id)
    async with ctx.database.session() as session:
        assert (await session.exec(select(Bookmark.status_id))).all() == [status.id]


async def test_favourites_list_shows_what_the_viewer_favourited_newest_first(ctx, client, people):
    ann = people["ann"].actor
    older, newer = await post(ctx, ann, "older"), await post(ctx, ann, "newer")
    await favourite(ctx, people["bob"].actor, newer, ann)
    await favourite(ctx, people["bob"].actor, older, ann)
    await favourite(ctx, people["eve"].actor, newer, ann)
    headers = await bearer(ctx, people["bob"], ("read:favourites",))
    listed = await client.get("/api/v1/favourites", headers=headers)
    assert ids(listed) == [str(older.id), str(newer.id)]
    assert all(entity["favourited"] for entity in listed.json())
    assert ids(await client.get("/api/v1/favourites", headers=await bearer(ctx, people["ann"]))) == []


# --- pins ---------------------------------------------------------------------------------

async def test_pin_own_posts_shows_them_on_the_profile_then_unpin(ctx, client, people):
    ann = people["ann"].actor
    public, private = await post(ctx, ann, "about me"), await post(ctx, ann, "followers", "private")
    headers = await bearer(ctx, people["ann"], EVERYTHING)
    for status in (public, private):
        pinned = await client.post(f"/api/v1/statuses/{status.id}/pin", headers=headers)
        assert pinned.status_code == 200, pinned.text
        assert pinned.json()["pinned"] is True
    profile = f"/api/v1/accounts/{ann.id}/statuses"
    assert ids(await client.get(profile, params={"pinned": "true"}, headers=headers)) == [str(private.id),
                                                                                          str(public.id)]
    # Others see the pins they may see; the flag is only the pinner's.
    seen = await client.get(profile, params={"pinned": "1"})
    assert ids(seen) == [str(public.id)] and seen.json()[0]["pinned"] is False
    unpinned = await client.post(f"/api/v1/statuses/{public.id}/unpin", headers=headers)
    assert unpinned.status_code == 200 and unpinned.json()["pinned"] is False
    assert ids(await client.get(profile, params={"pinned": "true"}, headers=headers)) == [str(private.id)]


async def test_pins_are_limited_to_five_and_to_ones_own_shareable_posts(ctx, client, people):
    ann, bob = people["ann"].actor, people["bob"].actor
    headers = await bearer(ctx, people["ann"], EVERYTHING)
    for number in range(5):
        status = await post(ctx, ann, f"pin {number}")
        assert (await client.post(f"/api/v1/statuses/{status.id}/pin", headers=headers)).status_code == 200
    sixth = await post(ctx, ann, "one too many")
    direct = await post(ctx, ann, "@bob hi", "direct", mentions=(bob,))
    local = await post(ctx, ann, "ward news", "local")
    bobs = await post(ctx, bob, "bob's post")
    boosted = await boost(ctx, ann, bobs, bob)
    hidden = await post(ctx, people["eve"].actor, "eve's secret", "private")
    before = await row_counts(ctx)
    refusals = {
        sixth.id: "You have already pinned the maximum number of posts",
        bobs.id: "Someone else's post cannot be pinned",
        boosted.id: "A boost cannot be pinned",
        direct.id: "Posts that are only visible to mentioned users cannot be pinned",
        local.id: "Local-only posts cannot be pinned",
    }
    for status_id, message in refusals.items():
        refused = await client.post(f"/api/v1/statuses/{status_id}/pin", headers=headers)
        assert refused.status_code == 422, message
        assert refused.json() == {"error": f"Validation failed: {message}"}
    assert (await client.post(f"/api/v1/statuses/{hidden.id}/pin", headers=headers)).status_code == 404
    assert await row_counts(ctx) == before


# --- edit history and source --------------------------------------------------------------

async def test_edit_history_lists_every_version_oldest_first(ctx, client, people):
    headers = await bearer(ctx, people["ann"], EVERYTHING)
    created = await client.post("/api/v1/statuses", headers=headers,
                                data={"status": "first draft", "visibility": "public"})
    status_id = created.json()["id"]
    never_edited = await client.get(f"/api/v1/statuses/{status_id}/history")
    assert [version["content"] for version in never_edited.json()] == ["<p>first draft</p>"]
    await client.put(f"/api/v1/statuses/{status_id}", headers=headers,
                     data={"status": "second draft", "spoiler_text": "drafts"})
    await client.put(f"/api/v1/statuses/{status_id}", headers=headers,
                     data={"status": "final", "spoiler_text": "", "sensitive": "0"})
    response = await client.get(f"/api/v1/statuses/{status_id}/history")
    assert response.status_code == 200, response.text
    versions = response.json()
    assert [(v["content"], v["spoiler_text"], v["sensitive"]) for v in versions] == [
        ("<p>first draft</p>", "", False), ("<p>second draft</p>", "drafts", True), ("<p>final</p>", "", False)]
    assert [v["created_at"] for v in versions] == sorted(v["created_at"] for v in versions)
    assert versions[0]["created_at"] == created.json()["created_at"]
    current = (await client.get(f"/api/v1/statuses/{status_id}")).json()
    assert versions[-1]["created_at"] == current["edited_at"]
    assert all(v["account"]["username"] == "ann" and v["media_attachments"] == [] and v["emojis"] == []
               for v in versions)
    async with ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(StatusEdit))).one() == 2


async def test_edit_adds_mentions_and_replaces_hashtags_through_the_outbox(ctx, client, people):
    carl = await add_remote_actor(ctx, "carl")
    headers = await bearer(ctx, people["ann"], EVERYTHING)
    created = await client.post("/api/v1/statuses", headers=headers,
                                data={"status": "@bob #old", "visibility": "public"})
    status_id = created.json()["id"]
    edited = await client.put(f"/api/v1/statuses/{status_id}", headers=headers,
                              data={"status": "@carl@inova.test #new #newer"})
    assert edited.status_code == 200, edited.text
    # bob stays mentioned (he was told already); carl is added and hears about the edit.
    assert [mention["acct"] for mention in edited.json()["mentions"]] == ["bob", "carl@inova.test"]
    assert [tag["name"] for tag in edited.json()["tags"]] == ["new", "newer"]
    async with ctx.database.session() as session:
        [delivery] = (await session.exec(select(Delivery))).all()
    assert delivery.inbox_uri == carl.shared_inbox_uri
    update = json.loads(delivery.body)
    assert update["type"] == "Update" and update["object"]["id"] == created.json()["uri"]


async def test_history_of_a_post_the_viewer_may_not_see_is_not_found(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "followers only", "private")
    assert (await client.get(f"/api/v1/statuses/{status.id}/history")).status_code == 404
    stranger = await bearer(ctx, people["eve"])
    assert (await client.get(f"/api/v1/statuses/{status.id}/history", headers=stranger)).status_code == 404
    follower = await bearer(ctx, people["bob"])
    assert (await client.get(f"/api/v1/statuses/{status.id}/history", headers=follower)).status_code == 200


async def test_source_gives_the_text_as_written_to_its_author_only(ctx, client, people):
    await add_remote_actor(ctx, "carl")
    headers = await bearer(ctx, people["ann"], EVERYTHING)
    text = "hello @carl@inova.test and @bob\n\nsee https://example.org #Tea"
    created = await client.post("/api/v1/statuses", headers=headers,
                                data={"status": text, "spoiler_text": "long", "visibility": "public"})
    status_id = created.json()["id"]
    source = await client.get(f"/api/v1/statuses/{status_id}/source", headers=headers)
    assert source.status_code == 200, source.text
    assert source.json() == {"id": status_id, "text": text, "spoiler_text": "long"}
    assert (await client.get(f"/api/v1/statuses/{status_id}/source")).status_code == 401
    other = await client.get(f"/api/v1/statuses/{status_id}/source", headers=await bearer(ctx, people["bob"]))
    assert other.status_code == 404


# --- posting: the app, Idempotency-Key ----------------------------------------------------

async def remote_follower(ctx, followee):
    dora = await add_remote_actor(ctx, "dora")
    async with ctx.database.transaction() as session:
        session.add(Follow(follower_id=dora.id, followee_id=followee.id, state="accepted", uri=f"{dora.uri}#f/1"))
    return dora


async def test_same_idempotency_key_twice_posts_once_and_delivers_once(ctx, client, people):
    await remote_follower(ctx, people["ann"].actor)
    headers = {**await bearer(ctx, people["ann"], EVERYTHING), "Idempotency-Key": "toot-1234"}
    body = {"status": "posted once", "visibility": "public"}
    first = await client.post("/api/v1/statuses", headers=headers, data=body)
    assert first.status_code == 200, first.text
    before = await row_counts(ctx)
    again = await client.post("/api/v1/statuses", headers=headers, data=body)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert await row_counts(ctx) == before
    assert before["Status"] == 1 and before["Delivery"] == 1 and before["IdempotencyKey"] == 1


async def test_idempotency_key_is_per_person_and_per_hour(ctx, client, people):
    ann = {**await bearer(ctx, people["ann"], EVERYTHING), "Idempotency-Key": "same"}
    bob = {**await bearer(ctx, people["bob"], EVERYTHING), "Idempotency-Key": "same"}
    first = (await client.post("/api/v1/statuses", headers=ann, data={"status": "ann's"})).json()
    other = (await client.post("/api/v1/statuses", headers=bob, data={"status": "bob's"})).json()
    assert other["id"] != first["id"] and other["account"]["username"] == "bob"
    other_key = {**ann, "Idempotency-Key": "different"}
    assert (await client.post("/api/v1/statuses", headers=other_key, data={"status": "x"})).json()["id"] != first["id"]
    async with ctx.database.transaction() as session:  # an hour and a bit later
        row = (await session.exec(select(IdempotencyKey).where(IdempotencyKey.key == "same",
                                                               IdempotencyKey.status_id == int(first["id"])))).one()
        row.created_at = row.created_at.replace(year=row.created_at.year - 1)
        session.add(row)
    later = await client.post("/api/v1/statuses", headers=ann, data={"status": "ann's"})
    assert later.status_code == 200 and later.json()["id"] != first["id"]
    assert (await row_counts(ctx))["Status"] == 4


async def test_post_records_the_app_it_was_made_with(ctx, client, people):
    headers = await bearer(ctx, people["ann"], EVERYTHING)
    async with ctx.database.transaction() as session:
        app = (await session.exec(select(OAuthApp).join(OAuthAccessToken, OAuthAccessToken.app_id == OAuthApp.id)
                                  .order_by(OAuthAccessToken.id.desc()))).first()
        app.website = "https://app.example"
        session.add(app)
    created = await client.post("/api/v1/statuses", headers=headers, data={"status": "from my phone"})
    assert created.json()["application"] == {"name": "Test app", "website": "https://app.example"}
    read = await client.get(f"/api/v1/statuses/{created.json()['id']}", headers=await bearer(ctx, people["bob"]))
    assert read.json()["application"] == {"name": "Test app", "website": "https://app.example"}
    without_app = await post(ctx, people["ann"].actor, "made without an app")
    assert (await client.get(f"/api/v1/statuses/{without_app.id}")).json()["application"] is None


# --- tokens, scopes, unknown ids ----------------------------------------------------------

@pytest.mark.parametrize(("method", "path", "scope"), [
    ("POST", "/api/v1/statuses/{id}/bookmark", "write:bookmarks"),
    ("POST", "/api/v1/statuses/{id}/unbookmark", "write:bookmarks"),
    ("POST", "/api/v1/statuses/{id}/pin", "write:accounts"),
    ("POST", "/api/v1/statuses/{id}/unpin", "write:accounts"),
    ("GET", "/api/v1/statuses/{id}/source", "read:statuses"),
    ("GET", "/api/v1/bookmarks", "read:bookmarks"),
    ("GET", "/api/v1/favourites", "read:favourites"),
])
async def test_every_route_wants_a_token_with_its_scope_and_a_known_id(ctx, client, people, method, path, scope):
    status = await post(ctx, people["ann"].actor, "a post")
    target = path.format(id=status.id)
    before = await row_counts(ctx)
    assert (await client.request(method, target)).status_code == 401
    wrong = await bearer(ctx, people["ann"], ("read:accounts", "write:statuses"))
    refused = await client.request(method, target, headers=wrong)
    assert refused.status_code == 403
    assert refused.json() == {"error": "This action is outside the authorized scopes"}
    allowed = await bearer(ctx, people["ann"], (scope,))
    if "{id}" in path:
        for unknown in ("999999", "abc", "-1"):
            missing = await client.request(method, path.format(id=unknown), headers=allowed)
            assert missing.status_code == 404, unknown
    assert await row_counts(ctx) == before
    assert (await client.request(method, target, headers=allowed)).status_code == 200
