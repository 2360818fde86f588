"""Shared blocklists across the network: one member publishes its domain blocks, another subscribes,
approves (or trusts) the changes, enforces them, and follows the retractions; outsiders get nothing."""

from __future__ import annotations

import pytest
from sqlmodel import select

from federation.fetch import FetchRefused
from moderation.blocklists import refresh, subscribe
from moderation.domains import BlockEntry, lift_block, save_block
from storage.tables import AuditEntry, BlocklistChange, DomainBlock
from tests.support.api import bearer
from tests.support.network import federation_of

MAYO, INOVA, OUTSIDER = "mayo.test", "inova.test", "outsider.test"
LIST = f"https://{MAYO}/blocklist"
SUBSCRIPTIONS = "/api/v1/admin/blocklist_subscriptions"
CHANGES = "/api/v1/admin/blocklist_changes"


@pytest.fixture
async def network(new_database_url, tmp_path):
    members = tmp_path / "network.toml"
    members.write_text('name = "Hospital Network"\n'
                       f'[[members]]\nname = "Mayo Clinic"\ndomain = "{MAYO}"\n'
                       f'[[members]]\nname = "Inova"\ndomain = "{INOVA}"\n')
    joined = {"network_file": members}
    async with federation_of([MAYO, INOVA, OUTSIDER], new_database_url,
                             node_settings={MAYO: joined, INOVA: joined}) as (nodes, drain):
        yield nodes


async def block(node, domain: str, **fields) -> None:
    async with node.ctx.database.transaction() as session:
        await save_block(session, BlockEntry(domain, **fields), by=None, via="cli")


async def lift(node, domain: str) -> None:
    async with node.ctx.database.transaction() as session:
        assert await lift_block(session, domain, by=None, via="cli")


async def blocks_on(node) -> dict[str, DomainBlock]:
    async with node.ctx.database.session() as session:
        return {row.domain: row for row in (await session.exec(select(DomainBlock))).all()}


async def refresh_on(node, subscription_id: int):
    return await refresh(node.ctx.database, node.federation.fetcher, subscription_id, now=node.federation.clock(),
                         own_domain=node.domain, network=node.ctx.network)


async def admin_token(node) -> dict[str, str]:
    admin = await node.account("boss", role="admin")
    return await bearer(node.ctx, admin, ("admin:read", "admin:write"))


async def test_a_blocklist_published_on_one_member_is_subscribed_approved_enforced_then_retracted(network):
    mayo, inova, _outsider = network
    await block(mayo, "spam.example", severity="suspend", reject_media=True, public_comment="Sells pills",
                private_comment="reported by three patients")
    await block(inova, "rude.example", severity="silence")  # Inova's own: no list may touch it
    token = await admin_token(inova)

    made = await inova.client.post(SUBSCRIPTIONS, headers=token, json={"url": LIST})
    assert made.status_code == 200, made.text
    subscription = made.json()
    assert (subscription["url"], subscription["trusted"], subscription["refreshed_at"]) == (LIST, False, None)
    refreshed = await inova.client.post(f"{SUBSCRIPTIONS}/{subscription['id']}/refresh", headers=token)
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh"] == {"applied": 0, "pending": 1, "skipped": 0, "error": None}
    assert refreshed.json()["entries_count"] == 1 and refreshed.json()["refreshed_at"] is not None
    assert "spam.example" not in await blocks_on(inova)  # a draft only

    [draft] = (await inova.client.get(CHANGES, headers=token, params={"state": "pending"})).json()
    assert (draft["domain"], draft["change"], draft["state"]) == ("spam.example", "add", "pending")
    assert draft["entry"] == {"severity": "suspend", "reject_media": True, "reject_reports": False,
                              "public_comment": "Sells pills", "obfuscate": False}
    approved = await inova.client.post(f"{CHANGES}/{draft['id']}/approve", headers=token)
    assert approved.status_code == 200 and approved.json()["state"] == "applied"
    enforced = (await blocks_on(inova))["spam.example"]
    assert (enforced.severity, enforced.reject_media, enforced.public_comment) == ("suspend", True, "Sells pills")
    assert enforced.private_comment == "" and enforced.subscription_id == int(subscription["id"])
    again = await inova.client.post(f"{SUBSCRIPTIONS}/{subscription['id']}/refresh", headers=token)
    assert again.json()["refresh"]["pending"] == 0  # nothing new at the source

    await lift(mayo, "spam.example")
    await inova.client.post(f"{SUBSCRIPTIONS}/{subscription['id']}/refresh", headers=token)
    [retraction] = (await inova.client.get(CHANGES, headers=token, params={"state": "pending"})).json()
    assert (retraction["domain"], retraction["change"], retraction["entry"]) == ("spam.example", "retract", None)
    assert "spam.example" in await blocks_on(inova)  # until an admin approves
    assert (await inova.client.post(f"{CHANGES}/{retraction['id']}/approve", headers=token)).status_code == 200
    assert set(await blocks_on(inova)) == {"rude.example"}
    async with inova.ctx.database.session() as session:
        actions = [(entry.action, entry.target) for entry in
                   (await session.exec(select(AuditEntry).order_by(AuditEntry.id))).all()]
    assert ("blocklist_subscription.create", LIST) in actions
    assert actions.count(("blocklist_change.approve", "spam.example")) == 2
    assert ("domain_block.create", "spam.example") in actions and ("domain_block.delete", "spam.example") in actions


