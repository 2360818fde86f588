"""The admin accounts API in one app on a real database: who may use it, the v1 and v2 lists and
their filters, Admin::Account, and each action with its effect, its audit entry and, for a local
person, the `moderation_warning` they are shown."""

from __future__ import annotations

import pytest
from sqlmodel import select

from actors.accounts import create_local_account
from moderation.audit import entries
from storage.tables import Actor, OAuthAccessToken, Report, Status, User
from tests.conftest import add_account, add_remote_actor
from tests.support.api import bearer, post, remote_post

ADMIN_SCOPES = ("read", "write", "admin:read", "admin:write")
NOT_PERMITTED = {"error": "This action is not allowed"}


@pytest.fixture
async def people(ctx):
    """ann (member), dr_bo (staff), mo (moderator), chief (admin)."""
    return {"ann": await add_account(ctx, "ann"), "dr_bo": await add_account(ctx, "dr_bo", role="staff"),
            "mo": await add_account(ctx, "mo", role="moderator"),
            "chief": await add_account(ctx, "chief", role="admin")}


@pytest.fixture
async def mod(ctx, people):
    return await bearer(ctx, people["mo"], ADMIN_SCOPES)


async def add_pending(ctx, username: str):
    async with ctx.database.transaction() as session:
        return await create_local_account(session, ctx.keyring, ctx.urls, username=username,
                                          email=f"{username}@example.org", password="correct horse battery",
                                          approved=False, signup_reason="I care for my mother")


async def ok(response):
    assert response.status_code == 200, response.text
    return response.json()


async def usernames(client, headers, path="/api/v1/admin/accounts", **params) -> list[str]:
    return [entity["username"] for entity in await ok(await client.get(path, headers=headers, params=params))]


async def audit_actions(ctx) -> list[str]:
    async with ctx.database.session() as session:
        return [entry.action for entry in reversed(await entries(session))]


async def test_members_staff_and_tokens_without_admin_scopes_are_refused(ctx, client, people):
    for name in ("ann", "dr_bo"):
        headers = await bearer(ctx, people[name], ADMIN_SCOPES)
        answer = await client.get("/api/v1/admin/accounts", headers=headers)
        assert (answer.status_code, answer.json()) == (403, NOT_PERMITTED)
    plain = await bearer(ctx, people["mo"], ("read", "write"))
    assert (await client.get("/api/v1/admin/accounts", headers=plain)).status_code == 403
    assert (await client.post(f"/api/v1/admin/accounts/{people['ann'].actor.id}/action", headers=plain,
                              data={"type": "silence"})).status_code == 403
    assert (await client.get("/api/v2/admin/accounts")).status_code == 401
    reader = await bearer(ctx, people["mo"], ("admin:read",))
    assert (await client.get("/api/v1/admin/accounts", headers=reader)).status_code == 200
    assert (await client.post(f"/api/v1/admin/accounts/{people['ann'].actor.id}/action", headers=reader,
                              data={"type": "none"})).status_code == 403


async def test_list_v1_and_v2_filter_like_mastodon_and_page_with_links(ctx, client, people, mod):
    await add_pending(ctx, "newcomer")
    spammer = await add_remote_actor(ctx, "spammer", "spam.example")
    await add_remote_actor(ctx, "dr_cy", "inova.test")
    async with ctx.database.transaction() as session:
        row = await session.get(Actor, spammer.id)
        row.suspended_at = row.created_at
        session.add(row)
    everyone = await usernames(client, mod)
    assert set(everyone) == {"ann", "dr_bo", "mo", "chief", "newcomer", "spammer", "dr_cy"}  # no instance actor
    assert set(await usernames(client, mod, local="true")) == {"ann", "dr_bo", "mo", "chief", "newcomer"}
    assert set(await usernames(client, mod, remote="1")) == {"spammer", "dr_cy"}
    assert await usernames(client, mod, pending="true") == ["newcomer"]
    assert await usernames(client, mod, suspended="true") == ["spammer"]
    assert set(await usernames(client, mod, staff="true")) == {"mo", "chief"}
    assert await usernames(client, mod, username="DR_", local="true") == ["dr_bo"]
    assert await usernames(client, mod, by_domain="inova") == ["dr_cy"]
    assert await usernames(client, mod, email="newcomer@") == ["newcomer"]
    v2 = "/api/v2/admin/accounts"
    assert set(await usernames(client, mod, v2, origin="remote")) == {"spammer", "dr_cy"}
    assert await usernames(client, mod, v2, status="pending") == ["newcomer"]
    assert "spammer" not in await usernames(client, mod, v2, status="active")
    assert set(await usernames(client, mod, v2, permissions="staff")) == {"mo", "chief"}
    assert await usernames(client, mod, v2, **{"role_ids[]": "3"}) == ["chief"]
    assert await usernames(client, mod, v2, status="nonsense") == []
    first = await client.get(v2, headers=mod, params={"origin": "local", "limit": 2})
    assert len(first.json()) == 2 and 'rel="next"' in first.headers["link"]
    next_url = first.headers["link"].split(">")[0].lstrip("<")
    second = await ok(await client.get(next_url, headers=mod))
    assert len(second) == 2 and not {e["id"] for e in second} & {e["id"] for e in first.json()}


