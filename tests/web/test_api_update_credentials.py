"""Editing one's profile through `PATCH /api/v1/accounts/update_credentials`, the way
Mastodon.py (multipart, "1"/"0" booleans, `source[privacy]`) and masto.js (JSON) send it.

A change others can see reaches a remote follower's server as one queued Update; a refused
value changes nothing: no column, no delivery, no picture left on disk.
"""

from __future__ import annotations

import json
from io import BytesIO

import pytest
from PIL import Image
from sqlmodel import select

from storage.tables import Actor, Delivery, Follow, User
from tests.conftest import add_account, add_remote_actor, make_settings
from tests.support import pictures
from tests.support.api import bearer

ACCOUNTS = ("read", "write:accounts")
PATH = "/api/v1/accounts/update_credentials"


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(database_url, media_dir=tmp_path / "media")


# The app without its workers, so the deliveries an update queues stay to be counted.
pytestmark = pytest.mark.without_workers


@pytest.fixture
async def ann(ctx):
    return await add_account(ctx, "ann")


@pytest.fixture
async def carl(ctx, ann):
    """ann's follower on inova.test."""
    actor = await add_remote_actor(ctx, "carl")
    async with ctx.database.transaction() as session:
        session.add(Follow(follower_id=actor.id, followee_id=ann.actor.id, state="accepted",
                           uri=f"{actor.uri}#follows/1"))
    return actor


async def stored(ctx, ann) -> tuple[Actor, User]:
    async with ctx.database.session() as session:
        actor = (await session.exec(select(Actor).where(Actor.id == ann.actor.id))).one()
        user = (await session.exec(select(User).where(User.id == ann.user.id))).one()
    return actor, user


async def deliveries(ctx) -> list[Delivery]:
    async with ctx.database.session() as session:
        return list((await session.exec(select(Delivery))).all())


async def picture_at(client, url: str) -> Image.Image:
    response = await client.get(url)
    assert response.status_code == 200, url
    return Image.open(BytesIO(response.content))


async def test_profile_edit_changes_the_account_and_sends_one_update_to_the_follower(ctx, client, ann, carl):
    headers = await bearer(ctx, ann, ACCOUNTS)

    response = await client.patch(PATH, headers=headers, data={
        "display_name": "Ann Example, RN", "note": "Nurse <b>educator</b>\nhttps://mayo.example/ann #diabetes",
        "locked": "0", "bot": "0", "discoverable": "1", "indexable": "true", "hide_collections": "false",
        "source[privacy]": "unlisted", "source[language]": "fr", "source[sensitive]": "1",
    }, files={"avatar": ("me.jpg", pictures.jpeg_with_gps_and_orientation(900, 600), "image/jpeg"),
              "header": ("ward.png", pictures.png(3000, 1200), "image/png")})

    assert response.status_code == 200, response.text
    entity = response.json()
    assert entity["display_name"] == "Ann Example, RN"
    assert "&lt;b&gt;educator&lt;/b&gt;" in entity["note"] and "<b>" not in entity["note"]
    assert 'href="https://mayo.example/ann"' in entity["note"]
    # The profile editor gets back what she typed.
    assert entity["source"]["note"] == "Nurse <b>educator</b>\nhttps://mayo.example/ann #diabetes"
    # ann is a member: locked, undiscoverable, unindexed and private until she says otherwise.
    assert entity["locked"] is False and entity["bot"] is False
    assert entity["discoverable"] is True and entity["indexable"] is True
    assert entity["hide_collections"] is False
    assert entity["source"]["privacy"] == "unlisted" and entity["source"]["language"] == "fr"
    assert "/system/media/" in entity["avatar"] and entity["avatar_static"] == entity["avatar"]
    assert "/system/media/" in entity["header"] and entity["header_static"] == entity["header"]
    avatar, header = await picture_at(client, entity["avatar"]), await picture_at(client, entity["header"])
    assert avatar.size == (267, 400)  # 900×600 taken sideways, upright and within 400×400
    assert dict(avatar.getexif()) == {}
    assert header.size == (1250, 500)

    shown = await client.get(f"/api/v1/accounts/{ann.actor.id}")
    assert shown.json()["avatar"] == entity["avatar"] and shown.json()["header"] == entity["header"]
    actor, user = await stored(ctx, ann)
    assert (user.default_visibility, user.locale) == ("unlisted", "fr")
    assert not actor.locked and actor.avatar_url == entity["avatar"]

    [delivery] = await deliveries(ctx)
    assert delivery.inbox_uri == carl.shared_inbox_uri
    update = json.loads(delivery.body)
    assert update["type"] == "Update" and update["actor"] == ann.actor.uri
    person = update["object"]
    assert person["name"] == "Ann Example, RN" and person["manuallyApprovesFollowers"] is False
    assert person["icon"] == {"type": "Image", "url": entity["avatar"], "mediaType": "image/jpeg"}
    assert person["image"] == {"type": "Image", "url": entity["header"], "mediaType": "image/png"}

    document = await client.get(f"/users/{ann.actor.username}", headers={"Accept": "application/activity+json"})
    assert document.json()["icon"]["url"] == entity["avatar"]



