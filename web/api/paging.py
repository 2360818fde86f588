"""Mastodon's id paging: `max_id`, `since_id`, `min_id`, `limit`, and the `Link` header.

- `max_id`: strictly older than the id. `since_id`: the newest items newer than the id.
  `min_id`: the items immediately newer than the id (paging forward). Pages are newest first.
- `Link: <…?max_id=OLDEST>; rel="next", <…?min_id=NEWEST>; rel="prev"`, with absolute URLs
  (masto.js does `new URL(link)` with no base), quoted `rel` (its regex wants the quotes), no
  raw commas (it splits on them), and no header at all on an empty page (as Mastodon does;
  clients page until there is no next link).
- Lists of accounts page by the hidden relation-row id (the follow, the favourite), not by
  the accounts' ids.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import Integer, Select, bindparam
from starlette.exceptions import HTTPException
from starlette.requests import Request

T = TypeVar("T")
PAGING_PARAMS = frozenset({"max_id", "since_id", "min_id", "access_token"})
MAX_DB_ID = (1 << 63) - 1
_LIMIT = bindparam("limit", type_=Integer)


def _id_param(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > MAX_DB_ID:
        raise HTTPException(400, f"{name} must be an id (digits)")
    return int(raw)


@dataclass(frozen=True)
class Page:
    max_id: int | None
    since_id: int | None
    min_id: int | None
    limit: int

    @classmethod
    def of(cls, request: Request, *, default: int = 20, maximum: int = 40) -> Page:
        raw_limit = request.query_params.get("limit", "")
        limit = int(raw_limit) if raw_limit.isascii() and raw_limit.isdigit() else default
        return cls(max_id=_id_param(request, "max_id"), since_id=_id_param(request, "since_id"),
                   min_id=_id_param(request, "min_id"), limit=max(1, min(limit, maximum)))

    def apply(self, query: Select[Any], column: Any) -> Select[Any]:
        """Bound `query` by the page on `column` (an id column that sorts by time)."""
        if self.max_id is not None:
            query = query.where(column < self.max_id)
        if self.min_id is not None:
            return query.where(column > self.min_id).order_by(column.asc()).limit(self.limit)
        if self.since_id is not None:
            query = query.where(column > self.since_id)
        return query.order_by(column.desc()).limit(self.limit)

    @property
    def shape(self) -> tuple[bool, bool, bool]:
        """Which bounds the page has (what `bind` builds on)."""
        return self.max_id is not None, self.since_id is not None and self.min_id is None, self.min_id is not None

    def bind(self, query: Select[Any], column: Any) -> Select[Any]:
        """`apply` with bind parameters in place of the page's values, for a statement built once
        for each `shape`; `params` gives the values."""
        has_max, has_since, has_min = self.shape
        if has_max:
            query = query.where(column < bindparam("max_id"))
        if has_min:
            return query.where(column > bindparam("min_id")).order_by(column.asc()).limit(_LIMIT)
        if has_since:
            query = query.where(column > bindparam("since_id"))
        return query.order_by(column.desc()).limit(_LIMIT)

    def params(self) -> dict[str, int]:
        """The values of `bind`'s parameters."""
        values = {"max_id": self.max_id, "since_id": self.since_id, "min_id": self.min_id, "limit": self.limit}
        return {name: value for name, value in values.items() if value is not None}

    def arrange(self, rows: Sequence[T]) -> list[T]:
        """Rows from `apply`, newest first (a `min_id` page was read oldest first)."""
        return list(reversed(rows)) if self.min_id is not None else list(rows)


def link_header(request: Request, base_url: str, newest_id: int, oldest_id: int) -> str:
    """`next` (older) and `prev` (newer) links for a non-empty page, keeping the other
    query parameters (filters such as `local` or `only_media`)."""
    kept = [(key, value) for key, value in request.query_params.multi_items() if key not in PAGING_PARAMS]
    base = base_url + request.url.path

    def url(extra: tuple[str, str]) -> str:
        return f"{base}?{urlencode([*kept, extra])}"

    return (f'<{url(("max_id", str(oldest_id)))}>; rel="next", '
            f'<{url(("min_id", str(newest_id)))}>; rel="prev"')


def link_headers(request: Request, base_url: str, page_ids: Sequence[int]) -> dict[str, str]:
    """Headers for a page whose items carry these paging ids, newest first; none when empty."""
    if not page_ids:
        return {}
    return {"Link": link_header(request, base_url, page_ids[0], page_ids[-1])}