async def test_admin_account_entity_for_a_local_person_and_a_remote_account(ctx, client, people, mod):
    pending = await add_pending(ctx, "newcomer")
    entity = await ok(await client.get(f"/api/v1/admin/accounts/{pending.actor.id}", headers=mod))
    assert entity["username"] == "newcomer" and entity["domain"] is None
    assert entity["email"] == "newcomer@example.org" and entity["invite_request"] == "I care for my mother"
    assert (entity["approved"], entity["disabled"], entity["silenced"], entity["suspended"]) == (False,) * 4
    assert entity["role"]["id"] == "-99" and entity["account"]["acct"] == "newcomer"
    remote = await add_remote_actor(ctx, "dr_cy")
    entity = await ok(await client.get(f"/api/v1/admin/accounts/{remote.id}", headers=mod))
    assert (entity["domain"], entity["email"], entity["role"]) == ("inova.test", None, None)
    assert entity["account"]["acct"] == "dr_cy@inova.test"
    async with ctx.database.session() as session:
        instance = (await session.exec(select(Actor).where(Actor.uri == ctx.urls.instance_actor))).one()
    for missing in (instance.id, 12345, "nope"):
        assert (await client.get(f"/api/v1/admin/accounts/{missing}", headers=mod)).status_code == 404


async def test_disable_warns_the_person_refuses_their_tokens_and_enable_restores(ctx, client, people, mod):
    ann = people["ann"]
    ann_token = await bearer(ctx, ann, ("read",))
    bad = await client.post(f"/api/v1/admin/accounts/{ann.actor.id}/action", headers=mod, data={"type": "ban"})
    assert bad.status_code == 422
    answer = await client.post(f"/api/v1/admin/accounts/{ann.actor.id}/action", headers=mod,
                               json={"type": "disable", "text": "Posting other patients' records",
                                     "warning_preset_id": "1", "send_email_notification": True})
    assert (answer.status_code, answer.json()) == (200, {})
    refused = await client.get("/api/v1/accounts/verify_credentials", headers=ann_token)
    assert refused.status_code == 403
    enabled = await ok(await client.post(f"/api/v1/admin/accounts/{ann.actor.id}/enable", headers=mod))
    assert enabled["disabled"] is False
    notes = await ok(await client.get("/api/v1/notifications", headers=ann_token))
    [note] = notes
    assert note["type"] == "moderation_warning" and note["account"]["uri"] == ctx.urls.instance_actor
    warning = note["moderation_warning"]
    assert (warning["action"], warning["text"], warning["appeal"]) == ("disable", "Posting other patients' records",
                                                                      None)
    assert warning["target_account"]["id"] == str(ann.actor.id) and warning["status_ids"] == []
    only = await ok(await client.get("/api/v1/notifications", headers=ann_token,
                                     params={"types[]": ["moderation_warning"]}))
    assert [n["id"] for n in only] == [note["id"]]
    assert await ok(await client.get("/api/v1/notifications", headers=ann_token,
                                     params={"types[]": ["mention", "follow"]})) == []
    assert await ok(await client.get("/api/v1/notifications", headers=ann_token,
                                     params={"exclude_types[]": ["moderation_warning"]})) == []
    single = await ok(await client.get(f"/api/v1/notifications/{note['id']}", headers=ann_token))
    assert single["moderation_warning"]["id"] == warning["id"]
    assert await audit_actions(ctx) == ["account.disable", "account.enable"]


