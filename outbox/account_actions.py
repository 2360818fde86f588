"""Moderators' account actions that other servers must hear of.

Suspending a local account sends a `Delete` of the actor (Mastodon's suspension does the same):
the servers that keep a copy drop its posts and follows, and a fetch of the actor then answers
410. Lifting the suspension sends the profile again as an `Update`. Remote accounts are only
marked here (`actors.account_actions`): their own server decides about them elsewhere.
"""

from __future__ import annotations

from sqlalchemy import delete
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.account_actions import resolve_report, take_action, undo_action
from actors.notifications import forget_status, notify
from federation.vocab import PUBLIC
from moderation.audit import record
from outbox.actions import Outbox
from outbox.documents import activity
from storage.ids import new_id
from storage.tables import AccountWarning, Actor, MediaAttachment, Report, Status, User, utcnow


async def send_account_delete(session: AsyncSession, outbox: Outbox, target: Actor) -> int:
    """A `Delete` of a local actor to the servers of its followers and of whom it follows."""
    inboxes = await outbox.known_inboxes(session, target)
    document = activity("Delete", f"{target.uri}#delete/{new_id()}", target, target.uri, to=[PUBLIC])
    return await outbox.enqueue(session, document, target, inboxes)


async def act_on_account(session: AsyncSession, outbox: Outbox, *, moderator: Actor | None, target: Actor,
                         user: User | None, kind: str, text: str = "", report: Report | None = None,
                         instance_actor: Actor, via: str = "api") -> AccountWarning | None:
    """`actors.account_actions.take_action`, and a local suspension's `Delete` in the same transaction."""
    already_suspended = target.suspended_at is not None
    warning = await take_action(session, moderator=moderator, target=target, user=user, kind=kind, text=text,
                                report=report, instance_actor=instance_actor, via=via)
    if kind == "suspend" and target.domain is None and not already_suspended:
        await send_account_delete(session, outbox, target)
    return warning


async def lift_from_account(session: AsyncSession, outbox: Outbox, *, moderator: Actor | None, target: Actor,
                            user: User | None, verb: str, via: str = "api") -> bool:
    """`actors.account_actions.undo_action`; a lifted local suspension re-announces the profile."""
    changed = await undo_action(session, moderator=moderator, target=target, user=user, verb=verb, via=via)
    if verb == "unsuspend" and changed and target.domain is None:
        await outbox.update_profile(session, target)
    return changed


async def delete_status_as_moderator(session: AsyncSession, outbox: Outbox, *, moderator: Actor | None,
                                     status: Status, author: Actor, text: str = "", report: Report | None = None,
                                     instance_actor: Actor, via: str = "api") -> AccountWarning | None:
    """A moderator removes a post: a local one is deleted as its author's own Delete would be
    (federated); a remote one is dropped here (its server decides about its own copy). Audited;
    `report` resolved; a local author is told with a `delete_statuses` warning."""
    if status.local:
        await outbox.delete_status(session, status, author)
    else:
        status.deleted_at, status.content, status.summary = utcnow(), "", ""
        session.add(status)
        await session.exec(delete(MediaAttachment).where(MediaAttachment.status_id == status.id))  # type: ignore[call-overload]
        await forget_status(session, status)
    if report is not None:
        await resolve_report(session, report, moderator, via=via)
    await record(session, by=moderator.id if moderator else None, action="status.delete", target_type="status",
                 target=status.id, detail="; ".join(part for part in (
                     f"by {author.username}@{author.domain or 'local'}", f"report {report.id}" if report else "",
                     text) if part), via=via)
    if author.domain is not None:
        return None
    warning = AccountWarning(target_id=author.id, action="delete_statuses", text=text, status_ids=str(status.id),
                             report_id=report.id if report is not None else None)
    session.add(warning)
    await session.flush()
    await notify(session, recipient=author, kind="moderation_warning", from_actor=instance_actor,
                 occasion=str(warning.id))
    return warning
