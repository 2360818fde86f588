"""`rounds reports`: the moderation queue from the command line — list it, resolve a report.

A report's comment is private, so listing is audited (`report.read`, via `cli`) like the API's reads.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlmodel import col, select

from actors.account_actions import find_report, resolve_report
from moderation.audit import record
from storage.tables import Actor, Report
from web.api.entities.accounts import acct_of
from web.commands import CommandError, require_migrated
from web.context import AppContext

COMMENT_WIDTH = 60


async def list_reports(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with ctx.database.transaction() as session:
        query = select(Report).order_by(col(Report.id).desc())
        if not args.all:
            query = query.where(col(Report.action_taken_at).is_(None))
        reports = list((await session.exec(query)).all())
        ids = {report.reporter_id for report in reports} | {report.target_id for report in reports}
        people = {actor.id: acct_of(actor) for actor in (await session.exec(
            select(Actor).where(col(Actor.id).in_(ids)))).all()} if ids else {}
        for report in reports:
            await record(session, by=None, action="report.read", target_type="report", target=report.id, via="cli")
    if not reports:
        print("no reports" if args.all else "no open reports")
        return 0
    print(f"{'id':<20} {'created':<16} {'state':<9} {'category':<10} {'target':<30} {'reporter':<30} comment")
    for report in reports:
        state = "resolved" if report.action_taken_at is not None else "open"
        comment = " ".join(report.comment.split())
        if len(comment) > COMMENT_WIDTH:
            comment = comment[:COMMENT_WIDTH - 1] + "…"
        print(f"{report.id:<20} {report.created_at:%Y-%m-%d %H:%M} {state:<9} {report.category:<10} "
              f"{people.get(report.target_id, '?'):<30} {people.get(report.reporter_id, '?'):<30} {comment}")
    return 0


async def resolve(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    report_id = int(args.id) if args.id.isascii() and args.id.isdigit() and len(args.id) < 20 else None
    async with ctx.database.transaction() as session:
        report = await find_report(session, report_id) if report_id is not None else None
        if report is None:
            raise CommandError(f"no report with id {args.id!r}")
        changed = await resolve_report(session, report, None, via="cli")
    print(f"resolved report {report.id}" if changed else f"report {report.id} was already resolved")
    return 0


def register(commands: Any) -> None:
    reports = commands.add_parser("reports", help="the moderation queue: list and resolve reports")
    actions = reports.add_subparsers(dest="reports_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="list open reports, newest first")
    listing.add_argument("--all", action="store_true", help="resolved reports too")
    listing.set_defaults(handler=list_reports, needs_context=True)
    resolving = actions.add_parser("resolve", help="mark a report as handled")
    resolving.add_argument("id", help="the report's id (as `rounds reports list` shows it)")
    resolving.set_defaults(handler=resolve, needs_context=True)
