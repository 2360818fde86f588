"""A report forwarded from another hospital leads to a suspension here: the report is resolved
with the action, the person's apps stop working and they cannot sign in, and the other server
hears a `Delete` of the actor, drops the posts and follows it held, and is answered 410 for it."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from moderation.audit import entries
from storage.tables import AccountWarning, Delivery, Report
from tests.support.actions import approve, follow, follow_state, post, status_on
from tests.support.api import bearer
from tests.support.network import federation_of
from tests.web.test_oauth import CALLBACK, register, sign_in

MAYO, INOVA = "mayo.test", "inova.test"
ADMIN_SCOPES = ("read", "write", "admin:read", "admin:write")


@pytest.fixture
async def network(new_database_url):
    async with federation_of([MAYO, INOVA], new_database_url) as (nodes, drain):
        yield nodes, drain


async def test_forwarded_report_then_suspension_federates_a_delete_and_locks_the_person_out(network):
    (mayo, inova), drain = network
    ann = await mayo.account("ann")
    mo = await mayo.account("mo", role="moderator")
    bo = await inova.account("dr_bo", role="staff")
    ann_uri = f"https://{MAYO}/users/ann"
    await follow(inova, "dr_bo", ann_uri)
    await drain()
    await approve(mayo, "ann", bo.actor.uri)
    await drain()
    assert await follow_state(inova, bo.actor.uri, ann_uri) == "accepted"
    spam = await post(mayo, "ann", "Miracle cure, message me", "private")
    await drain()
    assert (await status_on(inova, spam.uri)).deleted_at is None

    # dr_bo reports ann at inova and has it forwarded to mayo.
    bo_token = await bearer(inova.ctx, bo, ("read", "write"))
    found = await inova.client.get("/api/v1/accounts/lookup", params={"acct": f"ann@{MAYO}"}, headers=bo_token)
    copy = await status_on(inova, spam.uri)
    filed = await inova.client.post("/api/v1/reports", headers=bo_token, data={
        "account_id": found.json()["id"], "status_ids[]": [str(copy.id)], "comment": "Selling cures",
        "forward": "true"})
    assert filed.status_code == 200, filed.text
    await drain()

    # mayo's moderator finds it in the queue and suspends ann with it.
    ann_token = await bearer(mayo.ctx, ann, ("read",))
    mod = await bearer(mayo.ctx, mo, ADMIN_SCOPES)
    queue = (await mayo.client.get("/api/v1/admin/reports", headers=mod)).json()
    [report] = queue
    assert report["account"]["domain"] == INOVA and report["target_account"]["username"] == "ann"
    assert [status["id"] for status in report["statuses"]] == [str(spam.id)]
    acted = await mayo.client.post(f"/api/v1/admin/accounts/{ann.actor.id}/action", headers=mod, data={
        "type": "suspend", "report_id": report["id"], "text": "Selling cures to patients"})
    assert acted.status_code == 200, acted.text
    async with mayo.ctx.database.session() as session:
        [delete] = (await session.exec(select(Delivery).where(Delivery.state == "pending"))).all()
        resolved = await session.get(Report, int(report["id"]))
        [warning] = (await session.exec(select(AccountWarning))).all()
        actions = [entry.action for entry in reversed(await entries(session))]
    sent = json.loads(delete.body)
    assert (sent["type"], sent["actor"], sent["object"], delete.host) == ("Delete", ann_uri, ann_uri, INOVA)
    assert resolved.action_taken_at is not None and resolved.action_taken_by_id == mo.actor.id
    assert (warning.target_id, warning.action, warning.status_ids) == (ann.actor.id, "suspend", str(spam.id))
    assert actions == ["report.read", "status.read", "report.resolve", "account.suspend"]

    # The person is locked out: the token is dead and the login form says why.
    assert (await mayo.client.get("/api/v1/accounts/verify_credentials", headers=ann_token)).status_code == 401
    app = await register(mayo.client)
    login_page = await mayo.client.get("/oauth/authorize", params={
        "response_type": "code", "client_id": app["client_id"], "redirect_uri": CALLBACK, "scope": "read"})
    refused = await sign_in(mayo.client, login_page)
    assert refused.status_code == 403 and "suspended" in refused.text

    # inova hears the Delete: the post and the follow are gone, and the actor is gone at its source.
    await drain()
    assert (await status_on(inova, spam.uri)).deleted_at is not None
    assert await follow_state(inova, bo.actor.uri, ann_uri) is None
    gone = await mayo.client.get("/users/ann", headers={"Accept": "application/activity+json"})
    assert gone.status_code == 410
