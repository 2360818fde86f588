"""Subscribed blocklists: reading a published list, the differences between two versions, and what a
refresh makes of them here (drafts, applied changes, superseded drafts, retractions, failures).

The source list is served through httpx's MockTransport (the client is the seam); the database is
real. The whole path between two real instances is in tests/flows/test_shared_blocklists.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlmodel import select

from federation.fetch import Fetcher
from moderation.blocklist_schedule import BlocklistRefresher
from moderation.blocklists import (
    BlocklistError,
    NotFound,
    ReadList,
    decide,
    diff,
    list_changes,
    read_list,
    refresh,
    subscribe,
    unsubscribe,
)
from moderation.domains import BlockEntry, save_block
from moderation.network import Member, Network
from storage.tables import AuditEntry, BlocklistChange, DomainBlock

URL = "https://mayo.test/blocklist"
NETWORK = Network("Hospital Network", (Member("Mayo", "mayo.test"), Member("Inova", "inova.test")))
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
SUSPEND = {"severity": "suspend", "reject_media": False, "reject_reports": False, "public_comment": "",
           "obfuscate": False}


def entry(domain: str, **fields: Any) -> dict[str, Any]:
    return {"domain": domain, **SUSPEND, **fields}


# --- reading and comparing (no database) ------------------------------------------------------


def test_a_list_is_read_with_domains_normalized_and_bad_entries_skipped_and_counted():
    read = read_list({"items": [
        entry("Spam.Example."),
        {"domain": "quiet.example"},  # defaults: silence, no flags
        {"domain": "not a domain"}, "just a string", {"severity": "suspend"},
        entry("spam.example", severity="silence"),  # a second entry of one domain
        entry("bad-severity.example", severity="obliterate"),
        entry("bad-flag.example", reject_media="yes"),
        entry("inova.test"),  # ourselves
    ]}, own_domain="inova.test")
    assert read.entries == {"spam.example": SUSPEND,
                            "quiet.example": dict(SUSPEND, severity="silence")}
    assert read.skipped == 7 and read.unreadable == {"bad-severity.example", "bad-flag.example"}


@pytest.mark.parametrize("document", [[], {"items": "spam.example"}, {"orderedItems": []},
                                      {"items": [entry(f"d{n}.example") for n in range(10_001)]}])
def test_what_is_not_a_list_or_is_too_long_is_refused_whole(document):
    with pytest.raises(BlocklistError):
        read_list(document)


def test_the_difference_between_two_versions_is_adds_updates_and_retractions_in_domain_order():
    previous = [entry("kept.example"), entry("changed.example"), entry("dropped.example")]
    current = ReadList({"kept.example": SUSPEND, "changed.example": dict(SUSPEND, reject_media=True),
                        "new.example": SUSPEND})
    differences, stored = diff(previous, current)
    assert [(d.domain, d.change) for d in differences] == [
        ("changed.example", "update"), ("dropped.example", "retract"), ("new.example", "add")]
    assert differences[0].entry["reject_media"] is True and differences[1].entry == {}
    assert [item["domain"] for item in stored] == ["changed.example", "kept.example", "new.example"]


def test_an_entry_that_became_unreadable_keeps_its_previous_version_instead_of_reading_as_retracted():
    differences, stored = diff([entry("spam.example")], ReadList({}, 1, frozenset({"spam.example"})))
    assert differences == [] and stored == [entry("spam.example")]


# --- refreshing against a real database -------------------------------------------------------


class Source:
    """The publishing member, as far as the subscriber can tell: a URL answering a document."""

    def __init__(self, *items: dict[str, Any]) -> None:
        self.items = list(items)
        self.status = 200

    def answer(self, request: httpx.Request) -> httpx.Response:
        assert "signature" in request.headers  # fetched signed, as the publisher requires
        if self.status != 200:
            return httpx.Response(self.status)
        return httpx.Response(200, json={"id": URL, "type": "Collection", "items": self.items},
                              headers={"content-type": "application/activity+json"})

    def fetcher(self) -> Fetcher:
        client = httpx.AsyncClient(transport=httpx.MockTransport(self.answer))
        return Fetcher(client, sign=lambda method, url: {"Signature": "keyId=\"https://inova.test/actor#main-key\""})


async def subscribed(database, *, trusted: bool = False) -> int:
    async with database.transaction() as session:
        return (await subscribe(session, URL, trusted=trusted, network=NETWORK, by=None, via="cli")).id


async def run(database, source: Source, subscription_id: int, when: datetime = NOW):
    return await refresh(database, source.fetcher(), subscription_id, now=when, own_domain="inova.test",
                         network=NETWORK)


async def changes(database) -> list[tuple[str, str, str]]:
    async with database.session() as session:
        rows = (await session.exec(select(BlocklistChange).order_by(BlocklistChange.id))).all()
    return [(row.domain, row.change, row.state) for row in rows]


async def blocks(database) -> dict[str, DomainBlock]:
    async with database.session() as session:
        return {row.domain: row for row in (await session.exec(select(DomainBlock))).all()}


async def test_a_newer_change_of_a_domain_supersedes_the_draft_nobody_decided(database):
    source = Source(entry("spam.example", severity="silence"))
    subscription_id = await subscribed(database)
    assert (await run(database, source, subscription_id)).pending == 1
    source.items = [entry("spam.example")]
    await run(database, source, subscription_id)
    assert await changes(database) == [("spam.example", "add", "superseded"), ("spam.example", "add", "pending")]
    source.items = []
    await run(database, source, subscription_id)  # dropped before anyone blocked it: nothing to retract
    assert await changes(database) == [("spam.example", "add", "superseded"), ("spam.example", "add", "superseded")]
    assert await blocks(database) == {}


async def test_a_trusted_list_never_blocks_a_member_of_the_network_by_itself(database):
    source = Source(entry("mayo.test"), entry("spam.example"))
    subscription_id = await subscribed(database, trusted=True)
    outcome = await run(database, source, subscription_id)
    assert (outcome.applied, outcome.pending) == (1, 1)
    assert set(await blocks(database)) == {"spam.example"}
    assert ("mayo.test", "add", "pending") in await changes(database)


async def test_a_list_that_cannot_be_fetched_changes_nothing_and_says_why(database):
    source = Source(entry("spam.example"))
    subscription_id = await subscribed(database, trusted=True)
    await run(database, source, subscription_id)
    source.status = 503
    outcome = await run(database, source, subscription_id, NOW + timedelta(hours=1))
    assert "503" in outcome.error and set(await blocks(database)) == {"spam.example"}
    await run(database, source, subscription_id, NOW + timedelta(hours=2))
    async with database.session() as session:
        failures = (await session.exec(select(AuditEntry).where(AuditEntry.detail.startswith("failed")))).all()  # type: ignore[attr-defined]
    assert len(failures) == 1  # the same failure again is not logged again
    source.status = 200
    assert (await run(database, source, subscription_id, NOW + timedelta(hours=3))).error == ""


async def test_approving_or_rejecting_a_change_twice_is_refused_and_unknown_ids_are_not_found(database):
    source = Source(entry("spam.example"), entry("other.example"))
    subscription_id = await subscribed(database)
    await run(database, source, subscription_id)
    async with database.session() as session:
        first, second = (await list_changes(session, state="pending"))
    async with database.transaction() as session:
        await decide(session, first.id, approve=False, by=None, via="cli", now=NOW)
        await decide(session, second.id, approve=True, by=None, via="cli", now=NOW)
    for change_id in (first.id, second.id):
        with pytest.raises(BlocklistError, match="not pending"):
            async with database.transaction() as session:
                await decide(session, change_id, approve=True, by=None, via="cli", now=NOW)
    with pytest.raises(NotFound):
        async with database.transaction() as session:
            await decide(session, 12345, approve=True, by=None, via="cli", now=NOW)
    assert set(await blocks(database)) == {second.domain}
    with pytest.raises(BlocklistError, match="state must be"):
        async with database.session() as session:
            await list_changes(session, state="maybe")


@pytest.mark.parametrize("lift", [False, True])
async def test_unsubscribing_keeps_its_blocks_as_our_own_unless_asked_to_lift_them(database, lift):
    source = Source(entry("spam.example"))
    subscription_id = await subscribed(database, trusted=True)
    await run(database, source, subscription_id)
    async with database.transaction() as session:
        await save_block(session, BlockEntry("local.example"), by=None, via="cli")
        assert await unsubscribe(session, subscription_id, lift_blocks=lift, by=None, via="cli") == 1
    left = await blocks(database)
    assert set(left) == ({"local.example"} if lift else {"local.example", "spam.example"})
    assert all(row.subscription_id is None for row in left.values())
    assert await changes(database) == []


async def test_subscribing_needs_a_member_instance_and_is_done_once(database):
    await subscribed(database)
    cases = [(URL, NETWORK, "already subscribed"), ("https://elsewhere.example/blocklist", NETWORK, "not a member"),
             ("ftp://mayo.test/blocklist", NETWORK, "http"), ("https://inova.test/blocklist", None, "no network")]
    for url, network, message in cases:
        with pytest.raises(BlocklistError, match=message):
            async with database.transaction() as session:
                await subscribe(session, url, trusted=False, network=network, by=None, via="cli")


async def test_the_worker_refreshes_each_subscription_when_it_is_due(database):
    source = Source(entry("spam.example"))
    await subscribed(database, trusted=True)
    now = [NOW]
    worker = BlocklistRefresher(database, source.fetcher(), every=3600, own_domain="inova.test", network=NETWORK,
                                clock=lambda: now[0])
    assert await worker.run_once() == 1 and set(await blocks(database)) == {"spam.example"}
    now[0] = NOW + timedelta(minutes=59)
    assert await worker.run_once() == 0
    source.items = []
    now[0] = NOW + timedelta(hours=1)
    assert await worker.run_once() == 1 and await blocks(database) == {}


async def test_a_retraction_undone_at_the_source_before_anyone_decided_leaves_nothing_to_decide(database):
    source = Source(entry("spam.example"))
    subscription_id = await subscribed(database)
    await run(database, source, subscription_id)
    async with database.transaction() as session:
        [draft] = await list_changes(session, state="pending")
        await decide(session, draft.id, approve=True, by=None, via="cli", now=NOW)
    source.items = []
    await run(database, source, subscription_id)
    source.items = [entry("spam.example")]
    await run(database, source, subscription_id)
    assert await changes(database) == [("spam.example", "add", "applied"), ("spam.example", "retract", "superseded")]
    assert set(await blocks(database)) == {"spam.example"}
