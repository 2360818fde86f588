"""Mastodon's admin API (`/api/v1/admin/…`, `/api/v2/admin/accounts`) for moderators and admins.

Every route asks `require_moderator(request, scope, permission)`: a signed-in person whose token
grants the `admin:*` scope and whose role holds the permission; else 401/403 like the rest of the
API. Each module's actions record themselves in the audit log (`moderation.audit`) in the same
transaction as the change.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request

from web.auth import Viewer, require_viewer

# Mastodon's role permissions, reduced to the ones this instance has. A moderator handles
# reports and people; an admin also decides which servers this instance federates with.
MODERATOR = frozenset({"manage_reports", "manage_users", "view_audit_log"})
ADMIN = MODERATOR | frozenset({"manage_federation", "manage_blocks", "delete_user_data"})
PERMISSIONS: dict[str, frozenset[str]] = {"moderator": MODERATOR, "admin": ADMIN}
NOT_PERMITTED = "This action is not allowed"


def permitted(role: str, permission: str) -> bool:
    return permission in PERMISSIONS.get(role, frozenset())


async def require_moderator(request: Request, scope: str, permission: str) -> Viewer:
    """A person with `scope` granted (401/403 otherwise) whose role holds `permission` (else 403)."""
    viewer = await require_viewer(request, scope)
    if not permitted(viewer.user.role, permission):
        raise HTTPException(403, NOT_PERMITTED)
    return viewer
