"""`rounds audit`: the audit log, newest first — who did what, when, and why."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlmodel import col, select

from moderation.audit import entries
from storage.tables import Actor
from web.commands import CommandError, require_migrated
from web.context import AppContext


async def show(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with ctx.database.session() as session:
        moderator_id = None
        if args.by:
            found = (await session.exec(select(Actor.id).where(
                Actor.domain.is_(None), Actor.username_key == args.by.lower()))).first()  # type: ignore[union-attr]
            if found is None:
                raise CommandError(f"no local account named {args.by!r}")
            moderator_id = found
        rows = await entries(session, limit=args.limit, action=args.action, actor_id=moderator_id)
        ids = {row.actor_id for row in rows if row.actor_id is not None}
        names = dict((await session.exec(select(Actor.id, Actor.username).where(col(Actor.id).in_(ids)))).all()
                     ) if ids else {}
    if args.json:
        print(json.dumps([_as_json(row, names) for row in rows], ensure_ascii=False, indent=1))
        return 0
    if not rows:
        print("the audit log is empty" if not (args.action or args.by) else "no entries match")
        return 0
    for row in rows:
        who = f"@{names[row.actor_id]}" if row.actor_id in names else f"({row.via})"
        detail = f"  — {row.detail}" if row.detail else ""
        print(f"{row.created_at:%Y-%m-%d %H:%M:%S}  {who:<20} {row.action:<26} {row.target_type} {row.target}{detail}")
    return 0


def _as_json(row: Any, names: dict[int, str]) -> dict[str, Any]:
    return {"id": str(row.id), "created_at": row.created_at.isoformat(), "by": names.get(row.actor_id or 0),
            "via": row.via, "action": row.action, "target_type": row.target_type, "target": row.target,
            "detail": row.detail}


def _limit(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 10_000:
        raise argparse.ArgumentTypeError("must be a number from 1 to 10000")
    return int(value)


def register(commands: Any) -> None:
    audit = commands.add_parser("audit", help="show the audit log (moderation actions and private reads)")
    audit.add_argument("--limit", type=_limit, default=50, help="how many entries (default 50)")
    audit.add_argument("--action", help="only this action, or a prefix ending in '.' such as domain_block.")
    audit.add_argument("--by", metavar="USERNAME", help="only what this local moderator did")
    audit.add_argument("--json", action="store_true", help="print JSON instead of a table")
    audit.set_defaults(handler=show, needs_context=True)