async def test_suspending_a_local_person_revokes_tokens_answers_gone_and_unsuspend_lifts_it(ctx, client, people, mod):
    ann = people["ann"]
    ann_token = await bearer(ctx, ann, ("read",))
    answer = await client.post(f"/api/v1/admin/accounts/{ann.actor.id}/action", headers=mod,
                               data={"type": "suspend"})
    assert answer.status_code == 200, answer.text
    assert (await client.get("/api/v1/accounts/verify_credentials", headers=ann_token)).status_code == 401
    async with ctx.database.session() as session:
        tokens = (await session.exec(select(OAuthAccessToken).where(OAuthAccessToken.user_id == ann.user.id))).all()
    assert tokens and all(token.revoked_at is not None for token in tokens)
    gone = await client.get("/users/ann", headers={"Accept": "application/activity+json"})
    assert gone.status_code == 410
    assert (await client.get("/users/ann/outbox")).status_code == 410
    assert (await client.get("/@ann", headers={"Accept": "text/html"})).status_code == 410
    fresh = await bearer(ctx, ann, ("read",))  # a token got some other way still does not work
    assert (await client.get("/api/v1/accounts/verify_credentials", headers=fresh)).status_code == 403
    suspended = await ok(await client.get(f"/api/v1/admin/accounts/{ann.actor.id}", headers=mod))
    assert suspended["suspended"] is True
    lifted = await ok(await client.post(f"/api/v1/admin/accounts/{ann.actor.id}/unsuspend", headers=mod))
    assert lifted["suspended"] is False
    assert (await client.get("/users/ann", headers={"Accept": "application/activity+json"})).status_code == 200
    assert await audit_actions(ctx) == ["account.suspend", "account.unsuspend"]


async def test_remote_accounts_are_marked_and_sensitized_media_shows_sensitive(ctx, client, people, mod):
    remote = await add_remote_actor(ctx, "dr_cy")
    chart = await remote_post(ctx, remote, "A chart", media_url="https://inova.test/chart.png")
    plain = await remote_post(ctx, remote, "No pictures")
    for kind in ("silence", "sensitive", "suspend"):
        answer = await client.post(f"/api/v1/admin/accounts/{remote.id}/action", headers=mod, data={"type": kind})
        assert answer.status_code == 200, answer.text
    assert (await client.post(f"/api/v1/admin/accounts/{remote.id}/action", headers=mod,
                              data={"type": "disable"})).status_code == 422
    entity = await ok(await client.get(f"/api/v1/admin/accounts/{remote.id}", headers=mod))
    assert (entity["silenced"], entity["sensitized"], entity["suspended"]) == (True, True, True)
    reader = await bearer(ctx, people["ann"], ("read",))
    shown = await ok(await client.get(f"/api/v1/statuses/{chart.id}", headers=reader))
    assert shown["sensitive"] is True
    assert (await ok(await client.get(f"/api/v1/statuses/{plain.id}", headers=reader)))["sensitive"] is False
    await ok(await client.post(f"/api/v1/admin/accounts/{remote.id}/unsensitive", headers=mod))
    await ok(await client.post(f"/api/v1/admin/accounts/{remote.id}/unsilence", headers=mod))
    assert (await ok(await client.get(f"/api/v1/statuses/{chart.id}", headers=reader)))["sensitive"] is False
    async with ctx.database.session() as session:
        row = await session.get(Actor, remote.id)
    assert (row.silenced_at, row.sensitized_at) == (None, None) and row.suspended_at is not None
    assert await audit_actions(ctx) == ["account.silence", "account.sensitive", "account.suspend",
                                        "account.unsensitive", "account.unsilence"]


