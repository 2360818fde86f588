"""Schema checks: every entity carries every field the strict clients require (the official
Android and iOS apps, Tusky), with the right type, and no null where they forbid one.

The required sets come from /work/shared/notes/mastodon-client-api.md §2 (and §8's shapes).
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from actors.accounts import ensure_instance_actor
from storage.engine import Database
from storage.tables import Status
from tests.conftest import add_account, add_remote_actor, make_settings
from tests.support.api import bearer, boost, favourite, follow, post, remote_post
from web import __version__
from web.app import create_app

DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
DATE = re.compile(r"^\d{4}-\d\d-\d\d$")
ID = re.compile(r"^\d+$")
URL = re.compile(r"^https?://[^\s]+$")


class Nullable:
    def __init__(self, kind: Any) -> None:
        self.kind = kind


# Field → expected type; "datetime", "date", "id", "url" are checked by pattern.
ACCOUNT = {
    "id": "id", "username": str, "acct": str, "display_name": str, "locked": bool, "bot": bool,
    "discoverable": bool, "indexable": bool, "group": bool, "created_at": "datetime", "note": str, "url": "url",
    "uri": "url", "avatar": "url", "avatar_static": "url", "header": "url", "header_static": "url",
    "followers_count": int, "following_count": int, "statuses_count": int, "last_status_at": Nullable("date"),
    "hide_collections": bool, "noindex": bool, "emojis": list, "roles": list, "fields": list,
}
SOURCE = {"privacy": str, "sensitive": bool, "language": str, "note": str, "fields": list,
          "follow_requests_count": int, "hide_collections": bool, "discoverable": bool, "indexable": bool,
          "attribution_domains": list}
ROLE = {"id": str, "name": str, "permissions": str, "color": str, "highlighted": bool}
STATUS = {
    "id": "id", "uri": "url", "url": "url", "created_at": "datetime", "edited_at": Nullable("datetime"),
    "account": dict, "content": str, "spoiler_text": str, "sensitive": bool, "visibility": str,
    "language": Nullable(str), "in_reply_to_id": Nullable("id"), "in_reply_to_account_id": Nullable("id"),
    "reblog": Nullable(dict), "media_attachments": list, "mentions": list, "tags": list, "emojis": list,
    "card": Nullable(dict), "poll": Nullable(dict), "application": Nullable(dict), "replies_count": int,
    "reblogs_count": int, "favourites_count": int, "favourited": bool, "reblogged": bool, "bookmarked": bool,
    "muted": bool, "pinned": bool, "filtered": list,
}
MENTION = {"id": "id", "username": str, "url": "url", "acct": str}
TAG = {"name": str, "url": "url"}
MEDIA = {"id": "id", "type": str, "url": "url", "preview_url": "url", "remote_url": Nullable("url"),
         "preview_remote_url": Nullable("url"), "text_url": Nullable("url"), "meta": dict,
         "description": Nullable(str), "blurhash": Nullable(str)}
RELATIONSHIP = {
    "id": "id", "following": bool, "showing_reblogs": bool, "notifying": bool, "languages": Nullable(list),
    "followed_by": bool, "blocking": bool, "blocked_by": bool, "muting": bool, "muting_notifications": bool,
    "requested": bool, "requested_by": bool, "domain_blocking": bool, "endorsed": bool, "note": str,
}
STATUSES_CONFIGURATION = {"max_characters": int, "max_media_attachments": int, "characters_reserved_per_url": int}
MEDIA_CONFIGURATION = {"supported_mime_types": list, "description_limit": int, "image_size_limit": int,
                       "image_matrix_limit": int, "video_size_limit": int, "video_frame_rate_limit": int,
                       "video_matrix_limit": int}
POLLS_CONFIGURATION = {"max_options": int, "max_characters_per_option": int, "min_expiration": int,
                       "max_expiration": int}
ACCOUNTS_CONFIGURATION = {"max_featured_tags": int, "max_pinned_statuses": int}
INSTANCE_V2 = {"domain": str, "title": str, "version": str, "source_url": "url", "description": str,
               "usage": dict, "thumbnail": dict, "icon": list, "languages": list, "configuration": dict,
               "registrations": dict, "api_versions": dict, "contact": dict, "rules": list}
INSTANCE_V1 = {"uri": str, "title": str, "short_description": str, "description": str, "email": str,
               "version": str, "urls": dict, "stats": dict, "thumbnail": "url", "languages": list,
               "registrations": bool, "approval_required": bool, "invites_enabled": bool, "configuration": dict,
               "contact_account": Nullable(dict), "rules": list}


def check(entity: Any, schema: dict[str, Any], where: str = "") -> None:
    assert isinstance(entity, dict), f"{where}: not an object"
    missing = set(schema) - set(entity)
    assert not missing, f"{where}: missing {sorted(missing)}"
    for name, kind in schema.items():
        value, label = entity[name], f"{where}.{name}"
        if isinstance(kind, Nullable):
            if value is None:
                continue
            kind = kind.kind
        assert value is not None, f"{label} is null"
        if kind == "datetime":
            assert isinstance(value, str) and DATETIME.match(value), f"{label}: {value!r}"
        elif kind == "date":
            assert isinstance(value, str) and DATE.match(value), f"{label}: {value!r}"
        elif kind == "id":
            assert isinstance(value, str) and ID.match(value), f"{label}: {value!r}"
        elif kind == "url":
            assert isinstance(value, str) and URL.match(value), f"{label}: {value!r}"
        elif kind is int:
            assert isinstance(value, int) and not isinstance(value, bool), f"{label}: {value!r}"
        else:
            assert isinstance(value, kind), f"{label}: {value!r} is not {kind.__name__}"


def check_status(entity: dict[str, Any], where: str = "status") -> None:
    check(entity, STATUS, where)
    check(entity["account"], ACCOUNT, f"{where}.account")
    for n, mention in enumerate(entity["mentions"]):
        check(mention, MENTION, f"{where}.mentions[{n}]")
    for n, tag in enumerate(entity["tags"]):
        check(tag, TAG, f"{where}.tags[{n}]")
    for n, media in enumerate(entity["media_attachments"]):
        check(media, MEDIA, f"{where}.media_attachments[{n}]")
    if entity["reblog"] is not None:
        check_status(entity["reblog"], f"{where}.reblog")


def test_the_checker_itself_refuses_missing_null_and_mistyped_fields():
    good = {"id": "1", "when": "2026-01-02T03:04:05.006Z", "n": 3}
    schema = {"id": "id", "when": "datetime", "n": int}
    check(good, schema)
    for broken in ({"id": "1", "n": 3}, {**good, "id": None}, {**good, "id": 1}, {**good, "n": True},
                   {**good, "when": "2026-01-02T03:04:05Z"}, {**good, "when": "2026-01-02T03:04:05.006789Z"}):
        with pytest.raises(AssertionError):
            check(broken, schema)


@pytest.fixture
async def scene(ctx):
    """A staff member and a member here, a remote clinician; posts with every kind of part."""
    lee = await add_account(ctx, "dr_lee", role="staff")
    ann = await add_account(ctx, "ann")
    rae = await add_remote_actor(ctx, "rae", "inova.test")
    await follow(ctx, ann.actor, lee.actor)
    root = await post(ctx, lee.actor, "Flu clinic #flu", hashtags=("flu",), mentions=(ann.actor, rae),
                      summary="clinic news")
    reply = await post(ctx, ann.actor, "thanks", reply_to=root, language=None)
    pictured = await remote_post(ctx, rae, "chart", media_url="https://inova.test/media/chart.png")
    await favourite(ctx, ann.actor, root, lee.actor)
    boosted = await boost(ctx, ann.actor, root, lee.actor)
    return {"lee": lee, "ann": ann, "rae": rae, "root": root, "reply": reply, "pictured": pictured,
            "boost": boosted}


async def test_accounts_local_and_remote_have_every_required_field(ctx, client, scene):
    for actor, acct in ((scene["lee"].actor, "dr_lee"), (scene["rae"], "rae@inova.test")):
        response = await client.get(f"/api/v1/accounts/{actor.id}")
        assert response.status_code == 200
        entity = response.json()
        check(entity, ACCOUNT, acct)
        assert entity["acct"] == acct
    lee = (await client.get(f"/api/v1/accounts/{scene['lee'].actor.id}")).json()
    assert lee["url"] == "https://mayo.test/@dr_lee" and lee["uri"] == "https://mayo.test/users/dr_lee"
    assert lee["statuses_count"] == 1 and lee["followers_count"] == 1 and lee["last_status_at"] is not None
    assert lee["roles"] == [{"id": "1", "name": "Staff", "color": ""}]
    assert lee["locked"] is False and lee["discoverable"] is True
    rae = (await client.get(f"/api/v1/accounts/{scene['rae'].id}")).json()
    assert rae["url"] == scene["rae"].uri  # no profile URL known: the actor id stands in
    assert rae["last_status_at"] is not None and rae["roles"] == []
    picture = await client.get(rae["avatar"].removeprefix("https://mayo.test"))
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"


async def test_credential_account_carries_source_and_role(ctx, client, scene):
    response = await client.get("/api/v1/accounts/verify_credentials", headers=await bearer(ctx, scene["ann"]))
    entity = response.json()
    check(entity, ACCOUNT, "credential")
    check(entity["source"], SOURCE, "credential.source")
    check(entity["role"], ROLE, "credential.role")
    assert entity["source"]["privacy"] == "private"  # a member's default
    assert entity["role"]["id"] == "-99"
    staff = await client.get("/api/v1/accounts/verify_credentials", headers=await bearer(ctx, scene["lee"]))
    assert staff.json()["source"]["privacy"] == "public" and staff.json()["role"]["name"] == "Staff"


async def test_statuses_with_mentions_tags_media_replies_and_boosts_are_complete(ctx, client, scene):
    headers = await bearer(ctx, scene["ann"])
    root = (await client.get(f"/api/v1/statuses/{scene['root'].id}", headers=headers)).json()
    check_status(root)
    assert root["spoiler_text"] == "clinic news" and root["sensitive"] is True
    assert [m["acct"] for m in root["mentions"]] == ["ann", "rae@inova.test"]
    assert root["tags"] == [{"name": "flu", "url": "https://mayo.test/tags/flu"}]
    assert (root["favourites_count"], root["reblogs_count"], root["replies_count"]) == (1, 1, 1)
    assert (root["favourited"], root["reblogged"]) == (True, True)
    anonymous = (await client.get(f"/api/v1/statuses/{scene['root'].id}")).json()
    assert (anonymous["favourited"], anonymous["reblogged"]) == (False, False)

    reply = (await client.get(f"/api/v1/statuses/{scene['reply'].id}")).json()
    check_status(reply, "reply")
    assert reply["in_reply_to_id"] == str(scene["root"].id)
    assert reply["in_reply_to_account_id"] == str(scene["lee"].actor.id)
    assert reply["language"] is None

    pictured = (await client.get(f"/api/v1/statuses/{scene['pictured'].id}", headers=headers)).json()
    check_status(pictured, "remote")
    media = pictured["media_attachments"][0]
    assert media["type"] == "image" and media["url"] == "https://inova.test/media/chart.png"
    assert media["meta"]["original"] == {"width": 640, "height": 480, "size": "640x480", "aspect": 640 / 480}

    wrapper = (await client.get(f"/api/v1/statuses/{scene['boost'].id}")).json()
    check_status(wrapper, "boost")
    assert wrapper["content"] == "" and wrapper["reblog"]["id"] == str(scene["root"].id)


async def test_status_content_is_sanitised_on_the_way_out(ctx, client, scene):
    async with ctx.database.transaction() as session:
        row = await session.get(Status, scene["pictured"].id)
        row.content = '<p onclick="x()">hi<script>alert(1)</script> <a href="javascript:x">l</a></p>'
        session.add(row)
    content = (await client.get(f"/api/v1/statuses/{scene['pictured'].id}")).json()["content"]
    assert "script" not in content and "onclick" not in content and "javascript" not in content
    assert content.startswith("<p>hi")


async def test_timeline_entities_and_context_are_complete(ctx, client, scene):
    home = await client.get("/api/v1/timelines/home", headers=await bearer(ctx, scene["ann"]))
    assert len(home.json()) == 3
    for n, entity in enumerate(home.json()):
        check_status(entity, f"home[{n}]")
    context = (await client.get(f"/api/v1/statuses/{scene['reply'].id}/context")).json()
    assert set(context) == {"ancestors", "descendants"}
    for entity in context["ancestors"] + context["descendants"]:
        check_status(entity, "context")


async def test_relationship_has_every_boolean(ctx, client, scene):
    response = await client.get("/api/v1/accounts/relationships", params={"id[]": str(scene["lee"].actor.id)},
                                headers=await bearer(ctx, scene["ann"]))
    (entity,) = response.json()
    check(entity, RELATIONSHIP, "relationship")
    assert entity["following"] is True


async def test_instance_v1_and_v2_agree_and_have_every_required_field(ctx, client, scene):
    admin = await add_account(ctx, "boss", role="admin")
    v1 = (await client.get("/api/v1/instance")).json()
    v2 = (await client.get("/api/v2/instance")).json()
    check(v1, INSTANCE_V1, "v1")
    check(v2, INSTANCE_V2, "v2")
    version = f"4.2.0 (compatible; Rounds {__version__})"
    assert v1["version"] == v2["version"] == version
    assert v1["uri"] == v2["domain"] == "mayo.test"
    assert v1["urls"]["streaming_api"] == v2["configuration"]["urls"]["streaming"] == "wss://mayo.test"
    assert v2["api_versions"] == {"mastodon": 1}
    for configuration, where in ((v1["configuration"], "v1"), (v2["configuration"], "v2")):
        check(configuration["statuses"], STATUSES_CONFIGURATION, f"{where}.statuses")
        check(configuration["media_attachments"], MEDIA_CONFIGURATION, f"{where}.media_attachments")
        check(configuration["polls"], POLLS_CONFIGURATION, f"{where}.polls")
        check(configuration["accounts"], ACCOUNTS_CONFIGURATION, f"{where}.accounts")
    assert v2["configuration"]["translation"] == {"enabled": False}
    assert isinstance(v2["registrations"]["enabled"], bool)
    assert v1["stats"] == {"user_count": 3, "status_count": 2, "domain_count": 1}
    check(v1["contact_account"], ACCOUNT, "contact_account")
    assert v1["contact_account"]["id"] == v2["contact"]["account"]["id"] == str(admin.actor.id)


@pytest.mark.parametrize(("mode", "enabled", "approval"), [
    ("open", True, False), ("approval", True, True), ("closed", False, False)])
async def test_instance_registrations_follow_the_setting(database_url, mode, enabled, approval):
    settings = make_settings(database_url, registrations=mode, https=False, domain="127.0.0.1:8001")
    database = Database(settings.database_url)
    application = create_app(settings, database=database, run_workers=False)
    ctx = application.state.ctx
    async with ctx.database.transaction() as session:
        await ensure_instance_actor(session, ctx.keyring, ctx.urls)
    async with application.router.lifespan_context(application), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url=settings.base_url) as http:
        v1 = (await http.get("/api/v1/instance")).json()
        v2 = (await http.get("/api/v2/instance")).json()
    await database.dispose()
    assert (v1["registrations"], v1["approval_required"]) == (enabled, approval)
    assert (v2["registrations"]["enabled"], v2["registrations"]["approval_required"]) == (enabled, approval)
    assert v1["urls"]["streaming_api"] == "ws://127.0.0.1:8001"  # plain HTTP in development: ws://


async def test_errors_are_json_objects_with_an_error_string(client):
    response = await client.get("/api/v1/statuses/1")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"error": "Record not found"}
    unauthorised = await client.get("/api/v1/timelines/home")
    assert unauthorised.status_code == 401 and isinstance(unauthorised.json()["error"], str)
