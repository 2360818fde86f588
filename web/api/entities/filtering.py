"""Filter and FilterResult: a viewer's filters, loaded once per page and matched against statuses.

Matching follows Mastodon's `CustomFilter.apply_cached_filters`: keywords are matched
case-insensitively against the status's text (spoiler and content, markup stripped); a
`whole_word` keyword is bounded by `\\b` on each side that begins or ends with a word
character (`CustomFilterKeyword#to_regex`); status filters match by id. A boost is matched
on the status it boosts.
"""

from __future__ import annotations

import html
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from federation.html import MAX_INPUT, clean_text
from storage.tables import Filter, FilterKeyword, FilterStatus, Status, utcnow
from web.api.entities.formats import optional_datetime

# Where a paragraph or a line ends, words must not run together once the markup is gone.
_BREAKS = re.compile(r"<(?:br|/p|/li|/blockquote)\b[^>]*>", re.IGNORECASE)
_STARTS_WITH_WORD = re.compile(r"^\w")
_ENDS_WITH_WORD = re.compile(r"\w$")


def keyword_entity(row: FilterKeyword) -> dict[str, Any]:
    return {"id": str(row.id), "keyword": row.keyword, "whole_word": row.whole_word}


def filter_status_entity(row: FilterStatus) -> dict[str, Any]:
    return {"id": str(row.id), "status_id": str(row.status_id)}


def filter_entity(row: Filter, keywords: list[FilterKeyword], statuses: list[FilterStatus]) -> dict[str, Any]:
    return {"id": str(row.id), "title": row.title, "context": row.contexts.split(","),
            "expires_at": optional_datetime(row.expires_at), "filter_action": row.action,
            "keywords": [keyword_entity(keyword) for keyword in keywords],
            "statuses": [filter_status_entity(status) for status in statuses]}


def keyword_pattern(keyword: FilterKeyword) -> re.Pattern[str]:
    escaped = re.escape(keyword.keyword)
    if keyword.whole_word:
        start = r"\b" if _STARTS_WITH_WORD.search(keyword.keyword) else ""
        end = r"\b" if _ENDS_WITH_WORD.search(keyword.keyword) else ""
        escaped = f"{start}{escaped}{end}"
    return re.compile(escaped, re.IGNORECASE)


def searchable_text(status: Status) -> str:
    """The words a keyword is looked for in: the content warning, then the content, as text."""
    content = clean_text(_BREAKS.sub("\n", status.content or ""), limit=MAX_INPUT)
    return html.unescape(f"{clean_text(status.summary or '', limit=MAX_INPUT)}\n\n{content}")


@dataclass(frozen=True)
class ActiveFilter:
    row: Filter
    entity: dict[str, Any]
    keywords: list[tuple[str, re.Pattern[str]]]
    status_ids: frozenset[int]

    @property
    def hides(self) -> bool:
        return self.row.action == "hide"


@dataclass
class ViewerFilters:
    """The viewer's unexpired filters for one context; empty for anonymous viewers and for
    renderings outside any context (a single status, bookmarks)."""

    filters: list[ActiveFilter] = field(default_factory=list)
    _results: dict[int, list[tuple[ActiveFilter, dict[str, Any]]]] = field(default_factory=dict, init=False,
                                                                           repr=False)

    def _matches(self, status: Status, statuses: dict[int, Status]) -> list[tuple[ActiveFilter, dict[str, Any]]]:
        proper = statuses.get(status.reblog_of_id, status) if status.reblog_of_id is not None else status
        if proper.id in self._results:
            return self._results[proper.id]
        found = []
        text = searchable_text(proper) if any(active.keywords for active in self.filters) else ""
        for active in self.filters:
            keyword_matches = [keyword for keyword, pattern in active.keywords if pattern.search(text)]
            status_matches = [str(proper.id)] if proper.id in active.status_ids else []
            if keyword_matches or status_matches:
                found.append((active, {"filter": active.entity,
                                       "keyword_matches": keyword_matches or None,
                                       "status_matches": status_matches or None}))
        self._results[proper.id] = found
        return found

    def results(self, status: Status, statuses: dict[int, Status]) -> list[dict[str, Any]]:
        """FilterResults for `status` (or, for a boost, the status boosted)."""
        if not self.filters:
            return []
        return [result for _, result in self._matches(status, statuses)]

    def hides(self, status: Status, statuses: dict[int, Status]) -> bool:
        """Does a `hide` filter take `status` out of the listing?"""
        return bool(self.filters) and any(active.hides for active, _ in self._matches(status, statuses))


async def load_filters(session: AsyncSession, viewer_id: int | None, context: str | None,
                       now: datetime | None = None) -> ViewerFilters:
    """The viewer's filters in force for `context`: one query, or three when there are some."""
    if viewer_id is None or context is None:
        return ViewerFilters()
    rows = (await session.exec(select(Filter).where(
        Filter.actor_id == viewer_id,
        or_(Filter.expires_at.is_(None), Filter.expires_at > (now or utcnow())))  # type: ignore[union-attr]
        .order_by(Filter.id))).all()
    rows = [row for row in rows if context in row.contexts.split(",")]
    if not rows:
        return ViewerFilters()
    ids = [row.id for row in rows]
    keywords: dict[int, list[FilterKeyword]] = defaultdict(list)
    for keyword in (await session.exec(select(FilterKeyword).where(FilterKeyword.filter_id.in_(ids))  # type: ignore[attr-defined]
                                       .order_by(FilterKeyword.id))).all():
        keywords[keyword.filter_id].append(keyword)
    statuses: dict[int, list[FilterStatus]] = defaultdict(list)
    for status in (await session.exec(select(FilterStatus).where(FilterStatus.filter_id.in_(ids))  # type: ignore[attr-defined]
                                       .order_by(FilterStatus.id))).all():
        statuses[status.filter_id].append(status)
    return ViewerFilters([
        ActiveFilter(row=row, entity=filter_entity(row, keywords[row.id], statuses[row.id]),
                     keywords=[(keyword.keyword, keyword_pattern(keyword)) for keyword in keywords[row.id]],
                     status_ids=frozenset(status.status_id for status in statuses[row.id]))
        for row in rows])
