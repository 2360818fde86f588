"""Admin::Account, Admin::Report and AccountWarning, for the admin API and notifications.

Like the other entities they are built from batches: `load_admin_accounts` reads the actors,
their logins and what `account` needs in a fixed number of queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.urls import LocalUrls
from storage.tables import AccountWarning, Actor, Report, User
from web.api.entities.accounts import AccountBatch, account, load_accounts, role_entity
from web.api.entities.formats import entity_id, iso_datetime, optional_datetime


@dataclass
class AdminBatch:
    accounts: AccountBatch = field(default_factory=AccountBatch)
    users: dict[int, User] = field(default_factory=dict)  # by actor id


async def load_admin_accounts(session: AsyncSession, actor_ids: Iterable[int]) -> AdminBatch:
    ids = sorted({actor_id for actor_id in actor_ids if actor_id is not None})
    batch = AdminBatch(accounts=await load_accounts(session, ids))
    if ids:
        users = await session.exec(select(User).where(User.actor_id.in_(ids)))  # type: ignore[attr-defined]
        batch.users = {user.actor_id: user for user in users.all()}
    return batch


def admin_account(actor: Actor, batch: AdminBatch, urls: LocalUrls) -> dict[str, Any]:
    """Mastodon's Admin::Account: the account as moderators see it, login details for local ones."""
    user = batch.users.get(actor.id)
    return {
        "id": entity_id(actor.id),
        "username": actor.username,
        "domain": actor.domain,
        "created_at": iso_datetime(user.created_at if user is not None else actor.created_at),
        "email": user.email if user is not None else None,
        "ip": None,
        "ips": [],
        "locale": user.locale if user is not None else None,
        "invite_request": (user.signup_reason or None) if user is not None else None,
        "role": role_entity(user.role) if user is not None else None,
        "confirmed": user is not None,
        "approved": user.approved if user is not None else False,
        "disabled": user.disabled if user is not None else False,
        "silenced": actor.silenced_at is not None,
        "suspended": actor.suspended_at is not None,
        "sensitized": actor.sensitized_at is not None,
        "account": account(actor, batch.accounts, urls),
    }


def admin_report(report: Report, batch: AdminBatch, statuses: list[dict[str, Any]],
                 urls: LocalUrls) -> dict[str, Any]:
    """Mastodon's Admin::Report; `batch` holds the reporter, target, assignee and resolver,
    `statuses` the reported statuses already rendered."""

    def person(actor_id: int | None) -> dict[str, Any] | None:
        actor = batch.accounts.actors.get(actor_id) if actor_id is not None else None
        return admin_account(actor, batch, urls) if actor is not None else None

    return {
        "id": entity_id(report.id),
        "action_taken": report.action_taken_at is not None,
        "action_taken_at": optional_datetime(report.action_taken_at),
        "category": report.category,
        "comment": report.comment,
        "forwarded": report.forwarded,
        "created_at": iso_datetime(report.created_at),
        "updated_at": iso_datetime(report.updated_at),
        "account": person(report.reporter_id),
        "target_account": person(report.target_id),
        "assigned_account": person(report.assigned_to_id),
        "action_taken_by_account": person(report.action_taken_by_id),
        "statuses": statuses,
        "rules": [],
    }


def report_people(report: Report) -> list[int]:
    return [actor_id for actor_id in (report.reporter_id, report.target_id, report.assigned_to_id,
                                      report.action_taken_by_id) if actor_id is not None]


def account_warning(warning: AccountWarning, target: dict[str, Any]) -> dict[str, Any]:
    """Mastodon's AccountWarning, as a `moderation_warning` notification carries it."""
    return {
        "id": entity_id(warning.id),
        "action": warning.action,
        "text": warning.text,
        "status_ids": warning.status_ids.split(),
        "target_account": target,
        "appeal": None,
        "created_at": iso_datetime(warning.created_at),
    }


def warning_id_of(key: str) -> int | None:
    """The AccountWarning a `moderation_warning` notification is about: its key's occasion."""
    occasion = key.rsplit(":", 1)[-1]
    return int(occasion) if occasion.isdigit() else None
