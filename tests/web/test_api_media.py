"""Picture uploads through the real app and database, with real pictures made by Pillow.

Every refusal is checked for what it leaves behind: no row and no file in the media directory.
After the upload: deleted by its owner while unused, taken back by "delete & redraft", removed
with its post on `delete_media`, cleaned up once nobody has used it for a day.
"""

from __future__ import annotations

from datetime import timedelta
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func
from sqlmodel import select

from storage.tables import MediaAttachment, Status, utcnow
from tests.conftest import add_account, make_settings
from tests.support import pictures
from tests.support.api import bearer, post
from web.api.entities.instance import IMAGE_SIZE_LIMIT
from web.api.media import attachments_for_post
from web.media import MediaStore
from web.media_cleanup import KEPT_FOR, MediaCleanup
from web.settings import Settings, SettingsError

MEDIA = ("write:media",)


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(database_url, media_dir=tmp_path / "media")


# The app without its workers: uploads federate nothing by themselves.
pytestmark = pytest.mark.without_workers


@pytest.fixture
def media_dir(settings):
    return settings.media_dir


@pytest.fixture
async def ann(ctx):
    return await add_account(ctx, "ann")


@pytest.fixture
async def bob(ctx):
    return await add_account(ctx, "bob")


async def media_rows(ctx) -> list[MediaAttachment]:
    async with ctx.database.session() as session:
        return list((await session.exec(select(MediaAttachment))).all())


async def upload(client, headers, data: bytes, *, name="photo.jpg", content_type="image/jpeg",
                 version="v2", **fields):
    return await client.post(f"/api/{version}/media", headers=headers, data=fields,
                             files={"file": (name, data, content_type)})


async def served(client, url: str):
    response = await client.get(url)
    assert response.status_code == 200, response.text
    return response, Image.open(BytesIO(response.content))


# --- accepted pictures --------------------------------------------------------------------

async def test_phone_photo_is_stored_upright_without_exif_gps_comment_or_profile(ctx, client, ann, media_dir):
    headers = await bearer(ctx, ann, MEDIA)
    assert not media_dir.exists()  # made on demand

    response = await upload(client, headers, pictures.jpeg_with_gps_and_orientation(200, 100),
                            description="Rash on the left arm", focus="0.25,-0.5")

    assert response.status_code == 200, response.text
    entity = response.json()
    assert entity["type"] == "image"
    assert entity["description"] == "Rash on the left arm"
    assert entity["remote_url"] is None
    assert entity["url"].startswith("https://mayo.test/system/media/")
    assert entity["preview_url"] != entity["url"]
    assert entity["blurhash"] and len(entity["blurhash"]) >= 6
    # Turned upright: 200×100 taken sideways is 100×200 as seen.
    assert entity["meta"]["original"] == {"width": 100, "height": 200, "size": "100x200", "aspect": 0.5}
    assert entity["meta"]["focus"] == {"x": 0.25, "y": -0.5}

    response, stored = await served(client, entity["url"])
    assert response.headers["content-type"] == "image/jpeg"
    assert stored.format == "JPEG" and stored.size == (100, 200)
    assert dict(stored.getexif()) == {}
    assert "exif" not in stored.info and "comment" not in stored.info and "icc_profile" not in stored.info
    for marker in (b"Exif", b"PhoneMaker", b"Model X", b"Patient room 12"):
        assert marker not in response.content
    # Orientation 6 turns the picture a quarter clockwise: the red left half is now on top.
    top, bottom = stored.convert("RGB").getpixel((50, 20)), stored.convert("RGB").getpixel((50, 180))
    assert top[0] > 180 and top[2] < 80, top
    assert bottom[2] > 180 and bottom[0] < 80, bottom

    [row] = await media_rows(ctx)
    assert row.actor_id == ann.actor.id and row.status_id is None
    assert row.remote_url == entity["url"]
    assert pictures.listing(media_dir) == sorted([row.file_name, row.preview_file_name])


