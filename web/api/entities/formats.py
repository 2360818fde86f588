"""Value formats every Mastodon entity shares: ids, datetimes, dates, default images."""

from __future__ import annotations

from datetime import UTC, datetime

from actors.urls import LocalUrls

# Mastodon's own paths for "no picture"; some clients recognise `missing.png` and draw their own.
MISSING_AVATAR = "/avatars/original/missing.png"
MISSING_HEADER = "/headers/original/missing.png"


def entity_id(value: int) -> str:
    """Ids are decimal strings: clients compare them by length, then lexicographically."""
    return str(value)


def iso_datetime(moment: datetime) -> str:
    """RFC 3339 with exactly three fractional digits and `Z` (the iOS app accepts nothing else);
    `isoformat()` would drop the fraction at microsecond 0 and print six digits otherwise."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def optional_datetime(moment: datetime | None) -> str | None:
    return None if moment is None else iso_datetime(moment)


def iso_date(moment: datetime | None) -> str | None:
    """`last_status_at` is a date, not a datetime."""
    return None if moment is None else moment.astimezone(UTC).date().isoformat()


def missing_avatar(urls: LocalUrls) -> str:
    return urls.base_url + MISSING_AVATAR


def missing_header(urls: LocalUrls) -> str:
    return urls.base_url + MISSING_HEADER


def tag_url(urls: LocalUrls, name: str) -> str:
    return f"{urls.base_url}/tags/{name}"