async def test_a_trusted_subscription_applies_and_retracts_by_itself_but_never_touches_local_blocks(network):
    mayo, inova, _outsider = network
    await block(mayo, "spam.example", severity="suspend")
    await block(mayo, "rude.example", severity="suspend")
    await block(inova, "rude.example", severity="silence", private_comment="our own call")
    async with inova.ctx.database.transaction() as session:
        subscription = await subscribe(session, LIST, trusted=True, network=inova.ctx.network, by=None, via="cli")
    assert await inova.federation.blocklists.run_once() == 1  # never refreshed: due
    blocks = await blocks_on(inova)
    assert blocks["spam.example"].severity == "suspend" and blocks["spam.example"].subscription_id == subscription.id
    assert (blocks["rude.example"].severity, blocks["rude.example"].subscription_id) == ("silence", None)
    assert await inova.federation.blocklists.run_once() == 0  # refreshed a moment ago: not due

    await block(mayo, "spam.example", severity="silence", reject_reports=True)
    await lift(mayo, "rude.example")
    outcome = await refresh_on(inova, subscription.id)
    assert (outcome.applied, outcome.pending, outcome.error) == (1, 0, "")
    blocks = await blocks_on(inova)
    assert (blocks["spam.example"].severity, blocks["spam.example"].reject_reports) == ("silence", True)
    assert blocks["rude.example"].private_comment == "our own call"  # retracted there, kept here

    await lift(mayo, "spam.example")
    outcome = await refresh_on(inova, subscription.id)
    assert outcome.applied == 1 and set(await blocks_on(inova)) == {"rude.example"}
    async with inova.ctx.database.session() as session:
        states = (await session.exec(select(BlocklistChange.change, BlocklistChange.state)
                                     .order_by(BlocklistChange.id))).all()
    assert states == [("add", "applied"), ("update", "applied"), ("retract", "applied")]


async def test_the_list_is_served_only_to_signed_fetches_from_member_instances(network):
    mayo, inova, outsider = network
    await block(mayo, "spam.example", severity="suspend", private_comment="not for anyone else",
                obfuscate=True)
    await block(mayo, "copied.example")
    async with mayo.ctx.database.transaction() as session:
        subscription = await subscribe(session, f"https://{INOVA}/blocklist", trusted=True,
                                       network=mayo.ctx.network, by=None, via="cli")
        row = (await session.exec(select(DomainBlock).where(DomainBlock.domain == "copied.example"))).one()
        row.subscription_id = subscription.id  # as if it had come from Inova's list
        session.add(row)

    assert (await mayo.client.get("/nodeinfo/2.1")).json()["metadata"]["blocklist"] == LIST
    unsigned = await mayo.client.get("/blocklist")
    assert unsigned.status_code == 401 and "signed" in unsigned.json()["error"]
    with pytest.raises(FetchRefused, match="403"):
        await outsider.federation.fetcher.fetch_activity(LIST)
    document = await inova.federation.fetcher.fetch_activity(LIST)
    assert document["id"] == LIST and document["totalItems"] == 1
    [item] = document["items"]
    assert item == {"domain": "spam.example", "severity": "suspend", "reject_media": False,
                    "reject_reports": False, "public_comment": "", "obfuscate": True}