async def test_huge_picture_is_downscaled_and_its_preview_is_small(ctx, client, ann):
    headers = await bearer(ctx, ann, MEDIA)
    response = await upload(client, headers, pictures.png(4000, 2000), name="scan.png", content_type="image/png")

    assert response.status_code == 200, response.text
    entity = response.json()
    assert entity["meta"]["original"]["width"] == 1920 and entity["meta"]["original"]["height"] == 960
    assert entity["meta"]["small"]["width"] == 640 and entity["meta"]["small"]["height"] == 320
    _, stored = await served(client, entity["url"])
    _, preview = await served(client, entity["preview_url"])
    assert stored.size == (1920, 960)
    assert preview.size == (640, 320)


async def test_transparent_png_keeps_its_transparency(ctx, client, ann):
    headers = await bearer(ctx, ann, MEDIA)
    response = await upload(client, headers, pictures.transparent_png(), name="icon.png", content_type="image/png")

    assert response.status_code == 200, response.text
    served_response, stored = await served(client, response.json()["url"])
    assert served_response.headers["content-type"] == "image/png"
    assert stored.mode == "RGBA"
    assert stored.getpixel((5, 5))[3] == 255
    assert stored.getpixel((60, 5))[3] == 0


async def test_sixteen_bit_greyscale_scan_keeps_its_shades(ctx, client, ann):
    scan = pictures.encoded(Image.new("I;16", (30, 20), 30000), "PNG")  # 30000 of 65535: a mid grey
    response = await upload(client, await bearer(ctx, ann, MEDIA), scan, name="scan.png", content_type="image/png")

    assert response.status_code == 200, response.text
    _, stored = await served(client, response.json()["url"])
    assert stored.convert("L").getpixel((5, 5)) in range(112, 123)


@pytest.mark.parametrize(("maker", "content_type", "stored_type", "size"), [
    (pictures.animated_gif, "image/gif", "image/png", (40, 30)),  # the first frame
    (pictures.webp, "image/webp", "image/webp", (80, 60)),
])
async def test_gif_and_webp_are_accepted_on_v1_too(ctx, client, ann, maker, content_type, stored_type, size):
    headers = await bearer(ctx, ann, MEDIA)
    response = await upload(client, headers, maker(), name="x", content_type=content_type, version="v1")

    assert response.status_code == 200, response.text
    served_response, stored = await served(client, response.json()["url"])
    assert served_response.headers["content-type"] == stored_type
    assert stored.size == size


async def test_upload_larger_than_the_general_body_limit_is_accepted(ctx, client, ann, settings):
    data = pictures.noisy_png(800, 800)
    assert len(data) > settings.max_body_bytes
    response = await upload(client, await bearer(ctx, ann, MEDIA), data, name="big.png", content_type="image/png")
    assert response.status_code == 200, response.text


async def test_served_file_is_a_picture_and_nothing_else(ctx, client, ann):
    response = await upload(client, await bearer(ctx, ann, MEDIA), pictures.png(10, 10), content_type="image/png")
    served_response = await client.get(response.json()["url"], headers={"Accept": "application/activity+json"})

    assert served_response.status_code == 200
    assert served_response.headers["content-type"] == "image/png"
    assert served_response.headers["x-content-type-options"] == "nosniff"
    assert served_response.headers["content-security-policy"].startswith("default-src 'none'")


@pytest.mark.parametrize("path", [
    "/system/media/..%2F..%2Fetc%2Fpasswd",
    "/system/media/../../etc/passwd",
    "/system/media/.hidden.part",
    "/system/media/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.jpg",  # the right shape, but no such file
    "/system/media/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA.html",
])
async def test_names_outside_the_media_directory_are_not_served(ctx, client, ann, media_dir, path):
    await upload(client, await bearer(ctx, ann, MEDIA), pictures.png(10, 10), content_type="image/png")
    (media_dir.parent / "secret.txt").write_text("not for you")

    response = await client.get(path)

    assert response.status_code == 404
    assert b"not for you" not in response.content


# --- refusals -----------------------------------------------------------------------------

