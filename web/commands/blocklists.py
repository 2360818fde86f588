"""`rounds blocklists …`: follow other member instances' published blocklists and decide their drafts.

    rounds blocklists subscribe https://mayo.example/blocklist [--trusted]
    rounds blocklists list
    rounds blocklists trust ID [--no]       apply its changes at once from now on (or stop)
    rounds blocklists refresh [ID]          every subscription, or one, now
    rounds blocklists changes [--state pending|applied|rejected|superseded|all]
    rounds blocklists approve ID / reject ID
    rounds blocklists unsubscribe ID [--lift-blocks]

Actions are audited with `via=cli` (no moderator: the operator at the console).
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from moderation import blocklists
from moderation.blocklists import CHANGE_STATES, BlocklistError, NotFound
from storage.tables import BlocklistChange, utcnow
from web.commands import CommandError, require_migrated
from web.context import AppContext
from web.services import Federation, build_federation


@asynccontextmanager
async def _errors() -> AsyncIterator[None]:
    try:
        yield
    except (BlocklistError, NotFound) as error:
        raise CommandError(str(error.args[0])) from None


@asynccontextmanager
async def _federation(ctx: AppContext) -> AsyncIterator[Federation]:
    federation = await build_federation(ctx)
    try:
        yield federation
    finally:
        await federation.client.aclose()


def _record_id(value: str) -> int:
    if not value.isascii() or not value.isdigit():
        raise argparse.ArgumentTypeError(f"{value!r} is not an id (a number, as `list` or `changes` shows)")
    return int(value)


async def _subscribe(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with _errors(), ctx.database.transaction() as session:
        subscription = await blocklists.subscribe(session, args.url, trusted=args.trusted, network=ctx.network,
                                                  by=None, via="cli")
    kind = "trusted: changes apply at once" if args.trusted else "changes wait for approval"
    print(f"subscribed ({subscription.id}) to {subscription.url} ({kind}); "
          f"`rounds blocklists refresh {subscription.id}` fetches it now")
    return 0


async def _list(ctx: AppContext, _args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with ctx.database.session() as session:
        found = await blocklists.list_subscriptions(session)
        print(f"{'id':<20} {'trusted':<8} {'entries':>7} {'blocks':>6}  {'refreshed':<20} url")
        for row in found:
            blocks = len(await blocklists.blocks_from(session, row.id))
            refreshed = row.refreshed_at.strftime("%Y-%m-%d %H:%M:%S") if row.refreshed_at else "never"
            print(f"{row.id:<20} {'yes' if row.trusted else 'no':<8} {len(row.entries):>7} {blocks:>6}  "
                  f"{refreshed:<20} {row.url}" + (f"\n    last error: {row.last_error}" if row.last_error else ""))
    return 0


async def _trust(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with _errors(), ctx.database.transaction() as session:
        subscription = await blocklists.set_trusted(session, args.id, not args.no, by=None, via="cli")
    print(f"{subscription.url} is {'trusted' if subscription.trusted else 'not trusted'}")
    return 0


async def _refresh(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with ctx.database.session() as session:
        if args.id is None:
            ids = [row.id for row in await blocklists.list_subscriptions(session)]
        else:
            async with _errors():
                ids = [(await blocklists.get_subscription(session, args.id)).id]
    failed = 0
    async with _federation(ctx) as federation:
        for subscription_id in ids:
            async with _errors():
                outcome = await blocklists.refresh(ctx.database, federation.fetcher, subscription_id,
                                                   now=federation.clock(), own_domain=ctx.urls.domain,
                                                   network=ctx.network, via="cli")
            if outcome.error:
                failed += 1
                print(f"{subscription_id}: failed: {outcome.error}")
            else:
                print(f"{subscription_id}: {outcome.applied} applied, {outcome.pending} waiting for approval, "
                      f"{outcome.skipped} entries skipped")
    if failed:
        raise CommandError(f"{failed} of {len(ids)} blocklists could not be refreshed")
    return 0


def _describe(change: BlocklistChange) -> str:
    entry: dict[str, Any] = change.entry or {}
    flags = [name for name in ("reject_media", "reject_reports", "obfuscate") if entry.get(name)]
    detail = " ".join([str(entry["severity"]), *flags]) if entry else ""
    return f"{change.id:<20} {change.state:<10} {change.change:<8} {change.domain:<40} {detail}"


async def _changes(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with ctx.database.session() as session:
        found = await blocklists.list_changes(session, state=None if args.state == "all" else args.state,
                                              limit=args.limit)
    print(f"{'id':<20} {'state':<10} {'change':<8} {'domain':<40} entry")
    for change in found:
        print(_describe(change))
    return 0


async def _decide(ctx: AppContext, args: argparse.Namespace, *, approve: bool) -> int:
    await require_migrated(ctx)
    async with _errors(), ctx.database.transaction() as session:
        change = await blocklists.decide(session, args.id, approve=approve, by=None, via="cli",
                                         now=utcnow())
    print(f"{'approved' if approve else 'rejected'}: {change.change} {change.domain}")
    return 0


async def _approve(ctx: AppContext, args: argparse.Namespace) -> int:
    return await _decide(ctx, args, approve=True)


async def _reject(ctx: AppContext, args: argparse.Namespace) -> int:
    return await _decide(ctx, args, approve=False)


async def _unsubscribe(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with _errors(), ctx.database.transaction() as session:
        count = await blocklists.unsubscribe(session, args.id, lift_blocks=args.lift_blocks, by=None, via="cli")
    print(f"unsubscribed; {count} blocks from it {'lifted' if args.lift_blocks else 'kept as this instance’s own'}")
    return 0


def register(commands: Any) -> None:
    group = commands.add_parser("blocklists", help="follow other member instances' blocklists")
    actions = group.add_subparsers(dest="blocklists_command", required=True, metavar="ACTION")
    subscribe = actions.add_parser("subscribe", help="follow a member instance's published blocklist")
    subscribe.add_argument("url", help="e.g. https://mayo.example/blocklist")
    subscribe.add_argument("--trusted", action="store_true",
                           help="apply its changes at once (otherwise each waits for approval)")
    subscribe.set_defaults(handler=_subscribe, needs_context=True)
    listing = actions.add_parser("list", help="the blocklists this instance follows")
    listing.set_defaults(handler=_list, needs_context=True)
    trust = actions.add_parser("trust", help="apply a blocklist's changes at once from now on")
    trust.add_argument("id", type=_record_id)
    trust.add_argument("--no", action="store_true", help="stop trusting it: its changes wait for approval")
    trust.set_defaults(handler=_trust, needs_context=True)
    refresh = actions.add_parser("refresh", help="fetch subscribed blocklists now")
    refresh.add_argument("id", nargs="?", type=_record_id, help="one subscription (default: all)")
    refresh.set_defaults(handler=_refresh, needs_context=True)
    changes = actions.add_parser("changes", help="changes seen in subscribed blocklists, newest first")
    changes.add_argument("--state", choices=(*CHANGE_STATES, "all"), default="pending")
    changes.add_argument("--limit", type=int, default=100)
    changes.set_defaults(handler=_changes, needs_context=True)
    for name, handler, text in (("approve", _approve, "apply a pending change"),
                                ("reject", _reject, "reject a pending change")):
        decide = actions.add_parser(name, help=text)
        decide.add_argument("id", type=_record_id)
        decide.set_defaults(handler=handler, needs_context=True)
    unsubscribe = actions.add_parser("unsubscribe", help="stop following a blocklist")
    unsubscribe.add_argument("id", type=_record_id)
    unsubscribe.add_argument("--lift-blocks", action="store_true",
                             help="also lift the blocks it made here (by default they are kept)")
    unsubscribe.set_defaults(handler=_unsubscribe, needs_context=True)