async def test_bad_admin_requests_are_refused_with_a_reason_and_write_nothing(network):
    _mayo, inova, _outsider = network
    token = await admin_token(inova)
    moderator = await inova.account("mod", role="moderator")
    moderator_token = await bearer(inova.ctx, moderator, ("admin:read", "admin:write"))
    assert (await inova.client.get(SUBSCRIPTIONS)).status_code == 401
    assert (await inova.client.get(SUBSCRIPTIONS, headers=moderator_token)).status_code == 403
    assert (await inova.client.post(SUBSCRIPTIONS, headers=moderator_token, json={"url": LIST})).status_code == 403
    cases = [({}, "blank"), ({"url": f"https://{OUTSIDER}/blocklist"}, "not a member"),
             ({"url": "javascript:alert(1)"}, "http(s) URL")]
    for body, message in cases:
        answer = await inova.client.post(SUBSCRIPTIONS, headers=token, json=body)
        assert answer.status_code == 422 and message in answer.json()["error"], answer.text
    assert (await inova.client.post(SUBSCRIPTIONS, headers=token, data={"url": LIST, "trusted": "1"})).json()["trusted"]
    duplicate = await inova.client.post(SUBSCRIPTIONS, headers=token, json={"url": LIST})
    assert duplicate.status_code == 422 and "already subscribed" in duplicate.json()["error"]
    [only] = (await inova.client.get(SUBSCRIPTIONS, headers=token)).json()
    distrusted = await inova.client.put(f"{SUBSCRIPTIONS}/{only['id']}", headers=token, json={"trusted": False})
    assert distrusted.status_code == 200 and distrusted.json()["trusted"] is False
    assert (await inova.client.put(f"{SUBSCRIPTIONS}/{only['id']}", headers=token, json={})).status_code == 422
    for method, path in [("POST", f"{SUBSCRIPTIONS}/99999/refresh"), ("DELETE", f"{SUBSCRIPTIONS}/99999"),
                         ("PUT", f"{SUBSCRIPTIONS}/99999"),
                         ("GET", f"{SUBSCRIPTIONS}/nope"), ("POST", f"{CHANGES}/99999/approve"),
                         ("POST", f"{CHANGES}/99999/reject")]:
        answer = await inova.client.request(method, path, headers=token, json={"trusted": True})
        assert answer.status_code == 404 and "error" in answer.json(), (method, path, answer.text)
    assert (await inova.client.get(CHANGES, headers=token, params={"state": "maybe"})).status_code == 422
    assert (await inova.client.get(CHANGES, headers=token, params={"max_id": "x"})).status_code == 422
    assert (await inova.client.get(f"{SUBSCRIPTIONS}/{only['id']}", headers=token)).json()["url"] == LIST
    gone = await inova.client.delete(f"{SUBSCRIPTIONS}/{only['id']}", headers=token)
    assert gone.status_code == 200 and (await inova.client.get(SUBSCRIPTIONS, headers=token)).json() == []


async def test_a_list_that_cannot_be_reached_is_reported_on_the_subscription(network):
    _mayo, inova, _outsider = network
    token = await admin_token(inova)
    made = (await inova.client.post(SUBSCRIPTIONS, headers=token, json={"url": f"https://{MAYO}/no-such-list"})).json()
    answer = await inova.client.post(f"{SUBSCRIPTIONS}/{made['id']}/refresh", headers=token)
    assert answer.status_code == 200 and "404" in answer.json()["refresh"]["error"]
    assert "404" in answer.json()["last_error"] and answer.json()["entries_count"] == 0
