"""Mastodon's client API: the read side (instance, accounts, statuses, timelines) and the
fixed answers. Entities are built by `web.api.entities`, paging by `web.api.paging`."""

from web.api import (
    accounts,
    filters,
    fixed,
    follows,
    instance,
    lists,
    markers,
    reports,
    search,
    status_actions,
    statuses,
    timelines,
)

# Specific account paths (`lookup`, `relationships`, …) come before `/accounts/{id}`.
routes = [*instance.routes, *accounts.routes, *statuses.routes, *timelines.routes, *fixed.routes]
routes += follows.routes
routes += search.routes
routes += status_actions.routes
routes += reports.routes
routes += lists.routes
routes += markers.routes
routes += filters.routes

__all__ = ["routes"]
