"""Notification, rendered in batches: the senders' accounts and the statuses (with all a
Status needs) are loaded once for the whole page. Callers decide what the recipient may
see before calling; a notification whose status cannot be rendered (a boost whose
original is gone), or that a `hide` filter of the viewer's for notifications catches, is left
out; a `warn` filter marks the status `filtered`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.urls import LocalUrls
from storage.tables import AccountWarning, Notification, Status
from web.api.entities.accounts import account, load_accounts
from web.api.entities.admin import account_warning, warning_id_of
from web.api.entities.formats import entity_id, iso_datetime
from web.api.entities.statuses import load_statuses, status_entity


def notification_entity(notification: Notification, sender: dict[str, Any],
                        status: dict[str, Any] | None) -> dict[str, Any]:
    """`status` only for the kinds that have one (Mastodon leaves the key out otherwise)."""
    entity: dict[str, Any] = {
        "id": entity_id(notification.id),
        "type": notification.kind,
        "created_at": iso_datetime(notification.created_at),
        # 4.3's grouping key; ungrouped, as the v1 API is.
        "group_key": f"ungrouped-{notification.id}",
        "account": sender,
    }
    if status is not None:
        entity["status"] = status
    return entity


async def render_notifications(session: AsyncSession, rows: Sequence[tuple[Notification, Status | None]],
                               urls: LocalUrls, viewer_id: int) -> list[dict[str, Any]]:
    """Entities for (notification, its status or None) pairs, in order."""
    if not rows:
        return []
    warning_ids = [warning_id_of(notification.key) for notification, _ in rows
                   if notification.kind == "moderation_warning"]
    warnings = {warning.id: warning for warning in (await session.exec(select(AccountWarning).where(
        AccountWarning.id.in_([wid for wid in warning_ids if wid is not None])))).all()}  # type: ignore[attr-defined] if warning_ids else {}
    # The recipients are the warnings' target accounts.
    senders = await load_accounts(session, {notification.from_actor_id for notification, _ in rows}
                                  | {warning.target_id for warning in warnings.values()})
    statuses = [status for _, status in rows if status is not None]
    batch = await load_statuses(session, statuses, viewer_id, context="notifications") if statuses else None
    entities = []
    for notification, status in rows:
        rendered = None
        if status is not None:
            assert batch is not None
            if batch.filters.hides(status, batch.statuses):
                continue  # a `hide` filter for notifications: as if it never happened
            rendered = status_entity(status, batch, urls)
            if rendered is None:
                continue
        sender = senders.actors.get(notification.from_actor_id)
        if sender is None:
            continue
        entity = notification_entity(notification, account(sender, senders, urls), rendered)
        if notification.kind == "moderation_warning":
            warning = warnings.get(warning_id_of(notification.key) or 0)
            target = senders.actors.get(warning.target_id) if warning is not None else None
            if warning is None or target is None:
                continue
            entity["moderation_warning"] = account_warning(warning, account(target, senders, urls))
        entities.append(entity)
    return entities
