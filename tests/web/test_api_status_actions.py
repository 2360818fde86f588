"""The write side of statuses through the real app and database, posted the way clients post:
form bodies with Mastodon.py's "1"/"0" booleans, JSON with real ones, multipart. Every
scenario reads the result back through the read API and checks the rows behind it."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.tables import Delivery, Favourite, Follow, Mention, Status, StatusTag
from tests.conftest import add_account, add_remote_actor
from tests.support.api import bearer, follow, post, remote_post
from web.api.entities.instance import MAX_STATUS_CHARACTERS

WRITE = ("read", "write:statuses", "write:favourites")
TABLES = (Status, Mention, StatusTag, Delivery, Favourite)


# The app without its workers, so the deliveries a post queues stay to be counted.
pytestmark = pytest.mark.without_workers


@pytest.fixture
async def people(ctx):
    """ann writes; bob follows her; eve is a stranger here; carl is on inova.test, known to us."""
    accounts = {name: await add_account(ctx, name) for name in ("ann", "bob", "eve")}
    await follow(ctx, accounts["bob"].actor, accounts["ann"].actor)
    return accounts


@pytest.fixture
async def carl(ctx):
    return await add_remote_actor(ctx, "carl")


async def remote_follower(ctx, followee, username: str, domain: str = "inova.test"):
    actor = await add_remote_actor(ctx, username, domain)
    async with ctx.database.transaction() as session:
        session.add(Follow(follower_id=actor.id, followee_id=followee.id, state="accepted",
                           uri=f"{actor.uri}#follows/1"))
    return actor


async def row_counts(ctx) -> dict[str, int]:
    async with ctx.database.session() as session:
        return {table.__name__: (await session.exec(select(func.count()).select_from(table))).one()
                for table in TABLES}


async def rows(ctx, table, *conditions):
    async with ctx.database.session() as session:
        return list((await session.exec(select(table).where(*conditions))).all())


async def write_token(ctx, account, scopes=WRITE) -> dict[str, str]:
    return await bearer(ctx, account, scopes)


# --- posting ------------------------------------------------------------------------------

async def test_post_form_encoded_like_mastodon_py_then_read_it_back(ctx, client, people):
    headers = await write_token(ctx, people["ann"])
    response = await client.post("/api/v1/statuses", headers=headers, data={
        "status": "Clinic opens at 9 <sharp>\n\nBring your card", "visibility": "public",
        "sensitive": "0", "language": "en"})
    assert response.status_code == 200, response.text
    entity = response.json()
    assert entity["content"] == "<p>Clinic opens at 9 &lt;sharp&gt;</p><p>Bring your card</p>"
    assert entity["visibility"] == "public" and entity["sensitive"] is False and entity["language"] == "en"
    assert entity["account"]["username"] == "ann"
    read = await client.get(f"/api/v1/statuses/{entity['id']}")
    assert read.status_code == 200 and read.json()["content"] == entity["content"]
    [row] = await rows(ctx, Status, Status.id == int(entity["id"]))
    assert row.local and row.actor_id == people["ann"].actor.id and row.uri == entity["uri"]


async def test_post_in_json_with_a_trailing_slash_and_real_booleans(ctx, client, people):
    headers = await write_token(ctx, people["ann"])
    response = await client.post("/api/v1/statuses/", headers=headers,
                                 json={"status": "json post", "visibility": "unlisted", "sensitive": True})
    assert response.status_code == 200, response.text
    assert response.json()["visibility"] == "unlisted" and response.json()["sensitive"] is True


async def test_post_as_multipart_form(ctx, client, people):
    headers = await write_token(ctx, people["ann"])
    response = await client.post("/api/v1/statuses", headers=headers,
                                 data={"status": "multipart", "visibility": "public"},
                                 files={"unused": ("a.txt", b"x", "text/plain")})
    assert response.status_code == 200, response.text
    assert response.json()["content"] == "<p>multipart</p>"


async def test_visibility_defaults_to_the_users_setting(ctx, client, people):
    response = await client.post("/api/v1/statuses", headers=await write_token(ctx, people["ann"]),
                                 data={"status": "no visibility given"})
    assert response.status_code == 200, response.text
    assert response.json()["visibility"] == people["ann"].user.default_visibility == "private"


async def test_reply_in_json_points_at_its_parent_and_shows_in_the_thread(ctx, client, people):
    parent = await post(ctx, people["ann"].actor, "who is coming on Sunday?")
    response = await client.post("/api/v1/statuses", headers=await write_token(ctx, people["bob"]),
                                 json={"status": "me!", "in_reply_to_id": parent.id, "visibility": "public"})
    assert response.status_code == 200, response.text
    reply = response.json()
    assert reply["in_reply_to_id"] == str(parent.id)
    assert reply["in_reply_to_account_id"] == str(people["ann"].actor.id)
    thread = await client.get(f"/api/v1/statuses/{parent.id}/context")
    assert [entity["id"] for entity in thread.json()["descendants"]] == [reply["id"]]
    [row] = await rows(ctx, Status, Status.id == int(reply["id"]))
    assert row.in_reply_to_uri == parent.uri


async def test_reply_to_a_post_the_viewer_may_not_see_is_not_found_and_writes_nothing(ctx, client, people):
    hidden = await post(ctx, people["ann"].actor, "followers only", "private")
    before = await row_counts(ctx)
    headers = await write_token(ctx, people["eve"])
    for reply_to in (str(hidden.id), "999999", "abc"):
        response = await client.post("/api/v1/statuses", headers=headers,
                                     data={"status": "sneaky", "in_reply_to_id": reply_to})
        assert response.status_code == 404, reply_to
        assert response.json() == {"error": "Record not found"}
    assert await row_counts(ctx) == before


async def test_content_warning_is_kept_and_marks_the_post_sensitive(ctx, client, people):
    response = await client.post("/api/v1/statuses", headers=await write_token(ctx, people["ann"]), data={
        "status": "the results", "spoiler_text": "exam results", "sensitive": "0", "visibility": "public"})
    assert response.status_code == 200, response.text
    read = (await client.get(f"/api/v1/statuses/{response.json()['id']}")).json()
    assert read["spoiler_text"] == "exam results" and read["sensitive"] is True


async def test_local_only_post_is_never_delivered(ctx, client, people):
    await remote_follower(ctx, people["ann"].actor, "dora")
    response = await client.post("/api/v1/statuses", headers=await write_token(ctx, people["ann"]),
                                 data={"status": "coffee morning in ward 4", "visibility": "local"})
    assert response.status_code == 200, response.text
    status_id = response.json()["id"]
    assert response.json()["visibility"] == "local"
    assert (await row_counts(ctx))["Delivery"] == 0
    assert (await client.get(f"/api/v1/statuses/{status_id}")).status_code == 404
    seen = await client.get(f"/api/v1/statuses/{status_id}", headers=await bearer(ctx, people["eve"]))
    assert seen.status_code == 200


async def test_followers_only_post_is_delivered_once_to_the_remote_follower(ctx, client, people):
    dora = await remote_follower(ctx, people["ann"].actor, "dora")
    response = await client.post("/api/v1/statuses", headers=await write_token(ctx, people["ann"]),
                                 data={"status": "for my followers", "visibility": "private"})
    assert response.status_code == 200, response.text
    [delivery] = await rows(ctx, Delivery)
    assert delivery.inbox_uri == dora.shared_inbox_uri and delivery.host == "inova.test"
    document = json.loads(delivery.body)
    assert document["type"] == "Create" and document["object"]["id"] == response.json()["uri"]
    assert "https://www.w3.org/ns/activitystreams#Public" not in document["to"] + document.get("cc", [])
    follower_view = await client.get(f"/api/v1/statuses/{response.json()['id']}",
                                     headers=await bearer(ctx, people["bob"]))
    assert follower_view.status_code == 200
    stranger_view = await client.get(f"/api/v1/statuses/{response.json()['id']}",
                                      headers=await bearer(ctx, people["eve"]))
    assert stranger_view.status_code == 404


async def test_mentions_and_hashtags_are_rendered_stored_and_delivered(ctx, client, people, carl):
    text = "@bob @carl@inova.test @ghost@nowhere.test #Tea at #WardFour"
    response = await client.post("/api/v1/statuses", headers=await write_token(ctx, people["ann"]),
                                 data={"status": text, "visibility": "public"})
    assert response.status_code == 200, response.text
    entity = response.json()
    assert [mention["acct"] for mention in entity["mentions"]] == ["bob", "carl@inova.test"]
    assert [tag["name"] for tag in entity["tags"]] == ["tea", "wardfour"]
    status_id = int(entity["id"])
    [row] = await rows(ctx, Status, Status.id == status_id)
    assert ('<span class="h-card" translate="no"><a href="https://mayo.test/@bob" class="u-url mention">'
            "@<span>bob</span></a></span>") in row.content
    assert f'<a href="{carl.uri}" class="u-url mention">@<span>carl</span></a>' in row.content
    assert "@ghost@nowhere.test" in row.content
    assert ('<a href="https://mayo.test/tags/wardfour" class="mention hashtag" rel="tag">'
            "#<span>WardFour</span></a>") in row.content
    # Clients get it through the sanitizer, which keeps the classes they style.
    assert entity["content"].count('class="u-url mention"') == 2 and "@<span>carl</span>" in entity["content"]
    assert 'href="https://mayo.test/tags/wardfour" class="mention hashtag"' in entity["content"]
    status_id = int(entity["id"])
    assert {row.actor_uri for row in await rows(ctx, Mention, Mention.status_id == status_id)} == {
        people["bob"].actor.uri, carl.uri}
    assert [row.name for row in await rows(ctx, StatusTag, StatusTag.status_id == status_id)] == ["tea", "wardfour"]
    [delivery] = await rows(ctx, Delivery)
    assert delivery.inbox_uri == carl.shared_inbox_uri
    note = json.loads(delivery.body)["object"]
    assert {tag["type"] for tag in note["tag"]} == {"Mention", "Hashtag"}


async def test_direct_post_reaches_only_the_mentioned(ctx, client, people):
    response = await client.post("/api/v1/statuses", headers=await write_token(ctx, people["ann"]),
                                 json={"status": "@eve see you at 3", "visibility": "direct"})
    assert response.status_code == 200, response.text
    path = f"/api/v1/statuses/{response.json()['id']}"
    assert (await client.get(path, headers=await bearer(ctx, people["eve"]))).status_code == 200
    assert (await client.get(path, headers=await bearer(ctx, people["bob"]))).status_code == 404


# --- refusals -----------------------------------------------------------------------------

async def test_blank_too_long_or_oddly_addressed_posts_are_refused_and_nothing_is_written(ctx, client, people):
    headers = await write_token(ctx, people["ann"])
    before = await row_counts(ctx)
    cases = [
        ({"status": "   "}, "Validation failed: Text can't be blank"),
        ({"visibility": "public"}, "Validation failed: Text can't be blank"),
        ({"status": "x" * (MAX_STATUS_CHARACTERS + 1)},
         f"Validation failed: Text character limit of {MAX_STATUS_CHARACTERS} exceeded"),
        ({"status": "x" * (MAX_STATUS_CHARACTERS - 5), "spoiler_text": "warning"},
         f"Validation failed: Text character limit of {MAX_STATUS_CHARACTERS} exceeded"),
        ({"status": "hello", "visibility": "everyone"}, "Validation failed: Visibility is not included in the list"),
        ({"status": "hello", "language": "not a language"}, "Validation failed: Language is not a valid language"),
    ]
    for body, message in cases:
        response = await client.post("/api/v1/statuses", headers=headers, data=body)
        assert response.status_code == 422, body
        assert response.json()["error"] == message
    assert await row_counts(ctx) == before


async def test_a_long_url_counts_as_23_characters(ctx, client, people):
    text = "x" * (MAX_STATUS_CHARACTERS - 24) + " https://example.org/" + "a" * 100
    response = await client.post("/api/v1/statuses", headers=await write_token(ctx, people["ann"]),
                                 data={"status": text, "visibility": "public"})
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/api/v1/statuses"),
    ("PUT", "/api/v1/statuses/{id}"),
    ("DELETE", "/api/v1/statuses/{id}"),
    ("POST", "/api/v1/statuses/{id}/favourite"),
    ("POST", "/api/v1/statuses/{id}/unfavourite"),
    ("POST", "/api/v1/statuses/{id}/reblog"),
    ("POST", "/api/v1/statuses/{id}/unreblog"),
])
async def test_every_write_route_wants_a_token_with_its_scope_and_a_known_id(ctx, client, people, method, path):
    status = await post(ctx, people["ann"].actor, "a post")
    target = path.format(id=status.id)
    body = {"status": "changed"}
    before = await row_counts(ctx)
    assert (await client.request(method, target, data=body)).status_code == 401
    read_only = await bearer(ctx, people["ann"], ("read",))
    refused = await client.request(method, target, data=body, headers=read_only)
    assert refused.status_code == 403
    assert refused.json() == {"error": "This action is outside the authorized scopes"}
    if "{id}" in path:
        headers = await write_token(ctx, people["ann"])
        for unknown in ("999999", "abc", "-1"):
            missing = await client.request(method, path.format(id=unknown), data=body, headers=headers)
            assert missing.status_code == 404, unknown
    assert await row_counts(ctx) == before


async def test_favourite_wants_the_favourites_scope_not_the_statuses_one(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "a post")
    statuses_only = await bearer(ctx, people["bob"], ("write:statuses",))
    response = await client.post(f"/api/v1/statuses/{status.id}/favourite", headers=statuses_only)
    assert response.status_code == 403
    assert (await row_counts(ctx))["Favourite"] == 0


# --- favourites and boosts ----------------------------------------------------------------

async def test_favourite_then_unfavourite_updates_the_counts(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "nice weather")
    path = f"/api/v1/statuses/{status.id}"
    headers = await write_token(ctx, people["bob"])
    liked = await client.post(f"{path}/favourite", headers=headers)
    assert liked.status_code == 200, liked.text
    assert liked.json()["favourited"] is True and liked.json()["favourites_count"] == 1
    again = await client.post(f"{path}/favourite", headers=headers)
    assert again.json()["favourites_count"] == 1  # once per person
    by = await client.get(f"{path}/favourited_by")
    assert [account["username"] for account in by.json()] == ["bob"]
    unliked = await client.post(f"{path}/unfavourite", headers=headers)
    assert unliked.status_code == 200
    assert unliked.json()["favourited"] is False and unliked.json()["favourites_count"] == 0
    assert await rows(ctx, Favourite) == []


async def test_favourite_a_remote_post_queues_a_like_to_its_author(ctx, client, people, carl):
    status = await remote_post(ctx, carl, "hello from inova")
    response = await client.post(f"/api/v1/statuses/{status.id}/favourite",
                                 headers=await write_token(ctx, people["bob"]))
    assert response.status_code == 200, response.text
    [delivery] = await rows(ctx, Delivery)
    assert delivery.inbox_uri == carl.shared_inbox_uri and json.loads(delivery.body)["type"] == "Like"


async def test_favourite_a_post_the_viewer_may_not_see_is_not_found(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "followers only", "private")
    response = await client.post(f"/api/v1/statuses/{status.id}/favourite",
                                 headers=await write_token(ctx, people["eve"]))
    assert response.status_code == 404
    assert (await row_counts(ctx))["Favourite"] == 0


async def test_reblog_answers_the_boost_wrapping_the_original_then_unreblog(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "please share")
    path = f"/api/v1/statuses/{status.id}"
    headers = await write_token(ctx, people["bob"])
    boosted = await client.post(f"{path}/reblog", headers=headers)
    assert boosted.status_code == 200, boosted.text
    boost = boosted.json()
    assert boost["id"] != str(status.id) and boost["account"]["username"] == "bob"
    assert boost["reblog"]["id"] == str(status.id)
    assert boost["reblog"]["reblogged"] is True and boost["reblog"]["reblogs_count"] == 1
    assert (await client.get(path)).json()["reblogs_count"] == 1
    by = await client.get(f"{path}/reblogged_by")
    assert [account["username"] for account in by.json()] == ["bob"]
    undone = await client.post(f"{path}/unreblog", headers=headers)
    assert undone.status_code == 200
    assert undone.json()["id"] == str(status.id)
    assert undone.json()["reblogged"] is False and undone.json()["reblogs_count"] == 0
    assert (await client.get(f"/api/v1/statuses/{boost['id']}")).status_code == 404


async def test_reblog_of_a_followers_only_post_is_refused_and_nothing_is_written(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "just for followers", "private")
    before = await row_counts(ctx)
    response = await client.post(f"/api/v1/statuses/{status.id}/reblog", headers=await write_token(ctx, people["bob"]))
    assert response.status_code == 422
    assert response.json()["error"].startswith("Validation failed: Reblog ")
    assert await row_counts(ctx) == before


# --- deleting and editing -----------------------------------------------------------------

async def test_delete_own_post_answers_its_source_text_then_it_is_gone(ctx, client, people, carl):
    headers = await write_token(ctx, people["ann"])
    text = "hello @carl@inova.test\nsee https://example.org #Tea"
    created = await client.post("/api/v1/statuses", headers=headers, data={"status": text, "visibility": "public"})
    status_id = created.json()["id"]
    deleted = await client.delete(f"/api/v1/statuses/{status_id}", headers=headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["id"] == status_id and deleted.json()["text"] == text
    assert (await client.get(f"/api/v1/statuses/{status_id}", headers=headers)).status_code == 404
    [row] = await rows(ctx, Status, Status.id == int(status_id))
    assert row.deleted_at is not None and row.content == ""
    kinds = sorted(json.loads(delivery.body)["type"] for delivery in await rows(ctx, Delivery))
    assert kinds == ["Create", "Delete"]


async def test_someone_elses_post_cannot_be_deleted_or_edited(ctx, client, people):
    public = await post(ctx, people["ann"].actor, "mine")
    hidden = await post(ctx, people["ann"].actor, "followers only", "private")
    headers = await write_token(ctx, people["eve"])
    before = await row_counts(ctx)
    assert (await client.delete(f"/api/v1/statuses/{public.id}", headers=headers)).status_code == 403
    assert (await client.delete(f"/api/v1/statuses/{hidden.id}", headers=headers)).status_code == 404
    edit = await client.put(f"/api/v1/statuses/{public.id}", headers=headers, data={"status": "hijacked"})
    assert edit.status_code == 403
    assert (await client.put(f"/api/v1/statuses/{hidden.id}", headers=headers,
                             data={"status": "hijacked"})).status_code == 404
    assert await row_counts(ctx) == before
    [row] = await rows(ctx, Status, Status.id == public.id)
    assert row.content == "<p>mine</p>" and row.deleted_at is None


async def test_edit_own_post_changes_text_tags_and_warning(ctx, client, people):
    headers = await write_token(ctx, people["ann"])
    created = await client.post("/api/v1/statuses", headers=headers,
                                data={"status": "first #draft", "visibility": "public"})
    status_id = created.json()["id"]
    assert created.json()["edited_at"] is None
    edited = await client.put(f"/api/v1/statuses/{status_id}", headers=headers,
                              json={"status": "final #Version @bob", "spoiler_text": "spoilers", "sensitive": "1"})
    assert edited.status_code == 200, edited.text
    entity = edited.json()
    assert entity["edited_at"] is not None
    assert entity["spoiler_text"] == "spoilers" and entity["sensitive"] is True
    assert [tag["name"] for tag in entity["tags"]] == ["version"]
    assert [mention["acct"] for mention in entity["mentions"]] == ["bob"]
    read = (await client.get(f"/api/v1/statuses/{status_id}")).json()
    assert read["content"] == entity["content"] and "#<span>Version</span>" in read["content"]
    assert [row.name for row in await rows(ctx, StatusTag, StatusTag.status_id == int(status_id))] == ["version"]


async def test_edit_with_blank_text_is_refused_and_changes_nothing(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "keep me")
    response = await client.put(f"/api/v1/statuses/{status.id}", headers=await write_token(ctx, people["ann"]),
                                data={"status": ""})
    assert response.status_code == 422
    assert response.json()["error"] == "Validation failed: Text can't be blank"
    [row] = await rows(ctx, Status, Status.id == status.id)
    assert row.content == "<p>keep me</p>" and row.edited_at is None


async def test_deleting_ones_boost_undoes_it(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "please share")
    headers = await write_token(ctx, people["bob"])
    boost = (await client.post(f"/api/v1/statuses/{status.id}/reblog", headers=headers)).json()
    deleted = await client.delete(f"/api/v1/statuses/{boost['id']}", headers=headers)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["reblog"]["id"] == str(status.id)
    original = (await client.get(f"/api/v1/statuses/{status.id}")).json()
    assert original["reblogs_count"] == 0 and original["content"] == "<p>please share</p>"
    [row] = await rows(ctx, Status, Status.id == status.id)
    assert row.deleted_at is None


async def test_favouriting_a_boost_favourites_the_boosted_post(ctx, client, people):
    status = await post(ctx, people["ann"].actor, "please share")
    boost = (await client.post(f"/api/v1/statuses/{status.id}/reblog",
                               headers=await write_token(ctx, people["bob"]))).json()
    liked = await client.post(f"/api/v1/statuses/{boost['id']}/favourite",
                              headers=await write_token(ctx, people["eve"]))
    assert liked.status_code == 200, liked.text
    assert liked.json()["id"] == str(status.id) and liked.json()["favourites_count"] == 1
    assert [row.status_id for row in await rows(ctx, Favourite)] == [status.id]


async def test_edit_changes_only_the_flags_it_is_sent(ctx, client, people):
    headers = await write_token(ctx, people["ann"])
    created = await client.post("/api/v1/statuses", headers=headers, data={
        "status": "blurry photo", "sensitive": "1", "spoiler_text": "", "language": "en", "visibility": "public"})
    status_id = created.json()["id"]
    assert created.json()["sensitive"] is True
    kept = await client.put(f"/api/v1/statuses/{status_id}", headers=headers, data={"status": "blurry photo!"})
    assert kept.json()["sensitive"] is True and kept.json()["language"] == "en"
    changed = await client.put(f"/api/v1/statuses/{status_id}", headers=headers,
                               data={"status": "sharp photo", "sensitive": "0", "language": "de"})
    assert changed.status_code == 200, changed.text
    assert changed.json()["sensitive"] is False and changed.json()["language"] == "de"
    [row] = await rows(ctx, Status, Status.id == int(status_id))
    assert row.content == "<p>sharp photo</p>" and not row.sensitive
