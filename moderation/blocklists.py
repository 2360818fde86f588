"""Shared blocklists: following another member instance's published domain blocks.

A subscription names a member's list URL (`https://mayo.example/blocklist`, served only to signed
fetches from members, see `web.blocklists`). `refresh` fetches it signed by our instance actor,
reads it (`read_list`), compares it with the list as last fetched (`diff`) and turns each
difference into a `BlocklistChange`:

- an untrusted subscription's changes are drafts (`pending`) an admin approves or rejects;
- a trusted subscription's changes apply at once, through `save_block`/`lift_block`, via "system".

What a subscription may touch here is only what it put here (`DomainBlock.subscription_id`): a
block an admin made locally is never updated or lifted by a list, and a retraction at the source
lifts only a block that came from that same list (a block another list made is taken over by the
list whose change is applied last). A newer change of a domain supersedes an older draft of it.
Blocks of the network's own members never apply by themselves, even from a trusted list: an
admin decides those.

The schedule is `moderation.blocklist_schedule`.

A list that cannot be fetched or is not a list at all changes nothing (the error is kept on the
subscription); single bad entries are skipped and counted, and a domain whose entry became
unreadable keeps its previous entry, so that garbage at the source never reads as a retraction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from federation.fetch import Fetcher, FetchError
from moderation.audit import record
from moderation.domains import BlockEntry, DomainPolicyError, lift_block, normalize_domain, save_block
from moderation.network import Network
from storage.engine import Database
from storage.tables import BlocklistChange, BlocklistSubscription, DomainBlock

MAX_ENTRIES = 10_000
MAX_URL = 2048
# What a published entry says and a subscriber keeps; never the private comment.
ENTRY_FIELDS = ("severity", "reject_media", "reject_reports", "public_comment", "obfuscate")
CHANGE_STATES = ("pending", "applied", "rejected", "superseded")

Entry = dict[str, Any]


class BlocklistError(ValueError):
    """Something asked of a subscription that cannot be done; the message says why (a 422)."""


class NotFound(LookupError):
    """No such subscription or change (a 404)."""


# --- reading a published list -----------------------------------------------------------------


@dataclass(frozen=True)
class ReadList:
    """A published list as read: its entries by domain, and what could not be used."""

    entries: dict[str, Entry]
    skipped: int = 0
    # Domains whose entry was there but unusable: their previous entry is kept.
    unreadable: frozenset[str] = frozenset()


def read_list(document: Any, *, own_domain: str = "") -> ReadList:
    """The entries of a published list (`{"items": [{"domain": …, "severity": …}, …]}`).

    Raises BlocklistError when the document is not a list at all or is too long; skips (and
    counts) single entries that are unusable, duplicated, or name this instance itself.
    """
    items = document.get("items") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise BlocklistError("the document is not a blocklist (no list of items)")
    if len(items) > MAX_ENTRIES:
        raise BlocklistError(f"the list has {len(items)} entries, more than the {MAX_ENTRIES} accepted")
    entries: dict[str, Entry] = {}
    unreadable: set[str] = set()
    skipped = 0
    for item in items:
        domain, entry = _read_entry(item)
        if domain is None or domain == own_domain or domain in entries or domain in unreadable:
            skipped += 1
        elif entry is None:
            skipped += 1
            unreadable.add(domain)
        else:
            entries[domain] = entry
    return ReadList(entries, skipped, frozenset(unreadable))


def _read_entry(item: Any) -> tuple[str | None, Entry | None]:
    if not isinstance(item, dict) or not isinstance(item.get("domain"), str):
        return None, None
    try:
        domain = normalize_domain(item["domain"])
    except DomainPolicyError:
        return None, None
    severity, comment = item.get("severity", "silence"), item.get("public_comment", "")
    flags = [item.get(name, False) for name in ("reject_media", "reject_reports", "obfuscate")]
    if not isinstance(severity, str) or not isinstance(comment, str) or not all(isinstance(f, bool) for f in flags):
        return domain, None
    try:
        checked = BlockEntry(domain, severity, flags[0], flags[1], public_comment=comment, obfuscate=flags[2]).checked()
    except DomainPolicyError:
        return domain, None
    return domain, entry_of(checked)


def entry_of(entry: BlockEntry | DomainBlock) -> Entry:
    return {name: getattr(entry, name) for name in ENTRY_FIELDS}


def block_entry(domain: str, entry: Mapping[str, Any]) -> BlockEntry:
    return BlockEntry(domain, **{name: entry[name] for name in ENTRY_FIELDS if name in entry})


# --- comparing two versions of a list ---------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    domain: str
    change: str  # add | update | retract
    entry: Entry = field(default_factory=dict)


def diff(previous: Sequence[Mapping[str, Any]], current: ReadList) -> tuple[list[Difference], list[Entry]]:
    """What changed from `previous` (the stored entries, each with its `domain`) to `current`,
    in domain order, and the entries to store now (unreadable domains keep their old entry)."""
    before = {str(item["domain"]): {name: item[name] for name in ENTRY_FIELDS if name in item}
              for item in previous if isinstance(item, Mapping) and "domain" in item}
    after = dict(current.entries)
    for domain in current.unreadable:
        if domain in before:
            after[domain] = before[domain]
    differences = []
    for domain in sorted(before.keys() | after.keys()):
        if domain not in after:
            differences.append(Difference(domain, "retract"))
        elif domain not in before:
            differences.append(Difference(domain, "add", after[domain]))
        elif after[domain] != before[domain]:
            differences.append(Difference(domain, "update", after[domain]))
    return differences, [{"domain": domain, **after[domain]} for domain in sorted(after)]


# --- subscriptions ----------------------------------------------------------------------------


def check_url(url: str, network: Network | None) -> str:
    """A list URL on a member instance of our network, or BlocklistError saying why not."""
    url = url.strip()
    parts = urlsplit(url)
    if len(url) > MAX_URL or parts.scheme not in ("http", "https") or not parts.hostname or parts.username:
        raise BlocklistError("url must be an http(s) URL such as https://mayo.example/blocklist")
    if network is None:
        raise BlocklistError("this instance is in no network (ROUNDS_NETWORK_FILE): "
                             "blocklists are shared between members")
    if not network.is_member(parts.netloc):
        raise BlocklistError(f"{parts.netloc} is not a member instance of {network.name}")
    return url


async def subscribe(session: AsyncSession, url: str, *, trusted: bool, network: Network | None,
                    by: int | None, via: str) -> BlocklistSubscription:
    url = check_url(url, network)
    if (await session.exec(select(BlocklistSubscription).where(BlocklistSubscription.url == url))).first():
        raise BlocklistError(f"already subscribed to {url}")
    subscription = BlocklistSubscription(url=url, trusted=trusted)
    session.add(subscription)
    await session.flush()
    await record(session, by=by, via=via, action="blocklist_subscription.create", target_type="blocklist",
                 target=url, detail=f"trusted={trusted}")
    return subscription


async def set_trusted(session: AsyncSession, subscription_id: int, trusted: bool, *, by: int | None,
                      via: str) -> BlocklistSubscription:
    """Trust a list from now on (drafts already waiting still wait for an admin), or stop trusting it."""
    subscription = await get_subscription(session, subscription_id)
    if subscription.trusted != trusted:
        subscription.trusted = trusted
        session.add(subscription)
        await session.flush()
        await record(session, by=by, via=via, action="blocklist_subscription.update", target_type="blocklist",
                     target=subscription.url, detail=f"trusted={trusted}")
    return subscription


async def get_subscription(session: AsyncSession, subscription_id: int) -> BlocklistSubscription:
    subscription = await session.get(BlocklistSubscription, subscription_id)
    if subscription is None:
        raise NotFound(f"no blocklist subscription {subscription_id}")
    return subscription


async def list_subscriptions(session: AsyncSession) -> Sequence[BlocklistSubscription]:
    return (await session.exec(select(BlocklistSubscription).order_by(col(BlocklistSubscription.id)))).all()


async def blocks_from(session: AsyncSession, subscription_id: int) -> Sequence[DomainBlock]:
    return (await session.exec(select(DomainBlock).where(DomainBlock.subscription_id == subscription_id)
                               .order_by(col(DomainBlock.domain)))).all()


async def unsubscribe(session: AsyncSession, subscription_id: int, *, lift_blocks: bool, by: int | None,
                      via: str) -> int:
    """Stop following a list. Its blocks are lifted (`lift_blocks`) or kept as this instance's own:
    by default nothing federates again just because a list was dropped. Returns how many blocks."""
    subscription = await get_subscription(session, subscription_id)
    reason = f"unsubscribed from {subscription.url}"
    blocks = await blocks_from(session, subscription.id)
    for block in blocks:
        if lift_blocks:
            await lift_block(session, block.domain, by=by, via=via, reason=reason)
        else:
            await save_block(session, block_entry(block.domain, entry_of(block)), by=by, via=via,
                             subscription_id=None, reason=f"kept after {reason}")
    await record(session, by=by, via=via, action="blocklist_subscription.delete", target_type="blocklist",
                 target=subscription.url, detail=f"{'lifted' if lift_blocks else 'kept'} {len(blocks)} blocks")
    await session.delete(subscription)  # its changes go with it (ON DELETE CASCADE)
    await session.flush()
    return len(blocks)


# --- refreshing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refreshed:
    """What one refresh did. `error` is set when the list could not be used (nothing changed)."""

    pending: int = 0
    applied: int = 0
    skipped: int = 0
    error: str = ""


async def refresh(database: Database, fetcher: Fetcher, subscription_id: int, *, now: datetime,
                  own_domain: str, network: Network | None, via: str = "system", by: int | None = None) -> Refreshed:
    """Fetch the list (outside any transaction), then record its changes in one transaction."""
    async with database.session() as session:
        url = (await get_subscription(session, subscription_id)).url
    try:
        read = read_list(await fetcher.fetch_activity(url), own_domain=own_domain)
    except (FetchError, BlocklistError) as error:
        async with database.transaction() as session:
            await _claim(session, subscription_id, now)
            subscription = await get_subscription(session, subscription_id)
            if subscription.last_error != str(error):  # a list down for a week is one entry, not 168
                await record(session, by=by, via=via, action="blocklist_subscription.refresh",
                             target_type="blocklist", target=url, detail=f"failed: {error}")
            subscription.last_error = str(error)
            session.add(subscription)
        return Refreshed(error=str(error))
    async with database.transaction() as session:
        # Claimed first: the row's write lock makes concurrent refreshes of one list take turns,
        # and each then compares against what the one before it stored.
        await _claim(session, subscription_id, now)
        subscription = await get_subscription(session, subscription_id)
        differences, subscription.entries = diff(subscription.entries, read)
        subscription.last_error = ""
        session.add(subscription)
        outcome = await _record_changes(session, subscription, differences, now=now, network=network)
        if differences:
            await record(session, by=by, via=via, action="blocklist_subscription.refresh", target_type="blocklist",
                         target=url, detail=f"{outcome.applied} applied, {outcome.pending} pending, "
                                            f"{read.skipped} entries skipped")
    return Refreshed(outcome.pending, outcome.applied, read.skipped)


async def _claim(session: AsyncSession, subscription_id: int, now: datetime) -> None:
    result = await session.exec(update(BlocklistSubscription)  # type: ignore[call-overload]
                                .where(col(BlocklistSubscription.id) == subscription_id).values(refreshed_at=now))
    if result.rowcount != 1:
        raise NotFound(f"no blocklist subscription {subscription_id}")


async def _record_changes(session: AsyncSession, subscription: BlocklistSubscription,
                          differences: Sequence[Difference], *, now: datetime, network: Network | None) -> Refreshed:
    pending = applied = 0
    for difference in differences:
        current = (await session.exec(select(DomainBlock).where(DomainBlock.domain == difference.domain))).first()
        ours = current is not None and current.subscription_id == subscription.id
        await _supersede(session, subscription.id, difference.domain)
        if current is not None and current.subscription_id is None:
            continue  # an admin's own block: no list changes it
        if difference.change == "retract":
            if not ours:
                continue  # nothing here came from this list
            kind = "retract"
        elif ours and current is not None and entry_of(current) == difference.entry:
            continue  # already so here (a retraction drafted, then undone at the source)
        else:
            kind = "update" if ours else "add"
        change = BlocklistChange(subscription_id=subscription.id, domain=difference.domain, change=kind,
                                 entry=difference.entry)
        session.add(change)
        await session.flush()
        member = network is not None and network.is_member(difference.domain)
        if subscription.trusted and not (member and kind != "retract"):
            await _apply(session, change, subscription, by=None, via="system", now=now)
            applied += 1
        else:
            pending += 1
    return Refreshed(pending=pending, applied=applied)


async def _supersede(session: AsyncSession, subscription_id: int, domain: str) -> None:
    await session.exec(update(BlocklistChange).where(  # type: ignore[call-overload]
        col(BlocklistChange.subscription_id) == subscription_id, col(BlocklistChange.domain) == domain,
        col(BlocklistChange.state) == "pending").values(state="superseded"))


async def _apply(session: AsyncSession, change: BlocklistChange, subscription: BlocklistSubscription, *,
                 by: int | None, via: str, now: datetime) -> None:
    """Make the change here; an admin's own block of the domain is left as it is."""
    reason = f"{change.change} from blocklist {subscription.url} (change {change.id})"
    current = (await session.exec(select(DomainBlock).where(DomainBlock.domain == change.domain))).first()
    if change.change == "retract":
        if current is not None and current.subscription_id == subscription.id:
            await lift_block(session, change.domain, by=by, via=via, reason=reason)
    elif current is None or current.subscription_id is not None:
        await save_block(session, block_entry(change.domain, change.entry), by=by, via=via,
                         subscription_id=subscription.id, reason=reason)
    change.state, change.decided_by_id, change.decided_at = "applied", by, now
    session.add(change)
    await session.flush()


