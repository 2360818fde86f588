"""`rounds domains`: block, limit or suspend remote domains, lift blocks, list them, import and
export them as Mastodon's CSV, and (allowlist mode) allow or disallow domains.

Every change is audited with via="cli". Suspending a domain severs its follows and then purges
what we cached from it, printing the progress of each batch. A running server sees the change
within a few seconds (its cached policy expires, `moderation.policy`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from sqlmodel import select

from moderation.domain_csv import DomainCsvError, apply_import, export_blocks, parse_blocks, plan_import
from moderation.domains import (
    SEVERITIES,
    BlockEntry,
    DomainPolicyError,
    lift_allow,
    lift_block,
    normalize_domain,
    save_allow,
    save_block,
)
from moderation.suspension import purge_domain
from storage.tables import DomainAllow, DomainBlock
from web.commands import CommandError, require_migrated
from web.context import AppContext

VIA = "cli"


def _domain(value: str) -> str:
    try:
        return normalize_domain(value)
    except DomainPolicyError as error:
        raise CommandError(str(error)) from None


async def _purge(ctx: AppContext, domain: str) -> None:
    async for progress in purge_domain(ctx.database, domain):
        if progress.done:
            print(f"purged {domain}: {progress.statuses} posts, {progress.media} attachments, "
                  f"{progress.notifications} notifications, {progress.favourites} favourites")
        else:
            print(f"purging {domain}: {progress.statuses} posts so far", flush=True)


async def block(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    entry = BlockEntry(domain=_domain(args.domain), severity=args.severity, reject_media=args.reject_media,
                       reject_reports=args.reject_reports, private_comment=args.private_comment or "",
                       public_comment=args.public_comment or "", obfuscate=args.obfuscate)
    async with ctx.database.transaction() as session:
        existing = (await session.exec(select(DomainBlock).where(DomainBlock.domain == entry.domain))).first()
        was = existing.severity if existing is not None else None
        try:
            row, created = await save_block(session, entry, by=None, via=VIA)
        except DomainPolicyError as error:
            raise CommandError(str(error)) from None
        domain, severity = row.domain, row.severity
    print(f"{'blocked' if created else 'updated the block of'} {domain}: {severity}")
    if severity == "suspend" and was != "suspend":
        await _purge(ctx, domain)
    return 0


async def unblock(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    domain = _domain(args.domain)
    async with ctx.database.transaction() as session:
        if not await lift_block(session, domain, by=None, via=VIA):
            raise CommandError(f"{domain} is not blocked")
    print(f"unblocked {domain} (purged content is not restored)")
    return 0


async def listing(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with ctx.database.session() as session:
        blocks = (await session.exec(select(DomainBlock).order_by(DomainBlock.domain))).all()
        allows = (await session.exec(select(DomainAllow).order_by(DomainAllow.domain))).all()
    if not blocks and not allows:
        print("no domain is blocked or allowed")
    for row in blocks:
        flags = [name for name in ("reject_media", "reject_reports", "obfuscate") if getattr(row, name)]
        note = row.private_comment or row.public_comment
        comment = f"  — {note}" if note else ""
        print(f"{row.domain:<40} {row.severity:<8} {' '.join(flags)}{comment}".rstrip())
    for allowed in allows:
        print(f"{allowed.domain:<40} allowed")
    return 0


async def import_csv(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    try:
        text = (await asyncio.to_thread(Path(args.file).read_text, encoding="utf-8") if args.file != "-"
                else sys.stdin.read())
    except (OSError, UnicodeDecodeError) as error:
        raise CommandError(f"{args.file}: cannot be read: {error}") from None
    try:
        entries = parse_blocks(text)
    except DomainCsvError as error:
        raise CommandError(f"{args.file}: nothing imported: " + "; ".join(error.problems)) from None
    async with ctx.database.transaction() as session:
        if args.dry_run:
            plan = await plan_import(session, entries)
        else:
            existing = dict((await session.exec(select(DomainBlock.domain, DomainBlock.severity))).all())
            plan = await apply_import(session, entries, by=None, via=VIA)
    for planned in plan:
        print(f"{planned.change:<10} {planned.domain} {planned.entry.severity}")
    counts = {kind: sum(1 for planned in plan if planned.change == kind) for kind in ("added", "updated", "unchanged")}
    summary = ", ".join(f"{count} {kind}" for kind, count in counts.items())
    print(f"dry run, nothing written: would be {summary}" if args.dry_run else f"imported: {summary}")
    if not args.dry_run:
        for planned in plan:
            if planned.entry.severity == "suspend" and existing.get(planned.domain) != "suspend":
                await _purge(ctx, planned.domain)
    return 0


async def export_csv(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with ctx.database.session() as session:
        text = export_blocks((await session.exec(select(DomainBlock))).all())
    if args.file:
        try:
            await asyncio.to_thread(Path(args.file).write_text, text, encoding="utf-8")
        except OSError as error:
            raise CommandError(f"{args.file}: cannot be written: {error}") from None
    else:
        sys.stdout.write(text)
    return 0


async def allow(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    domain = _domain(args.domain)
    async with ctx.database.transaction() as session:
        _, created = await save_allow(session, domain, by=None, via=VIA)
    print(f"allowed {domain}" if created else f"{domain} was already allowed")
    if ctx.settings.federation_mode != "allowlist":
        print(f"note: allowed domains matter only in allowlist mode (this instance is in "
              f"{ctx.settings.federation_mode} mode)")
    return 0


async def disallow(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    domain = _domain(args.domain)
    async with ctx.database.transaction() as session:
        if not await lift_allow(session, domain, by=None, via=VIA):
            raise CommandError(f"{domain} is not on the allowlist")
    print(f"disallowed {domain}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    domains = commands.add_parser("domains", help="block, limit or suspend remote domains; the allowlist")
    actions = domains.add_subparsers(dest="domains_command", required=True, metavar="ACTION")
    blocking = actions.add_parser("block", help="block a domain and its subdomains, or change its block")
    blocking.add_argument("domain")
    blocking.add_argument("--severity", choices=SEVERITIES, default="silence",
                          help="silence (limit), suspend (refuse everything, purge), or noop (only the flags)")
    blocking.add_argument("--reject-media", action="store_true", help="do not keep or show its attachments")
    blocking.add_argument("--reject-reports", action="store_true", help="ignore reports it sends")
    blocking.add_argument("--public-comment", help="the reason shown in the public list")
    blocking.add_argument("--private-comment", help="a note for moderators only")
    blocking.add_argument("--obfuscate", action="store_true", help="show the domain partly hidden in the public list")
    blocking.set_defaults(handler=block, needs_context=True)
    lifting = actions.add_parser("unblock", help="lift a domain's block (purged content stays purged)")
    lifting.add_argument("domain")
    lifting.set_defaults(handler=unblock, needs_context=True)
    actions.add_parser("list", help="list blocked and allowed domains").set_defaults(handler=listing,
                                                                                      needs_context=True)
    importing = actions.add_parser("import", help="import blocks from Mastodon's CSV (all rows or none)")
    importing.add_argument("file", help="the CSV file, or - for standard input")
    importing.add_argument("--dry-run", action="store_true", help="say what would change, write nothing")
    importing.set_defaults(handler=import_csv, needs_context=True)
    exporting = actions.add_parser("export", help="export blocks as Mastodon's CSV (no private comments)")
    exporting.add_argument("file", nargs="?", help="write here instead of standard output")
    exporting.set_defaults(handler=export_csv, needs_context=True)
    allowing = actions.add_parser("allow", help="allow a domain (allowlist mode)")
    allowing.add_argument("domain")
    allowing.set_defaults(handler=allow, needs_context=True)
    disallowing = actions.add_parser("disallow", help="remove a domain from the allowlist")
    disallowing.add_argument("domain")
    disallowing.set_defaults(handler=disallow, needs_context=True)
