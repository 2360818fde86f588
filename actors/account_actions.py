"""Moderators' actions on one account (Mastodon's admin account actions), the parts that stay here.

    none       a warning only
    sensitive  every attachment of the account shows as sensitive
    disable    a local person may not sign in or use their apps (the account stays visible)
    silence    hidden from public timelines, follows need approval
    suspend    refused and hidden; a local person's tokens are revoked

Each is undone by its own verb (`enable`, `unsensitive`, `unsilence`, `unsuspend`). A local
person is told through an `AccountWarning` and a `moderation_warning` notification from the
instance actor (Mastodon 4.3). Federating a local suspension (a `Delete` of the actor) is the
outbox's part (`outbox.account_actions`); everything here runs in the caller's transaction,
audit entry included.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.notifications import notify
from moderation.audit import record
from moderation.policy import changed_in
from storage.tables import (
    AccountWarning,
    Actor,
    Follow,
    LocalKey,
    Notification,
    OAuthAccessToken,
    OAuthAuthorizationCode,
    Report,
    Status,
    User,
    utcnow,
)

ACTIONS = ("none", "sensitive", "disable", "silence", "suspend")
# What each verb undoes: (audit action, field on Actor or User).
UNDOS = {"enable": "disable", "unsensitive": "sensitive", "unsilence": "silence", "unsuspend": "suspend"}
# Mastodon's ranks: nobody acts on someone of their own rank or above.
RANKS = {"member": 0, "staff": 0, "moderator": 1, "admin": 2}


class AccountActionError(ValueError):
    """The action cannot be taken on this account (e.g. disabling a remote account)."""


def outranks(moderator_role: str, target_role: str | None) -> bool:
    return RANKS.get(moderator_role, 0) > RANKS.get(target_role or "member", 0)


async def revoke_tokens(session: AsyncSession, user: User, now: datetime) -> int:
    result = await session.exec(update(OAuthAccessToken)  # type: ignore[call-overload]
                                .where(OAuthAccessToken.user_id == user.id,
                                       OAuthAccessToken.revoked_at.is_(None))  # type: ignore[union-attr]
                                .values(revoked_at=now))
    return result.rowcount


async def take_action(session: AsyncSession, *, moderator: Actor | None, target: Actor, user: User | None,
                      kind: str, text: str = "", report: Report | None = None, instance_actor: Actor,
                      via: str = "api", now: datetime | None = None) -> AccountWarning | None:
    """Apply `kind` to `target` (`user` is its local login, None for a remote account), resolve
    `report` if given, audit it, and warn a local person. Returns the warning (None for remote)."""
    if kind not in ACTIONS:
        raise AccountActionError(f"type must be one of {', '.join(ACTIONS)}")
    if kind == "disable" and user is None:
        raise AccountActionError("only local accounts can be disabled")
    moment = now or utcnow()
    if kind == "sensitive":
        target.sensitized_at = target.sensitized_at or moment
    elif kind == "silence":
        target.silenced_at = target.silenced_at or moment
    elif kind == "suspend":
        target.suspended_at = target.suspended_at or moment
        changed_in(session)  # the inbox refuses the account as soon as this commits
        if user is not None:
            await revoke_tokens(session, user, moment)
    elif kind == "disable" and user is not None:
        user.disabled = True
        session.add(user)
    session.add(target)
    if report is not None:
        await resolve_report(session, report, moderator, via=via, now=moment)
    await record(session, by=moderator.id if moderator else None, action=f"account.{kind}", target_type="account",
                 target=target.id, detail=_detail(text, report), via=via)
    await session.flush()
    if user is None:
        return None
    warning = AccountWarning(target_id=target.id, action=kind, text=text,
                             report_id=report.id if report is not None else None,
                             status_ids=report.status_ids if report is not None else "", created_at=moment)
    session.add(warning)
    await session.flush()
    await notify(session, recipient=target, kind="moderation_warning", from_actor=instance_actor,
                 occasion=str(warning.id), now=moment)
    return warning


def _detail(text: str, report: Report | None) -> str:
    parts = [f"report {report.id}"] if report is not None else []
    return "; ".join([*parts, text] if text else parts)


async def undo_action(session: AsyncSession, *, moderator: Actor | None, target: Actor, user: User | None,
                      verb: str, via: str = "api") -> bool:
    """`enable`, `unsensitive`, `unsilence` or `unsuspend`; True when something changed."""
    undone = UNDOS[verb]
    changed = False
    if undone == "disable":
        if user is None:
            raise AccountActionError("only local accounts can be enabled")
        changed, user.disabled = user.disabled, False
        session.add(user)
    else:
        field = {"sensitive": "sensitized_at", "silence": "silenced_at", "suspend": "suspended_at"}[undone]
        changed = getattr(target, field) is not None
        setattr(target, field, None)
        session.add(target)
        changed_in(session)
    await record(session, by=moderator.id if moderator else None, action=f"account.{verb}", target_type="account",
                 target=target.id, via=via)
    await session.flush()
    return changed


async def approve(session: AsyncSession, *, moderator: Actor | None, target: Actor, user: User,
                  via: str = "api") -> None:
    user.approved = True
    session.add(user)
    await record(session, by=moderator.id if moderator else None, action="account.approve", target_type="account",
                 target=target.id, via=via)
    await session.flush()


async def reject(session: AsyncSession, *, moderator: Actor | None, target: Actor, user: User,
                 via: str = "api") -> None:
    """Remove a sign-up still awaiting approval: its login, key and actor (the name is free again)."""
    await record(session, by=moderator.id if moderator else None, action="account.reject", target_type="account",
                 target=target.id, detail=f"@{target.username} <{user.email}>", via=via)
    await _forget_login(session, user)
    await _forget_relations(session, target)
    await session.exec(delete(LocalKey).where(LocalKey.actor_id == target.id))  # type: ignore[call-overload]
    await session.exec(delete(AccountWarning).where(AccountWarning.target_id == target.id))  # type: ignore[call-overload]
    await session.delete(target)
    await session.flush()


async def delete_data(session: AsyncSession, *, moderator: Actor | None, target: Actor, user: User | None,
                      via: str = "api", now: datetime | None = None) -> None:
    """Remove a suspended account's data for good: its posts, follows and login. The actor row
    stays, suspended, so its name is never given to someone else and its id answers 410."""
    if target.suspended_at is None:
        raise AccountActionError("only a suspended account's data can be deleted")
    moment = now or utcnow()
    await record(session, by=moderator.id if moderator else None, action="account.delete", target_type="account",
                 target=target.id, detail=f"@{target.username}" + (f" <{user.email}>" if user else ""), via=via)
    await session.exec(update(Status).where(Status.actor_id == target.id,  # type: ignore[call-overload]
                                            Status.deleted_at.is_(None))  # type: ignore[union-attr]
                       .values(deleted_at=moment, content="", summary=""))
    await _forget_relations(session, target)
    if user is not None:
        await _forget_login(session, user)
    await session.flush()


async def _forget_login(session: AsyncSession, user: User) -> None:
    await session.exec(delete(OAuthAccessToken).where(OAuthAccessToken.user_id == user.id))  # type: ignore[call-overload]
    await session.exec(delete(OAuthAuthorizationCode)  # type: ignore[call-overload]
                       .where(OAuthAuthorizationCode.user_id == user.id))
    await session.delete(user)
    await session.flush()


async def _forget_relations(session: AsyncSession, target: Actor) -> None:
    await session.exec(delete(Follow).where(  # type: ignore[call-overload]
        (Follow.follower_id == target.id) | (Follow.followee_id == target.id)))
    await session.exec(delete(Notification).where(  # type: ignore[call-overload]
        (Notification.recipient_id == target.id) | (Notification.from_actor_id == target.id)))


# --- reports ----------------------------------------------------------------------------------

async def resolve_report(session: AsyncSession, report: Report, moderator: Actor | None, *, via: str = "api",
                         now: datetime | None = None) -> bool:
    """Mark the report handled; False (and no audit entry) when it already was."""
    if report.action_taken_at is not None:
        return False
    moment = now or utcnow()
    report.action_taken_at, report.updated_at = moment, moment
    report.action_taken_by_id = moderator.id if moderator else None
    session.add(report)
    await record(session, by=moderator.id if moderator else None, action="report.resolve", target_type="report",
                 target=report.id, via=via)
    return True


async def reopen_report(session: AsyncSession, report: Report, moderator: Actor, *, via: str = "api") -> None:
    report.action_taken_at = report.action_taken_by_id = None
    report.updated_at = utcnow()
    session.add(report)
    await record(session, by=moderator.id, action="report.reopen", target_type="report", target=report.id, via=via)


async def assign_report(session: AsyncSession, report: Report, moderator: Actor, *, to_self: bool,
                        via: str = "api") -> None:
    report.assigned_to_id = moderator.id if to_self else None
    report.updated_at = utcnow()
    session.add(report)
    await record(session, by=moderator.id, action="report.assign" if to_self else "report.unassign",
                 target_type="report", target=report.id, via=via)


async def find_report(session: AsyncSession, report_id: int) -> Report | None:
    return (await session.exec(select(Report).where(Report.id == report_id))).first()
