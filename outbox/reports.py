"""Reports made here: kept in the local queue and, when asked, forwarded to the reported
account's server as a `Flag` from the instance actor, so the reporter stays anonymous there
(Mastodon and GoToSocial forward the same way)."""

from __future__ import annotations

from sqlmodel.ext.asyncio.session import AsyncSession

from outbox.actions import Outbox
from outbox.documents import activity
from storage.tables import Actor, Report, Status

MAX_COMMENT = 1000
CATEGORIES = ("spam", "violation", "legal", "other")


async def file_report(session: AsyncSession, outbox: Outbox, *, reporter: Actor, target: Actor,
                      statuses: list[Status], category: str, comment: str, forward: bool,
                      instance_actor: Actor) -> Report:
    """Queue a report here; with `forward` and a remote target, send the Flag in the same transaction."""
    if category not in CATEGORIES:
        raise ValueError(f"category must be one of {', '.join(CATEGORIES)}")
    if len(comment) > MAX_COMMENT:
        raise ValueError(f"the comment is longer than {MAX_COMMENT} characters")
    forwarded = forward and target.domain is not None
    report = Report(reporter_id=reporter.id, target_id=target.id, category=category, comment=comment,
                    status_ids=" ".join(str(status.id) for status in statuses), forwarded=forwarded)
    session.add(report)
    await session.flush()
    if forwarded:
        flag = activity("Flag", f"{instance_actor.uri}#flags/{report.id}", instance_actor,
                        [target.uri, *(status.uri for status in statuses)])
        flag["content"] = comment
        await outbox.enqueue(session, flag, instance_actor, [target.inbox_uri])
    return report
