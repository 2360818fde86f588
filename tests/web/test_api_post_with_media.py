"""Posting with pictures: `media_ids[]` attaches the author's unused uploads, in order, and the
Create sent to followers' servers carries them."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.tables import Delivery, Follow, MediaAttachment, Status
from tests.conftest import add_account, add_remote_actor, make_settings
from tests.support import pictures
from tests.support.api import bearer

SCOPES = ("read", "write")


@pytest.fixture
def settings(database_url, tmp_path):
    return make_settings(database_url, media_dir=tmp_path / "media")


async def upload(client, headers, description: str) -> dict:
    answer = await client.post("/api/v2/media", headers=headers, data={"description": description},
                               files={"file": ("photo.jpg", pictures.jpeg_with_gps_and_orientation(), "image/jpeg")})
    assert answer.status_code == 200, answer.text
    return answer.json()


async def counts(ctx) -> tuple[int, int]:
    async with ctx.database.session() as session:
        statuses = (await session.exec(select(func.count()).select_from(Status))).one()
        attached = (await session.exec(select(func.count()).select_from(MediaAttachment)
                                       .where(MediaAttachment.status_id.is_not(None)))).one()
    return statuses, attached


async def test_a_post_carries_its_pictures_in_order_to_the_followers_server(ctx, client):
    ann = await add_account(ctx, "ann", role="staff")
    follower = await add_remote_actor(ctx, "https://inova.test/users/bo")
    async with ctx.database.transaction() as session:
        session.add(Follow(follower_id=follower.id, followee_id=ann.actor.id, state="accepted"))
    token = await bearer(ctx, ann, SCOPES)
    first, second = await upload(client, token, "the ward"), await upload(client, token, "the garden")
    posted = await client.post("/api/v1/statuses", headers=token, data={
        "status": "", "visibility": "public", "media_ids[]": [second["id"], first["id"]]})
    assert posted.status_code == 200, posted.text
    assert [m["description"] for m in posted.json()["media_attachments"]] == ["the garden", "the ward"]
    async with ctx.database.session() as session:
        [delivery] = (await session.exec(select(Delivery))).all()
    attachments = json.loads(delivery.body)["object"]["attachment"]
    assert [item["name"] for item in attachments] == ["the garden", "the ward"]
    assert all(item["url"].startswith("https://mayo.test/system/media/") for item in attachments)


async def test_pictures_that_are_not_ones_own_unused_uploads_are_refused_and_nothing_is_written(ctx, client):
    ann, bob = await add_account(ctx, "ann"), await add_account(ctx, "bob")
    ann_token, bob_token = await bearer(ctx, ann, SCOPES), await bearer(ctx, bob, SCOPES)
    mine = await upload(client, ann_token, "mine")
    theirs = await upload(client, bob_token, "theirs")
    used = await upload(client, ann_token, "used")
    assert (await client.post("/api/v1/statuses", headers=ann_token,
                              json={"status": "first", "media_ids": [used["id"]]})).status_code == 200
    five = [(await upload(client, ann_token, f"n{number}"))["id"] for number in range(5)]
    before = await counts(ctx)
    for media_ids in ([theirs["id"]], [used["id"]], five, ["999999"], ["not-an-id"], [mine["id"], theirs["id"]]):
        answer = await client.post("/api/v1/statuses", headers=ann_token, json={"status": "x", "media_ids": media_ids})
        assert answer.status_code == 422 and "Validation failed" in answer.json()["error"], media_ids
    assert await counts(ctx) == before
