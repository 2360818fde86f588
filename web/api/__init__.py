"""Mastodon's client API: the read side (instance, accounts, statuses, timelines) and the
fixed answers. Entities are built by `web.api.entities`, paging by `web.api.paging`."""

from web.api import (
    accounts,
    conversations,
    filters,
    fixed,
    follows,
    instance,
    lists,
    markers,
    media,
    mutes,
    notifications,
    polls,
    profile,
    reports,
    search,
    status_actions,
    status_extras,
    statuses,
    timelines,
)
from web.api.admin import accounts as admin_accounts
from web.api.admin import audit as admin_audit
from web.api.admin import blocklists as admin_blocklists
from web.api.admin import domains as admin_domains
from web.api.admin import reports as admin_reports
from web.api.admin import statuses as admin_statuses

# Specific account paths (`lookup`, `relationships`, …) come before `/accounts/{id}`.
routes = [*instance.routes, *accounts.routes, *statuses.routes, *timelines.routes, *fixed.routes]
routes += follows.routes
routes += search.routes
routes += status_actions.routes
routes += media.routes
routes += profile.routes
routes += notifications.routes
routes += status_extras.routes
routes += mutes.routes
routes += reports.routes
routes += lists.routes
routes += markers.routes
routes += filters.routes
routes += conversations.routes
routes += polls.routes
routes += admin_accounts.routes
routes += admin_audit.routes
routes += admin_reports.routes
routes += admin_blocklists.routes
routes += admin_domains.routes
routes += admin_statuses.routes

__all__ = ["routes"]