REFUSED = {
    "text renamed .jpg": (b"Dear doctor, my results are attached.\n" * 20, "results.jpg", "image/jpeg"),
    "html posing as png": (b"<html><script>alert(1)</script></html>", "x.png", "image/png"),
    "activitystreams json": (b'{"@context":"https://www.w3.org/ns/activitystreams","type":"Person"}',
                             "actor.jpg", "image/jpeg"),
    "truncated jpeg": (pictures.jpeg_with_gps_and_orientation(400, 300)[:700], "cut.jpg", "image/jpeg"),
    "decompression bomb": (pictures.png_bomb(), "bomb.png", "image/png"),
    "over the matrix limit": (pictures.over_matrix_png(), "wide.png", "image/png"),
    "svg": (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "x.svg", "image/svg+xml"),
    "empty": (b"", "empty.jpg", "image/jpeg"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
async def test_refused_upload_leaves_no_row_and_no_file(ctx, client, ann, media_dir, case):
    data, name, content_type = REFUSED[case]
    response = await upload(client, await bearer(ctx, ann, MEDIA), data, name=name, content_type=content_type,
                            description="should not be kept")

    assert response.status_code == 422, response.text
    assert response.json()["error"].startswith("Validation failed: File")
    assert "file" in response.json()["details"]
    assert await media_rows(ctx) == []
    assert pictures.listing(media_dir) == []


@pytest.mark.parametrize("size", [IMAGE_SIZE_LIMIT + 1, IMAGE_SIZE_LIMIT + 2 * 1024 * 1024])
async def test_oversize_upload_is_refused_with_413(ctx, client, ann, media_dir, size):
    data = pictures.png(10, 10)
    data += b"\x00" * (size - len(data))  # a valid picture with junk after it: the size alone refuses it

    response = await upload(client, await bearer(ctx, ann, MEDIA), data, content_type="image/png")

    assert response.status_code == 413
    assert await media_rows(ctx) == []
    assert pictures.listing(media_dir) == []


async def test_missing_file_and_bad_focus_and_long_description_are_refused(ctx, client, ann, media_dir):
    headers = await bearer(ctx, ann, MEDIA)
    no_file = await client.post("/api/v2/media", headers=headers, data={"description": "x"})
    bad_focus = await upload(client, headers, pictures.png(10, 10), content_type="image/png", focus="2,0")
    long_text = await upload(client, headers, pictures.png(10, 10), content_type="image/png", description="x" * 1501)

    assert (no_file.status_code, bad_focus.status_code, long_text.status_code) == (422, 422, 422)
    assert "file" in no_file.json()["details"]
    assert "focus" in bad_focus.json()["details"]
    assert "description" in long_text.json()["details"]
    assert await media_rows(ctx) == []
    assert pictures.listing(media_dir) == []


async def test_upload_needs_a_token_with_write_media(ctx, client, ann, media_dir):
    anonymous = await upload(client, {}, pictures.png(10, 10), content_type="image/png")
    read_only = await upload(client, await bearer(ctx, ann, ("read",)), pictures.png(10, 10),
                             content_type="image/png")

    assert anonymous.status_code == 401
    assert read_only.status_code == 403
    assert await media_rows(ctx) == []
    assert pictures.listing(media_dir) == []


# --- reading and editing an upload --------------------------------------------------------

async def test_uploader_reads_and_edits_their_media_others_get_404(ctx, client, ann, bob):
    ann_headers, bob_headers = await bearer(ctx, ann, MEDIA), await bearer(ctx, bob, MEDIA)
    media_id = (await upload(client, ann_headers, pictures.png(10, 10), content_type="image/png")).json()["id"]

    polled = await client.get(f"/api/v1/media/{media_id}", headers=ann_headers)
    edited = await client.put(f"/api/v1/media/{media_id}", headers=ann_headers,
                              json={"description": "Chart, week 3", "focus": "-1,1"})
    bobs_get = await client.get(f"/api/v1/media/{media_id}", headers=bob_headers)
    bobs_put = await client.put(f"/api/v1/media/{media_id}", headers=bob_headers, data={"description": "mine"})
    unknown = await client.get("/api/v1/media/12345", headers=ann_headers)

    assert polled.status_code == 200 and polled.json()["url"]
    assert edited.status_code == 200, edited.text
    assert edited.json()["description"] == "Chart, week 3"
    assert edited.json()["meta"]["focus"] == {"x": -1.0, "y": 1.0}
    assert (bobs_get.status_code, bobs_put.status_code, unknown.status_code) == (404, 404, 404)
    [row] = await media_rows(ctx)
    assert row.description == "Chart, week 3"


async def test_edit_with_bad_focus_changes_nothing(ctx, client, ann):
    headers = await bearer(ctx, ann, MEDIA)
    media_id = (await upload(client, headers, pictures.png(10, 10), content_type="image/png",
                             description="before")).json()["id"]

    response = await client.put(f"/api/v1/media/{media_id}", headers=headers,
                                data={"description": "after", "focus": "left"})

    assert response.status_code == 422
    assert "focus" in response.json()["details"]
    [row] = await media_rows(ctx)
    assert row.description == "before"


# --- handing uploads to a post ------------------------------------------------------------

async def test_attachments_for_post_takes_only_own_unused_uploads_up_to_four(ctx, client, ann, bob):
    ann_headers, bob_headers = await bearer(ctx, ann, MEDIA), await bearer(ctx, bob, MEDIA)
    own = [int((await upload(client, ann_headers, pictures.png(10, 10), content_type="image/png")).json()["id"])
           for _ in range(5)]
    bobs = int((await upload(client, bob_headers, pictures.png(10, 10), content_type="image/png")).json()["id"])
    status = await post(ctx, ann.actor, "with a picture")
    async with ctx.database.transaction() as session:
        used = (await session.exec(select(MediaAttachment).where(MediaAttachment.id == own[4]))).one()
        used.status_id = status.id
        session.add(used)
    # A posted attachment changes only through an edit of its post (as in Mastodon).
    edit_posted = await client.put(f"/api/v1/media/{own[4]}", headers=ann_headers, data={"description": "late"})
    assert edit_posted.status_code == 404

    async with ctx.database.session() as session:
        chosen = await attachments_for_post(session, ann.actor.id, [own[2], own[0], own[2]])
        assert [media.id for media in chosen] == [own[2], own[0]]
        assert await attachments_for_post(session, ann.actor.id, []) == []
        with pytest.raises(ValueError, match="at most 4"):
            await attachments_for_post(session, ann.actor.id, own)
        with pytest.raises(ValueError, match=str(bobs)):
            await attachments_for_post(session, ann.actor.id, [own[0], bobs])
        with pytest.raises(ValueError, match=str(own[4])):
            await attachments_for_post(session, ann.actor.id, [own[4]])
        assert (await session.exec(select(func.count()).select_from(Status))).one() == 1


# --- the setting --------------------------------------------------------------------------

# --- after the upload: deleted, taken back by a redraft, cleaned up -------------------------

@pytest.fixture
async def staff_ann(ctx):
    """ann as staff, whose posts are public by default."""
    return await add_account(ctx, "ann", role="staff")


EVERYTHING = ("read", "write")


async def uploaded_picture(client, token) -> dict:
    response = await client.post("/api/v2/media", headers=token,
                                 files={"file": ("p.png", pictures.png(40, 30), "image/png")})
    assert response.status_code == 200, response.text
    return response.json()


def files_in(directory) -> set[str]:
    return set(pictures.listing(directory))


async def rows(ctx) -> dict[int, MediaAttachment]:
    async with ctx.database.session() as session:
        return {media.id: media for media in (await session.exec(select(MediaAttachment))).all()}


async def test_an_unused_upload_can_be_deleted_but_a_posted_one_cannot(ctx, client, staff_ann, bob, media_dir):
    token = await bearer(ctx, staff_ann, EVERYTHING)
    spare, posted = await uploaded_picture(client, token), await uploaded_picture(client, token)
    assert len(files_in(media_dir)) == 4  # each picture and its preview
    status = await client.post("/api/v1/statuses", headers=token, json={"status": "x", "media_ids": [posted["id"]]})
    assert status.status_code == 200, status.text

    stranger = await bearer(ctx, bob, EVERYTHING)
    assert (await client.delete(f"/api/v1/media/{spare['id']}", headers=stranger)).status_code == 404
    refused = await client.delete(f"/api/v1/media/{posted['id']}", headers=token)
    assert refused.status_code == 422 and "used by a status" in refused.json()["error"]
    deleted = await client.delete(f"/api/v1/media/{spare['id']}", headers=token)
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert set(await rows(ctx)) == {int(posted["id"])}
    assert len(files_in(media_dir)) == 2
    assert (await client.get(spare["url"])).status_code == 404
    assert (await client.delete(f"/api/v1/media/{spare['id']}", headers=token)).status_code == 404


async def test_delete_and_redraft_takes_the_pictures_back(ctx, client, staff_ann, media_dir):
    token = await bearer(ctx, staff_ann, EVERYTHING)
    picture = await uploaded_picture(client, token)
    first = (await client.post("/api/v1/statuses", headers=token,
                               json={"status": "Garden open", "media_ids": [picture["id"]]})).json()
    deleted = await client.delete(f"/api/v1/statuses/{first['id']}", headers=token)
    assert deleted.status_code == 200
    assert deleted.json()["text"] == "Garden open"
    assert [media["id"] for media in deleted.json()["media_attachments"]] == [picture["id"]]
    again = await client.post("/api/v1/statuses", headers=token,
                              json={"status": "Garden open (fixed)", "media_ids": [picture["id"]]})
    assert again.status_code == 200, again.text
    assert [media["url"] for media in again.json()["media_attachments"]] == [picture["url"]]
    assert (await client.get(picture["url"])).status_code == 200


async def test_delete_media_removes_the_pictures_with_the_post(ctx, client, staff_ann, media_dir):
    token = await bearer(ctx, staff_ann, EVERYTHING)
    picture = await uploaded_picture(client, token)
    posted = (await client.post("/api/v1/statuses", headers=token,
                                json={"status": "Wrong photo", "media_ids": [picture["id"]]})).json()
    assert (await client.delete(f"/api/v1/statuses/{posted['id']}?delete_media=true", headers=token)).status_code == 200
    assert await rows(ctx) == {} and files_in(media_dir) == set()
    assert (await client.get(picture["url"])).status_code == 404


async def test_the_cleanup_removes_uploads_unused_for_a_day(ctx, client, staff_ann, media_dir, settings):
    token = await bearer(ctx, staff_ann, EVERYTHING)
    old_spare, fresh_spare, released, kept = [await uploaded_picture(client, token) for _ in range(4)]
    post = (await client.post("/api/v1/statuses", headers=token,
                              json={"status": "to delete", "media_ids": [released["id"]]})).json()
    await client.post("/api/v1/statuses", headers=token, json={"status": "kept", "media_ids": [kept["id"]]})
    await client.delete(f"/api/v1/statuses/{post['id']}", headers=token)
    long_ago = utcnow() - KEPT_FOR - timedelta(minutes=1)
    async with ctx.database.transaction() as session:  # uploaded a day ago
        for media in (await session.exec(select(MediaAttachment))).all():
            if str(media.id) != fresh_spare["id"]:
                media.created_at = long_ago
                session.add(media)

    cleanup = MediaCleanup(ctx.database, MediaStore(settings.media_dir, ctx.urls.base_url))
    assert await cleanup.run_once() == 1  # the old spare; the released one was let go of just now
    assert {str(media_id) for media_id in await rows(ctx)} == {fresh_spare["id"], released["id"], kept["id"]}
    assert (await client.get(old_spare["url"])).status_code == 404
    assert (await client.get(kept["url"])).status_code == 200

    later = MediaCleanup(ctx.database, MediaStore(settings.media_dir, ctx.urls.base_url),
                         clock=lambda: utcnow() + KEPT_FOR + timedelta(minutes=1))
    assert await later.run_once() == 2  # the released one and the fresh spare, a day on
    assert {str(media_id) for media_id in await rows(ctx)} == {kept["id"]}
    assert len(files_in(media_dir)) == 2  # the posted picture and its preview
    assert await later.run_once() == 0


def test_media_dir_setting_names_itself_when_it_is_not_a_directory(tmp_path):
    a_file = tmp_path / "media"
    a_file.write_text("")
    with pytest.raises(SettingsError, match="^ROUNDS_MEDIA_DIR: not a directory"):
        Settings.from_env({"ROUNDS_SECRET_KEY": "s" * 40, "ROUNDS_MEDIA_DIR": str(a_file)})
    assert Settings.from_env({"ROUNDS_SECRET_KEY": "s" * 40}).media_dir == Path("media")
