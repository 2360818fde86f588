"""Markers: where a person stopped reading the home timeline and the notifications, shared by
all their apps (Mastodon's `/api/v1/markers`)."""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from starlette.requests import Request
from starlette.responses import Response

from storage.tables import Marker, utcnow
from web.api.entities import iso_datetime
from web.api.params import get, is_record_id, query_list
from web.auth import require_viewer
from web.context import context_of
from web.oauth import request_params, validation_error
from web.responses import JSONResponse

TIMELINES = ("home", "notifications")


def marker_entity(marker: Marker) -> dict[str, Any]:
    return {"last_read_id": marker.last_read_id, "version": marker.version,
            "updated_at": iso_datetime(marker.updated_at)}


async def read_markers(request: Request) -> Response:
    viewer = await require_viewer(request, "read:statuses")
    wanted = [name for name in query_list(request, "timeline") if name in TIMELINES]
    async with context_of(request).database.session() as session:
        rows = (await session.exec(select(Marker).where(
            Marker.actor_id == viewer.actor.id, Marker.timeline.in_(wanted)))).all()  # type: ignore[attr-defined]
    return JSONResponse({row.timeline: marker_entity(row) for row in rows})


def _last_read_ids(params: dict[str, Any]) -> dict[str, str] | JSONResponse:
    """`home[last_read_id]=…` (forms) or `{"home": {"last_read_id": …}}` (JSON, Mastodon.py)."""
    found: dict[str, str] = {}
    for timeline in TIMELINES:
        nested = params.get(timeline)
        value = nested.get("last_read_id") if isinstance(nested, dict) else params.get(f"{timeline}[last_read_id]")
        if value is None:
            continue
        if not is_record_id(str(value)):
            return validation_error(timeline, "ERR_INVALID", "needs a status or notification id", "Last read id")
        found[timeline] = str(value)
    if not found:
        return validation_error("home", "ERR_BLANK", "can't be blank", "Last read id")
    return found


async def save_markers(request: Request) -> Response:
    viewer = await require_viewer(request, "write:statuses")
    positions = _last_read_ids(await request_params(request))
    if isinstance(positions, JSONResponse):
        return positions
    answer = {}
    async with context_of(request).database.transaction() as session:
        for timeline, last_read_id in positions.items():
            marker = (await session.exec(select(Marker).where(
                Marker.actor_id == viewer.actor.id, Marker.timeline == timeline))).first()
            if marker is None:
                marker = Marker(actor_id=viewer.actor.id, timeline=timeline, last_read_id=last_read_id)
            else:
                marker.last_read_id, marker.version, marker.updated_at = last_read_id, marker.version + 1, utcnow()
            session.add(marker)
            await session.flush()
            answer[timeline] = marker_entity(marker)
    return JSONResponse(answer)


routes = [*get("/api/v1/markers", read_markers), *get("/api/v1/markers", save_markers, methods=("POST",))]
