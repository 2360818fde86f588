"""The Mastodon entities, one serializer each, used by every client-API route."""

from web.api.entities.accounts import (
    AccountBatch,
    account,
    acct_of,
    credential_account,
    load_accounts,
    relationship,
    relationships,
)
from web.api.entities.formats import entity_id, iso_date, iso_datetime
from web.api.entities.instance import instance_v1, instance_v2, load_instance_facts, version_string
from web.api.entities.media import media_attachment, status_mention, status_tag
from web.api.entities.statuses import StatusBatch, load_statuses, render_status, render_statuses, status_entity


def error(message: str, description: str | None = None) -> dict[str, str]:
    """Mastodon's Error: `error`, plus `error_description` for OAuth errors."""
    return {"error": message} if description is None else {"error": message, "error_description": description}


__all__ = [
    "AccountBatch", "StatusBatch", "account", "acct_of", "credential_account", "entity_id", "error",
    "instance_v1", "instance_v2", "iso_date", "iso_datetime", "load_accounts", "load_instance_facts",
    "load_statuses", "media_attachment", "relationship", "relationships", "render_status",
    "render_statuses", "status_entity", "status_mention", "status_tag", "version_string",
]
