"""Muting a thread (`POST /api/v1/statuses/:id/mute`): no notifications about any status of
it for the person who muted it, `muted` shown on its statuses, other threads and other people
untouched; unmuting brings notifications back."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from storage.tables import ThreadMute
from tests.conftest import add_account
from tests.support.api import bearer, favourite, post


async def kinds(client, token) -> list[tuple[str, str]]:
    response = await client.get("/api/v1/notifications", headers=token)
    assert response.status_code == 200, response.text
    return [(entry["type"], entry["status"]["content"]) for entry in response.json()]


async def test_a_muted_thread_stops_notifications_from_all_of_it(ctx, client):
    ann, bob, cy = [await add_account(ctx, name, role="staff") for name in ("ann", "bob", "cy")]
    token = await bearer(ctx, ann, ("read", "write:mutes"))
    root = await post(ctx, ann.actor, "Visiting hours change next week")
    reply = await post(ctx, bob.actor, "@ann which days?", reply_to=root, mentions=(ann.actor,))
    elsewhere = await post(ctx, ann.actor, "Another topic")

    muted = await client.post(f"/api/v1/statuses/{reply.id}/mute", headers=token)  # any status names the thread
    assert muted.status_code == 200, muted.text
    assert muted.json()["muted"] is True
    assert (await client.post(f"/api/v1/statuses/{root.id}/mute", headers=token)).status_code == 200  # again: one row
    async with ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(ThreadMute))).one() == 1

    deeper = await post(ctx, cy.actor, "@ann @bob weekends too", reply_to=reply, mentions=(ann.actor, bob.actor))
    await favourite(ctx, cy.actor, root, ann.actor)
    await post(ctx, cy.actor, "@ann about the other topic", reply_to=elsewhere, mentions=(ann.actor,))
    seen = await kinds(client, token)
    assert ("mention", "<p>@ann about the other topic</p>") in seen
    assert all(content not in ("<p>@ann @bob weekends too</p>", "<p>Visiting hours change next week</p>")
               for _, content in seen)
    bob_token = await bearer(ctx, bob)
    assert ("mention", "<p>@ann @bob weekends too</p>") in await kinds(client, bob_token)  # bob did not mute it
    shown = (await client.get(f"/api/v1/statuses/{deeper.id}", headers=token)).json()
    assert shown["muted"] is True
    assert (await client.get(f"/api/v1/statuses/{elsewhere.id}", headers=token)).json()["muted"] is False

    unmuted = await client.post(f"/api/v1/statuses/{root.id}/unmute", headers=token)
    assert unmuted.status_code == 200 and unmuted.json()["muted"] is False
    await post(ctx, cy.actor, "@ann and holidays", reply_to=deeper, mentions=(ann.actor,))
    assert ("mention", "<p>@ann and holidays</p>") in await kinds(client, token)


async def test_muting_needs_the_scope_and_a_status_the_viewer_may_see(ctx, client):
    ann = await add_account(ctx, "ann", role="staff")
    bob = await add_account(ctx, "bob", role="staff")
    hidden = await post(ctx, bob.actor, "for my followers", "private")
    writer = await bearer(ctx, ann, ("write:mutes",))
    assert (await client.post(f"/api/v1/statuses/{hidden.id}/mute", headers=writer)).status_code == 404
    assert (await client.post("/api/v1/statuses/123456/mute", headers=writer)).status_code == 404
    visible = await post(ctx, bob.actor, "for everyone")
    reader = await bearer(ctx, ann, ("read",))
    assert (await client.post(f"/api/v1/statuses/{visible.id}/mute", headers=reader)).status_code == 403
    assert (await client.post(f"/api/v1/statuses/{visible.id}/mute")).status_code == 401
    async with ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(ThreadMute))).one() == 0