# --- drafts -----------------------------------------------------------------------------------


async def list_changes(session: AsyncSession, *, state: str | None = None, subscription_id: int | None = None,
                       limit: int = 100, max_id: int | None = None) -> Sequence[BlocklistChange]:
    if state is not None and state not in CHANGE_STATES:
        raise BlocklistError(f"state must be one of {', '.join(CHANGE_STATES)}")
    query = select(BlocklistChange).order_by(col(BlocklistChange.id).desc()).limit(limit)
    if state is not None:
        query = query.where(BlocklistChange.state == state)
    if subscription_id is not None:
        query = query.where(BlocklistChange.subscription_id == subscription_id)
    if max_id is not None:
        query = query.where(col(BlocklistChange.id) < max_id)
    return (await session.exec(query)).all()


async def decide(session: AsyncSession, change_id: int, *, approve: bool, by: int | None, via: str,
                 now: datetime) -> BlocklistChange:
    """Approve (apply, as `by`) or reject a pending change; BlocklistError when it is not pending."""
    change = await session.get(BlocklistChange, change_id)
    if change is None:
        raise NotFound(f"no blocklist change {change_id}")
    if change.state != "pending":
        raise BlocklistError(f"change {change_id} is {change.state}, not pending")
    # Claimed atomically: of two admins deciding at once, or an admin and a refresh superseding
    # the draft, one wins and the other is told.
    claimed = await session.exec(update(BlocklistChange).where(  # type: ignore[call-overload]
        col(BlocklistChange.id) == change_id, col(BlocklistChange.state) == "pending")
        .values(state="applied" if approve else "rejected"))
    if claimed.rowcount != 1:
        raise BlocklistError(f"change {change_id} was decided meanwhile")
    subscription = await get_subscription(session, change.subscription_id)
    if approve:
        await _apply(session, change, subscription, by=by, via=via, now=now)
    else:
        change.state, change.decided_by_id, change.decided_at = "rejected", by, now
        session.add(change)
        await session.flush()
    await record(session, by=by, via=via, action=f"blocklist_change.{'approve' if approve else 'reject'}",
                 target_type="domain", target=change.domain,
                 detail=f"{change.change} from {subscription.url} (change {change.id})")
    return change
