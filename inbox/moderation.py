"""`Flag`: another server forwards a report about one of our accounts (and its posts)."""

from __future__ import annotations

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from federation.html import clean_text
from inbox.context import Activity, HandlerContext, Ignore
from inbox.follows import local_target
from moderation.domains import block_covering
from storage.tables import Actor, Report, Status

MAX_COMMENT = 1000
MAX_FLAGGED_OBJECTS = 100


async def on_flag(session: AsyncSession, h: HandlerContext, activity: Activity, actor: Actor) -> str:
    block = await block_covering(session, actor.domain) if actor.domain else None
    if block is not None and (block.reject_reports or block.severity == "suspend"):
        raise Ignore(f"reports from {actor.domain} are rejected here")
    objects = activity.get("object")
    uris = [objects] if isinstance(objects, str) else objects if isinstance(objects, list) else []
    uris = [uri for uri in uris[:MAX_FLAGGED_OBJECTS] if isinstance(uri, str)]
    if (await session.exec(select(Report.id).where(Report.uri == activity["id"]))).first() is not None:
        raise Ignore("already reported")
    target = None
    for uri in uris:
        if h.urls.local_username(uri) and "/statuses/" not in uri:
            target = await local_target(session, h, uri)
            break
    if target is None:
        raise Ignore("the flag names no account of ours")
    statuses = (await session.exec(select(Status).where(
        Status.uri.in_(uris), Status.actor_id == target.id, Status.local))).all()  # type: ignore[attr-defined]
    content = activity.get("content")
    comment = clean_text(content)[:MAX_COMMENT] if isinstance(content, str) else ""
    session.add(Report(uri=activity["id"], reporter_id=actor.id, target_id=target.id, comment=comment,
                       status_ids=" ".join(str(status.id) for status in statuses), category="other"))
    return "reported"
