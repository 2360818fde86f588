"""Timelines: home, public (federated and local) and hashtag."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BindParameter, ColumnElement, Select, and_, exists, func, or_
from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response

from actors.visibility import visible_to
from moderation.policy import limited_author
from storage.prepared import NOW, VIEWER
from storage.tables import Follow, HomeFeedEntry, Status, StatusTag, utcnow
from web.api.listing import (
    PagedStatuses,
    boost_shown,
    not_a_reply_to_others,
    not_blocked_by,
    not_muted_by,
    status_page,
    with_media,
)
from web.api.params import get, query_bool, query_list
from web.auth import optional_viewer, require_viewer


def public_statuses(viewer_id: int | None, *, local: bool = False, remote: bool = False,
                    only_media: bool = False) -> Select[Any]:
    """Public posts, no boosts (as Mastodon's public feeds). A signed-in person here also sees
    local-only posts, unless they asked for remote posts only. Shared with the public streams."""
    levels = ["public"] if viewer_id is None or remote else ["public", "local"]
    query = select(Status).where(Status.visibility.in_(levels), Status.reblog_of_id.is_(None),  # type: ignore[union-attr]
                                 visible_to(viewer_id), not_blocked_by(viewer_id), not_muted_by(viewer_id))
    query = query.where(shown_unless_limited(viewer_id))
    if local:
        query = query.where(Status.local)
    elif remote:
        query = query.where(~Status.local)  # type: ignore[operator]
    if only_media:
        query = query.where(with_media())
    return query


def shown_unless_limited(viewer_id: int | None) -> ColumnElement[bool]:
    """Posts of silenced (or suspended) accounts and domains reach public feeds only for the
    people who follow their author (Mastodon's limited accounts)."""
    if viewer_id is None:
        return ~limited_author(Status.actor_id)
    follows = exists().where(Follow.follower_id == viewer_id, Follow.followee_id == Status.actor_id,
                             Follow.state == "accepted")
    return or_(~limited_author(Status.actor_id), Status.actor_id == viewer_id, follows)


def _public_query(request: Request, viewer_id: int | None) -> Select[Any]:
    return public_statuses(viewer_id, local=query_bool(request, "local"), remote=query_bool(request, "remote"),
                           only_media=query_bool(request, "only_media"))


async def public(request: Request) -> Response:
    viewer = await optional_viewer(request, "read:statuses")
    viewer_id = viewer.actor.id if viewer else None
    return await status_page(request, _public_query(request, viewer_id).where(not_a_reply_to_others()), viewer_id,
                             context="public")


def tagged(names: list[str]) -> ColumnElement[bool]:
    return exists().where(StatusTag.status_id == Status.id, func.lower(StatusTag.name).in_(names))


async def tag(request: Request) -> Response:
    """`any[]` widens the tag, `all[]` requires every one of them, `none[]` excludes them."""
    viewer = await optional_viewer(request, "read:statuses")
    viewer_id = viewer.actor.id if viewer else None

    def names(key: str) -> list[str]:
        return [name.strip().lstrip("#").lower() for name in query_list(request, key) if name.strip()]

    wanted = [request.path_params["hashtag"].strip().lstrip("#").lower(), *names("any")]
    query = _public_query(request, viewer_id).where(tagged(wanted))
    for name in names("all"):
        query = query.where(tagged([name]))
    excluded = names("none")
    if excluded:
        query = query.where(~tagged(excluded))
    return await status_page(request, query, viewer_id, context="public")


async def home(request: Request) -> Response:
    """The viewer's own statuses and boosts, and those of everyone they follow (accepted); the
    boosts of someone followed with `reblogs=false` are left out."""
    viewer = await require_viewer(request, "read:statuses")
    return await status_page(request, _HOME, viewer.actor.id, context="home",
                             params={"viewer_id": viewer.actor.id, "now": utcnow()})


def home_statuses(viewer_id: int | BindParameter[Any], now: Any = None) -> Select[Any]:
    """The home timeline's condition, shared with the user stream (`now`: the current time by
    default, or a bind parameter as `viewer_id` may be)."""
    followed = exists().where(Follow.follower_id == viewer_id, Follow.followee_id == Status.actor_id,
                              Follow.state == "accepted",
                              or_(Status.reblog_of_id.is_(None), Follow.show_reblogs))  # type: ignore[union-attr]
    return select(Status).where(or_(Status.actor_id == viewer_id, followed),
                                and_(visible_to(viewer_id), boost_shown(viewer_id), not_blocked_by(viewer_id),
                                     not_muted_by(viewer_id, now)))


# The page reads its candidates from the viewer's feed (`HomeFeedEntry`, kept by the database),
# newest first along its index, and applies the whole condition to them.
_HOME = PagedStatuses(home_statuses(VIEWER, NOW).join(HomeFeedEntry, and_(HomeFeedEntry.reader_id == VIEWER,
                                                                          HomeFeedEntry.status_id == Status.id)),
                      HomeFeedEntry.status_id)


routes = [
    *get("/api/v1/timelines/home", home),
    *get("/api/v1/timelines/public", public),
    *get("/api/v1/timelines/tag/{hashtag}", tag),
]
