"""The admin reports API in one app on a real database: the queue and its filters, Admin::Report,
taking a report on, resolving and reopening it, and the audit of every read of private content."""

from __future__ import annotations

import pytest
from sqlmodel import select

from moderation.audit import entries
from storage.tables import AuditEntry, Report
from tests.conftest import add_account, add_remote_actor
from tests.support.api import bearer, post

ADMIN_SCOPES = ("read", "admin:read", "admin:write")


@pytest.fixture
async def people(ctx):
    return {"ann": await add_account(ctx, "ann"), "bob": await add_account(ctx, "bob"),
            "dr_bo": await add_account(ctx, "dr_bo", role="staff"),
            "mo": await add_account(ctx, "mo", role="moderator")}


@pytest.fixture
async def mod(ctx, people):
    return await bearer(ctx, people["mo"], ADMIN_SCOPES)


async def add_report(ctx, reporter, target, statuses=(), comment="", **fields) -> Report:
    async with ctx.database.transaction() as session:
        report = Report(reporter_id=reporter.id, target_id=target.id, comment=comment,
                        status_ids=" ".join(str(status.id) for status in statuses), **fields)
        session.add(report)
    return report


async def ok(response):
    assert response.status_code == 200, response.text
    return response.json()


async def audit(ctx) -> list[tuple[str, str, str]]:
    async with ctx.database.session() as session:
        return [(entry.action, entry.target_type, entry.target) for entry in reversed(await entries(session))]


async def test_only_moderators_with_report_scopes_see_the_queue(ctx, client, people):
    await add_report(ctx, people["bob"].actor, people["ann"].actor)
    staff = await bearer(ctx, people["dr_bo"], ADMIN_SCOPES)
    assert (await client.get("/api/v1/admin/reports", headers=staff)).status_code == 403
    accounts_only = await bearer(ctx, people["mo"], ("admin:read:accounts",))
    assert (await client.get("/api/v1/admin/reports", headers=accounts_only)).status_code == 403
    assert (await client.get("/api/v1/admin/reports")).status_code == 401
    assert await audit(ctx) == []


async def test_the_queue_lists_unresolved_reports_filters_and_pages(ctx, client, people, mod):
    ann, bob, dr_bo = people["ann"].actor, people["bob"].actor, people["dr_bo"].actor
    first = await add_report(ctx, bob, ann, comment="rude")
    second = await add_report(ctx, ann, dr_bo, comment="pills")
    third = await add_report(ctx, bob, dr_bo, comment="spam")
    done = await add_report(ctx, ann, bob, comment="old", action_taken_at=first.created_at)

    async def ids(**params) -> list[str]:
        return [entity["id"] for entity in await ok(await client.get("/api/v1/admin/reports", headers=mod,
                                                                     params=params))]

    assert await ids() == [str(third.id), str(second.id), str(first.id)]
    assert await ids(resolved="true") == [str(done.id)]
    assert await ids(account_id=str(bob.id)) == [str(third.id), str(first.id)]
    assert await ids(target_account_id=str(dr_bo.id)) == [str(third.id), str(second.id)]
    assert await ids(target_account_id="nope") == []
    page = await client.get("/api/v1/admin/reports", headers=mod, params={"limit": 2})
    assert [e["id"] for e in page.json()] == [str(third.id), str(second.id)]
    older = page.headers["link"].split(">")[0].lstrip("<")
    assert [e["id"] for e in await ok(await client.get(older, headers=mod))] == [str(first.id)]


async def test_admin_report_entity_shows_the_people_and_posts_and_audits_private_reads(ctx, client, people, mod):
    ann, bob = people["ann"].actor, people["bob"].actor
    public = await post(ctx, ann, "Out in the open", "public")
    private = await post(ctx, ann, "Only for followers", "private")
    report = await add_report(ctx, bob, ann, [public, private], comment="She posted my diagnosis",
                              category="violation")
    entity = await ok(await client.get(f"/api/v1/admin/reports/{report.id}", headers=mod))
    assert (entity["category"], entity["comment"], entity["action_taken"]) == (
        "violation", "She posted my diagnosis", False)
    assert entity["account"]["username"] == "bob" and entity["account"]["email"] == "bob@example.org"
    assert entity["target_account"]["account"]["acct"] == "ann"
    assert (entity["assigned_account"], entity["action_taken_by_account"], entity["rules"]) == (None, None, [])
    assert [status["id"] for status in entity["statuses"]] == [str(public.id), str(private.id)]
    assert entity["statuses"][1]["content"] == "<p>Only for followers</p>"
    assert await audit(ctx) == [("report.read", "report", str(report.id)), ("status.read", "status", str(private.id))]
    async with ctx.database.session() as session:
        [read] = (await session.exec(select(AuditEntry).where(AuditEntry.action == "status.read"))).all()
    assert read.actor_id == people["mo"].actor.id and read.via == "api" and "private" in read.detail
    assert (await client.get("/api/v1/admin/reports/424242", headers=mod)).status_code == 404


async def test_a_forwarded_report_shows_the_remote_reporter(ctx, client, people, mod):
    instance = await add_remote_actor(ctx, "inova.test", "inova.test")
    report = await add_report(ctx, instance, people["ann"].actor, comment="forwarded")
    entity = await ok(await client.get(f"/api/v1/admin/reports/{report.id}", headers=mod))
    assert entity["account"]["domain"] == "inova.test" and entity["account"]["email"] is None


async def test_assign_resolve_reopen_and_unassign_each_audited(ctx, client, people, mod):
    report = await add_report(ctx, people["bob"].actor, people["ann"].actor)
    base = f"/api/v1/admin/reports/{report.id}"
    assigned = await ok(await client.post(f"{base}/assign_to_self", headers=mod))
    assert assigned["assigned_account"]["username"] == "mo"
    resolved = await ok(await client.post(f"{base}/resolve", headers=mod))
    assert resolved["action_taken"] is True and resolved["action_taken_at"] is not None
    assert resolved["action_taken_by_account"]["username"] == "mo"
    assert await ok(await client.get("/api/v1/admin/reports", headers=mod)) == []
    reopened = await ok(await client.post(f"{base}/reopen", headers=mod))
    assert (reopened["action_taken"], reopened["action_taken_by_account"]) == (False, None)
    unassigned = await ok(await client.post(f"{base}/unassign", headers=mod))
    assert unassigned["assigned_account"] is None
    reader = await bearer(ctx, people["mo"], ("admin:read",))
    assert (await client.post(f"{base}/resolve", headers=reader)).status_code == 403
    assert (await client.post("/api/v1/admin/reports/9999/resolve", headers=mod)).status_code == 404
    changes = [action for action, _type, _target in await audit(ctx) if action != "report.read"]
    assert changes == ["report.assign", "report.resolve", "report.reopen", "report.unassign"]


async def test_update_changes_the_category_and_refuses_rules(ctx, client, people, mod):
    report = await add_report(ctx, people["bob"].actor, people["ann"].actor)
    base = f"/api/v1/admin/reports/{report.id}"
    updated = await ok(await client.put(base, headers=mod, json={"category": "spam"}))
    assert updated["category"] == "spam"
    assert (await client.put(base, headers=mod, json={"category": "gossip"})).status_code == 422
    assert (await client.put(base, headers=mod, json={"rule_ids": ["1"]})).status_code == 422
    assert [action for action, _t, _id in await audit(ctx)] == ["report.update", "report.read"]
