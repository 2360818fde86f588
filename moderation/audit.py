"""The audit log: every moderation action, and every moderator's read of private content.

Callers record in the same transaction as the action, so an action and its entry land
together or not at all. The table itself refuses UPDATE and DELETE (migration 0012).

    await record(session, by=moderator.id, action="domain_block.create", target_type="domain",
                 target="spam.example", detail="severity=suspend; reason: …")
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from storage.tables import AuditEntry

VIAS = ("api", "cli", "web", "system")
MAX_DETAIL = 4000


async def record(session: AsyncSession, *, by: int | None, action: str, target_type: str, target: str | int,
                 detail: str = "", via: str = "api") -> AuditEntry:
    """Append one entry. `by` is the local moderator's actor id (None for the CLI or the instance)."""
    if via not in VIAS:
        raise ValueError(f"via must be one of {', '.join(VIAS)}")
    entry = AuditEntry(actor_id=by, via=via, action=action, target_type=target_type, target=str(target),
                       detail=detail[:MAX_DETAIL])
    session.add(entry)
    await session.flush()
    return entry


async def entries(session: AsyncSession, *, limit: int = 100, max_id: int | None = None,
                  action: str | None = None, actor_id: int | None = None) -> Sequence[AuditEntry]:
    """Newest first; `max_id` pages back, `action` matches exactly or as a prefix ending in `.`."""
    query = select(AuditEntry).order_by(col(AuditEntry.id).desc()).limit(limit)
    if max_id is not None:
        query = query.where(AuditEntry.id < max_id)
    if action is not None:
        query = query.where(col(AuditEntry.action).startswith(action) if action.endswith(".")
                            else AuditEntry.action == action)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    return (await session.exec(query)).all()
