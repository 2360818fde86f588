"""Reports through the client API: into the local queue, and forwarded anonymously as a `Flag`
from the instance actor to the reported account's server, where it becomes a report too."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func
from sqlmodel import select

from storage.tables import Delivery, Report
from tests.support.actions import follow, post, signed_post, status_on
from tests.support.api import bearer
from tests.support.network import federation_of

MAYO, INOVA = "mayo.test", "inova.test"


@pytest.fixture
async def network(new_database_url):
    async with federation_of([MAYO, INOVA], new_database_url) as (nodes, drain):
        yield nodes, drain


async def reports_on(node) -> list[Report]:
    async with node.ctx.database.session() as session:
        return list((await session.exec(select(Report).order_by(Report.id))).all())


async def account_id_of(node, headers, handle: str) -> str:
    found = await node.client.get("/api/v1/accounts/lookup", params={"acct": handle}, headers=headers)
    assert found.status_code == 200, found.text
    return found.json()["id"]


async def test_a_forwarded_report_reaches_the_accounts_server_without_the_reporters_identity(network):
    (mayo, inova), drain = network
    ann = await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", bo.actor.uri)
    await drain()
    spam = await post(inova, "dr_bo", "Buy miracle pills", "public")
    await drain()
    token = await bearer(mayo.ctx, ann, ("read", "write"))
    copy = await status_on(mayo, spam.uri)
    answer = await mayo.client.post("/api/v1/reports/", headers=token, data={
        "account_id": await account_id_of(mayo, token, "dr_bo@inova.test"), "status_ids[]": [str(copy.id)],
        "comment": "Selling pills to patients", "category": "spam", "forward": "1"})
    assert answer.status_code == 200, answer.text
    report = answer.json()
    assert (report["category"], report["comment"], report["forwarded"]) == ("spam", "Selling pills to patients", True)
    assert report["status_ids"] == [str(copy.id)] and report["target_account"]["acct"] == "dr_bo@inova.test"
    assert report["action_taken"] is False
    async with mayo.ctx.database.session() as session:
        [flag] = (await session.exec(select(Delivery).where(Delivery.state == "pending"))).all()
    assert "ann" not in flag.body and json.loads(flag.body)["actor"] == f"https://{MAYO}/actor"
    await drain()
    [received] = await reports_on(inova)
    assert received.target_id == bo.actor.id and received.status_ids == str(spam.id)
    assert received.comment == "Selling pills to patients" and not received.forwarded
    async with inova.ctx.database.session() as session:
        reporter = await inova.federation.actors.find(session, f"https://{MAYO}/actor")
    assert received.reporter_id == reporter.id


async def test_a_report_not_forwarded_stays_here(network):
    (mayo, inova), drain = network
    ann = await mayo.account("ann")
    await inova.account("dr_bo", role="staff")
    await follow(mayo, "ann", f"https://{INOVA}/users/dr_bo")
    await drain()
    token = await bearer(mayo.ctx, ann, ("write:reports", "read"))
    answer = await mayo.client.post("/api/v1/reports", headers=token, json={
        "account_id": await account_id_of(mayo, token, "dr_bo@inova.test"), "comment": "rude", "forward": False})
    assert answer.status_code == 200 and answer.json()["forwarded"] is False
    await drain()
    assert len(await reports_on(mayo)) == 1 and await reports_on(inova) == []


async def test_the_same_flag_delivered_twice_reports_once_and_a_flag_of_nobody_here_is_ignored(network):
    (mayo, inova), drain = network
    await mayo.account("ann")
    bo = await inova.account("dr_bo", role="staff")
    flag = {"id": f"{bo.actor.uri}#flags/1", "type": "Flag", "actor": bo.actor.uri,
            "object": [f"https://{MAYO}/users/ann"], "content": "<b>spam</b>"}
    for _ in range(2):
        assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", json.dumps(flag).encode()) == 202
    stray = dict(flag, id=f"{bo.actor.uri}#flags/2", object=[f"https://{MAYO}/users/nobody"])
    assert await signed_post(inova, "dr_bo", f"https://{MAYO}/inbox", json.dumps(stray).encode()) == 202
    await drain()
    [report] = await reports_on(mayo)
    assert report.comment == "spam"  # markup is not kept


async def test_bad_reports_are_refused_and_nothing_is_written(network):
    (mayo, inova), drain = network
    ann = await mayo.account("ann")
    cy = await mayo.account("cy")
    own = await post(mayo, "ann", "my own post", "public")
    hidden = await post(mayo, "cy", "only for cy's followers", "private")
    token = await bearer(mayo.ctx, ann, ("read", "write"))
    cy_id = str(cy.actor.id)
    cases = [
        ({"comment": "no account"}, 422),
        ({"account_id": "999999"}, 404),
        ({"account_id": "x"}, 422),
        ({"account_id": cy_id, "category": "rude"}, 422),
        ({"account_id": cy_id, "comment": "x" * 1001}, 422),
        ({"account_id": cy_id, "status_ids": [str(own.id)]}, 422),  # not cy's post
        ({"account_id": cy_id, "status_ids": [str(hidden.id)]}, 422),  # cy's, but ann may not see it
        ({"account_id": cy_id, "rule_ids": ["1"]}, 422),  # this instance has no rules
    ]
    for body, status in cases:
        answer = await mayo.client.post("/api/v1/reports", headers=token, json=body)
        assert answer.status_code == status, (body, answer.text)
        assert "error" in answer.json()
    assert (await mayo.client.post("/api/v1/reports", json={"account_id": cy_id})).status_code == 401
    read_only = await bearer(mayo.ctx, ann, ("read",))
    assert (await mayo.client.post("/api/v1/reports", headers=read_only,
                                   json={"account_id": cy_id})).status_code == 403
    async with mayo.ctx.database.session() as session:
        assert (await session.exec(select(func.count()).select_from(Report))).one() == 0