async def test_an_action_with_a_report_resolves_it_and_the_warning_names_its_posts(ctx, client, people, mod):
    ann, bob = people["ann"], await add_account(ctx, "bob")
    status = await post(ctx, ann.actor, "Rude words", "public")
    async with ctx.database.transaction() as session:
        report = Report(reporter_id=bob.actor.id, target_id=ann.actor.id, status_ids=str(status.id), comment="rude")
        other = Report(reporter_id=ann.actor.id, target_id=bob.actor.id)
        session.add_all([report, other])
    wrong = await client.post(f"/api/v1/admin/accounts/{ann.actor.id}/action", headers=mod,
                              data={"type": "none", "report_id": str(other.id)})
    assert wrong.status_code == 422
    assert (await client.post(f"/api/v1/admin/accounts/{ann.actor.id}/action", headers=mod,
                              data={"type": "none", "report_id": "999"})).status_code == 404
    answer = await client.post(f"/api/v1/admin/accounts/{ann.actor.id}/action", headers=mod,
                               data={"type": "none", "report_id": str(report.id), "text": "Please be kind"})
    assert answer.status_code == 200, answer.text
    async with ctx.database.session() as session:
        resolved = await session.get(Report, report.id)
    assert resolved.action_taken_at is not None and resolved.action_taken_by_id == people["mo"].actor.id
    notes = await ok(await client.get("/api/v1/notifications", headers=await bearer(ctx, ann, ("read",))))
    assert notes[0]["moderation_warning"]["status_ids"] == [str(status.id)]
    assert notes[0]["moderation_warning"]["action"] == "none"
    assert await audit_actions(ctx) == ["report.resolve", "account.none"]


async def test_approve_and_reject_sign_ups(ctx, client, people, mod):
    first, second = await add_pending(ctx, "newcomer"), await add_pending(ctx, "other")
    approved = await ok(await client.post(f"/api/v1/admin/accounts/{first.actor.id}/approve", headers=mod))
    assert approved["approved"] is True
    again = await client.post(f"/api/v1/admin/accounts/{first.actor.id}/approve", headers=mod)
    assert (again.status_code, again.json()) == (403, NOT_PERMITTED)
    assert (await client.post(f"/api/v1/admin/accounts/{first.actor.id}/reject", headers=mod)).status_code == 403
    rejected = await ok(await client.post(f"/api/v1/admin/accounts/{second.actor.id}/reject", headers=mod))
    assert rejected["username"] == "other"
    async with ctx.database.session() as session:
        assert await session.get(Actor, second.actor.id) is None
        assert (await session.exec(select(User).where(User.email == "other@example.org"))).first() is None
    assert (await client.get(f"/api/v1/admin/accounts/{second.actor.id}", headers=mod)).status_code == 404
    assert await audit_actions(ctx) == ["account.approve", "account.reject"]


async def test_nobody_acts_on_themselves_or_their_rank_and_deletion_needs_suspension_and_an_admin(
        ctx, client, people, mod):
    chief_token = await bearer(ctx, people["chief"], ADMIN_SCOPES)
    for target in ("chief", "mo"):
        answer = await client.post(f"/api/v1/admin/accounts/{people[target].actor.id}/action", headers=mod,
                                   data={"type": "silence"})
        assert answer.status_code == 403
    ann = people["ann"]
    await post(ctx, ann.actor, "Hello", "public")
    assert (await client.delete(f"/api/v1/admin/accounts/{ann.actor.id}", headers=chief_token)).status_code == 403
    await ok(await client.post(f"/api/v1/admin/accounts/{ann.actor.id}/action", headers=chief_token,
                               data={"type": "suspend"}))
    assert (await client.delete(f"/api/v1/admin/accounts/{ann.actor.id}", headers=mod)).status_code == 403
    deleted = await ok(await client.delete(f"/api/v1/admin/accounts/{ann.actor.id}", headers=chief_token))
    assert deleted["username"] == "ann"
    async with ctx.database.session() as session:
        assert (await session.exec(select(User).where(User.actor_id == ann.actor.id))).first() is None
        statuses = (await session.exec(select(Status).where(Status.actor_id == ann.actor.id))).all()
    assert statuses and all(status.deleted_at is not None for status in statuses)
    assert (await client.get("/users/ann", headers={"Accept": "application/activity+json"})).status_code == 410
    assert await audit_actions(ctx) == ["account.suspend", "account.delete"]
