"""A moderator removes a post: `DELETE /api/v1/admin/statuses/:id` (Rounds' own route)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from moderation.audit import entries
from storage.tables import Delivery, Follow, MediaAttachment, Report, Status
from tests.conftest import add_account, add_remote_actor
from tests.support.api import bearer, post, remote_post

pytestmark = pytest.mark.without_workers
ADMIN_SCOPES = ("read", "write", "admin:read", "admin:write")


async def _report(ctx, reporter, target, status) -> Report:
    async with ctx.database.transaction() as session:
        report = Report(reporter_id=reporter.id, target_id=target.id, status_ids=str(status.id), comment="rude")
        session.add(report)
    return report


async def test_a_local_post_is_deleted_federated_and_its_author_told(app, ctx, client):
    mo = await add_account(ctx, "mo", role="moderator")
    ann = await add_account(ctx, "ann", role="staff")
    reader = await add_remote_actor(ctx, "reader")
    async with ctx.database.transaction() as session:
        session.add(Follow(follower_id=reader.id, followee_id=ann.actor.id, state="accepted"))
    status = await post(ctx, ann.actor, "something rude")
    report = await _report(ctx, reader, ann.actor, status)
    answer = await client.request("DELETE", f"/api/v1/admin/statuses/{status.id}",
                                  headers=await bearer(ctx, mo, ADMIN_SCOPES),
                                  data={"text": "Please keep it civil", "report_id": str(report.id)})
    assert (answer.status_code, answer.json()) == (200, {})
    ann_token = await bearer(ctx, ann, ("read",))
    assert (await client.get(f"/api/v1/statuses/{status.id}", headers=ann_token)).status_code == 404
    async with ctx.database.session() as session:
        assert (await session.get(Report, report.id)).action_taken_at is not None
        deletes = (await session.exec(select(Delivery.body).where(Delivery.activity_uri == f"{status.uri}#delete")))
        assert len(deletes.all()) == 1  # to the follower's server, as ann's own delete would go
        logged = [(entry.action, entry.target, entry.actor_id) for entry in await entries(session)]
    assert ("status.delete", str(status.id), mo.actor.id) in logged and ("report.resolve", str(report.id),
                                                                         mo.actor.id) in logged
    notes = (await client.get("/api/v1/notifications", headers=ann_token)).json()
    assert [note["type"] for note in notes] == ["moderation_warning"]
    warning = notes[0]["moderation_warning"]
    assert (warning["action"], warning["text"], warning["status_ids"]) == (
        "delete_statuses", "Please keep it civil", [str(status.id)])


async def test_a_remote_post_is_dropped_here_with_its_media_and_nobody_is_warned(app, ctx, client):
    admin = await add_account(ctx, "chief", role="admin")
    spammer = await add_remote_actor(ctx, "spammer", "spam.example")
    status = await remote_post(ctx, spammer, "pills", media_url="https://spam.example/pill.png")
    answer = await client.request("DELETE", f"/api/v1/admin/statuses/{status.id}",
                                  headers=await bearer(ctx, admin, ADMIN_SCOPES))
    assert answer.status_code == 200
    async with ctx.database.session() as session:
        dropped = await session.get(Status, status.id)
        assert dropped.deleted_at is not None and dropped.content == ""
        assert (await session.exec(select(MediaAttachment).where(MediaAttachment.status_id == status.id))).all() == []
        assert (await session.exec(select(Delivery))).all() == []  # nothing federated for a remote post


async def test_bad_requests_are_refused_and_change_nothing(app, ctx, client):
    mo = await add_account(ctx, "mo", role="moderator")
    ann = await add_account(ctx, "ann", role="staff")
    chief = await add_account(ctx, "chief", role="admin")
    other = await add_account(ctx, "bo", role="staff")
    status = await post(ctx, ann.actor, "fine post")
    chiefs = await post(ctx, chief.actor, "an admin's post")
    unrelated = await _report(ctx, other.actor, ann.actor, await post(ctx, ann.actor, "another"))
    headers = await bearer(ctx, mo, ADMIN_SCOPES)
    cases = [
        (await bearer(ctx, ann, ADMIN_SCOPES), status.id, {}, 403),  # not a moderator
        (await bearer(ctx, mo, ("read", "write")), status.id, {}, 403),  # no admin scope
        (headers, chiefs.id, {}, 403),  # an admin outranks a moderator
        (headers, 999_999_999, {}, 404),
        (headers, status.id, {"report_id": "424242"}, 404),
        (headers, status.id, {"report_id": str(unrelated.id)}, 422),  # the report names another post
        (headers, status.id, {"text": "x" * 5001}, 422),
    ]
    for token, status_id, data, expected in cases:
        answer = await client.request("DELETE", f"/api/v1/admin/statuses/{status_id}", headers=token, data=data)
        assert answer.status_code == expected, (data, answer.text)
    assert (await client.request("DELETE", f"/api/v1/admin/statuses/{status.id}")).status_code == 401
    async with ctx.database.session() as session:
        assert (await session.get(Status, status.id)).deleted_at is None
        assert (await session.get(Status, chiefs.id)).deleted_at is None
        assert (await session.get(Report, unrelated.id)).action_taken_at is None
        assert [entry.action for entry in await entries(session)] == []