async def test_json_body_like_masto_js(ctx, client, ann, carl):
    headers = await bearer(ctx, ann, ACCOUNTS)

    response = await client.patch(PATH, headers=headers, json={
        "display_name": "Ann", "bot": True, "source": {"privacy": "private", "language": "pt-BR"}})

    assert response.status_code == 200, response.text
    assert response.json()["bot"] is True
    assert response.json()["source"]["privacy"] == "private"
    actor, user = await stored(ctx, ann)
    assert actor.actor_type == "Service" and user.locale == "pt-BR"
    assert len(await deliveries(ctx)) == 1


async def test_private_settings_alone_send_nothing(ctx, client, ann, carl):
    headers = await bearer(ctx, ann, ACCOUNTS)

    response = await client.patch(PATH, headers=headers, data={"source[privacy]": "public"})

    assert response.status_code == 200, response.text
    assert (await stored(ctx, ann))[1].default_visibility == "public"
    assert await deliveries(ctx) == []


async def test_new_avatar_replaces_the_old_file(ctx, client, ann, settings):
    headers = await bearer(ctx, ann, ACCOUNTS)
    first = (await client.patch(PATH, headers=headers,
                                files={"avatar": ("a.png", pictures.png(50, 50), "image/png")})).json()["avatar"]
    second = (await client.patch(PATH, headers=headers,
                                 files={"avatar": ("b.png", pictures.png(60, 60, (9, 9, 9)), "image/png")})).json()

    assert second["avatar"] != first
    assert pictures.listing(settings.media_dir) == [second["avatar"].rsplit("/", 1)[1]]
    assert (await client.get(first)).status_code == 404


async def test_profile_fields_are_replaced_linked_federated_and_given_back_as_typed(ctx, client, ann, carl):
    headers = await bearer(ctx, ann, ACCOUNTS)
    response = await client.patch(PATH, headers=headers, data={
        "fields_attributes[0][name]": "Pronouns", "fields_attributes[0][value]": "she/her",
        "fields_attributes[1][name]": "", "fields_attributes[1][value]": "",  # a blank pair is dropped
        "fields_attributes[2][name]": "Ward <b>7</b>", "fields_attributes[2][value]": "https://mayo.example/ward7",
    })
    assert response.status_code == 200, response.text
    fields = response.json()["fields"]
    assert [field["name"] for field in fields] == ["Pronouns", "Ward <b>7</b>"]
    assert fields[0] == {"name": "Pronouns", "value": "she/her", "verified_at": None}
    assert 'href="https://mayo.example/ward7"' in fields[1]["value"] and "<p>" not in fields[1]["value"]
    assert response.json()["source"]["fields"] == [
        {"name": "Pronouns", "value": "she/her", "verified_at": None},
        {"name": "Ward <b>7</b>", "value": "https://mayo.example/ward7", "verified_at": None}]
    assert (await client.get(f"/api/v1/accounts/{ann.actor.id}")).json()["fields"] == fields

    [delivery] = await deliveries(ctx)
    person = json.loads(delivery.body)["object"]
    assert person["attachment"] == [{"type": "PropertyValue", "name": field["name"], "value": field["value"]}
                                    for field in fields]

    # JSON (masto.js) replaces the whole list; an empty list clears it.
    replaced = await client.patch(PATH, headers=headers, json={"fields_attributes": [{"name": "Role", "value": "RN"}]})
    assert [field["name"] for field in replaced.json()["fields"]] == ["Role"]
    cleared = await client.patch(PATH, headers=headers, json={"fields_attributes": []})
    assert cleared.json()["fields"] == []
    assert "attachment" not in (await client.get(f"/users/{ann.actor.username}",
                                                  headers={"Accept": "application/activity+json"})).json()


async def test_source_sensitive_marks_new_posts_unless_the_app_says_otherwise(ctx, client, ann):
    headers = await bearer(ctx, ann, ("read", "write"))
    changed = await client.patch(PATH, headers=headers, json={"source": {"sensitive": True}})
    assert changed.json()["source"]["sensitive"] is True
    marked = await client.post("/api/v1/statuses", headers=headers, json={"status": "Post-op photo"})
    assert marked.json()["sensitive"] is True
    told = await client.post("/api/v1/statuses", headers=headers, json={"status": "Just text", "sensitive": False})
    assert told.json()["sensitive"] is False
    assert await deliveries(ctx) == []  # a private setting: nothing sent


BAD = {
    "fields_attributes": {f"fields_attributes[{n}][name]": f"Field {n}" for n in range(5)},
    "display_name": {"display_name": "x" * 31},
    "note": {"note": "y" * 501},
    "source[privacy]": {"source[privacy]": "everyone"},
    "source[language]": {"source[language]": "english!"},
}
BAD_FILES = {
    "avatar": ("notes.jpg", b"not a picture at all", "image/jpeg"),
    "header": ("bomb.png", pictures.png_bomb(), "image/png"),
}


@pytest.mark.parametrize("case", sorted(BAD) + sorted(BAD_FILES))
async def test_bad_value_is_refused_by_name_and_nothing_changes(ctx, client, ann, carl, settings, case):
    headers = await bearer(ctx, ann, ACCOUNTS)
    before = await stored(ctx, ann)
    data = {"display_name": "Changed", "locked": "1", **BAD.get(case, {})}
    files = {case: BAD_FILES[case]} if case in BAD_FILES else None
    if case not in BAD_FILES:  # a good picture alongside the bad value must not be kept either
        files = {"avatar": ("ok.png", pictures.png(20, 20), "image/png")}

    response = await client.patch(PATH, headers=headers, data=data, files=files)

    assert response.status_code == 422, response.text
    assert case in response.json()["details"]
    after = await stored(ctx, ann)
    assert after[0].model_dump() == before[0].model_dump()
    assert after[1].model_dump() == before[1].model_dump()
    assert await deliveries(ctx) == []
    assert pictures.listing(settings.media_dir) == []


async def test_json_flag_of_the_wrong_type_is_refused(ctx, client, ann):
    before = (await stored(ctx, ann))[0]
    response = await client.patch(PATH, headers=await bearer(ctx, ann, ACCOUNTS),
                                  json={"display_name": "Changed", "locked": ["yes"]})

    assert response.status_code == 422
    assert "locked" in response.json()["details"]
    assert (await stored(ctx, ann))[0].model_dump() == before.model_dump()


@pytest.mark.parametrize("body", [
    {"source": {"sensitive": ["yes"]}},
    {"fields_attributes": "Pronouns: she/her"},
    {"fields_attributes": [["Pronouns", "she/her"]]},
    {"fields_attributes": [{"name": "Motto", "value": "z" * 256}]},
])
async def test_json_fields_and_sensitivity_of_the_wrong_shape_are_refused(ctx, client, ann, body):
    before = await stored(ctx, ann)
    response = await client.patch(PATH, headers=await bearer(ctx, ann, ACCOUNTS), json={"display_name": "X", **body})
    assert response.status_code == 422, response.text
    assert set(response.json()["details"]) & {"fields_attributes", "source[sensitive]"}
    after = await stored(ctx, ann)
    assert (after[0].model_dump(), after[1].model_dump()) == (before[0].model_dump(), before[1].model_dump())


async def test_update_credentials_needs_a_token_with_write_accounts(ctx, client, ann):
    anonymous = await client.patch(PATH, data={"display_name": "Mallory"})
    read_only = await client.patch(PATH, headers=await bearer(ctx, ann, ("read",)), data={"display_name": "Mallory"})

    assert (anonymous.status_code, read_only.status_code) == (401, 403)
    assert (await stored(ctx, ann))[0].display_name != "Mallory"
