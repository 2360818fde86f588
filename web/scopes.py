"""OAuth scopes as Mastodon defines them: parsing, validation and what each one grants.

Pure: no I/O. A scope string is space- (or `+`-) separated. Broad scopes grant narrow
ones: `read` grants every `read:*`, `write` every `write:*`, `follow` the follow, block and
mute scopes (Mastodon's deprecated alias), `admin:read` every `admin:read:*` and so on.
Mastodon.py checks the `scope` of a token answer with this same expansion.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

READ = ("accounts", "blocks", "bookmarks", "favourites", "filters", "follows", "lists", "mutes",
        "notifications", "search", "statuses")
WRITE = ("accounts", "blocks", "bookmarks", "conversations", "favourites", "filters", "follows",
         "lists", "media", "mutes", "notifications", "reports", "statuses")
ADMIN = ("accounts", "reports", "domain_allows", "domain_blocks", "ip_blocks", "email_domain_blocks",
         "canonical_email_blocks")
FOLLOW_GRANTS = ("read:follows", "read:blocks", "read:mutes", "write:follows", "write:blocks", "write:mutes")

# Order is the one Mastodon documents; `scopes_supported` and error messages use it.
ALL_SCOPES: tuple[str, ...] = (
    "read", *(f"read:{name}" for name in READ),
    "write", *(f"write:{name}" for name in WRITE),
    "follow", "push", "profile",
    "admin:read", *(f"admin:read:{name}" for name in ADMIN),
    "admin:write", *(f"admin:write:{name}" for name in ADMIN),
)
KNOWN = frozenset(ALL_SCOPES)
DEFAULT_SCOPES = ("read",)

_IMPLIED: dict[str, frozenset[str]] = {
    "read": frozenset(f"read:{name}" for name in READ),
    "write": frozenset(f"write:{name}" for name in WRITE),
    "follow": frozenset(FOLLOW_GRANTS),
    "admin:read": frozenset(f"admin:read:{name}" for name in ADMIN),
    "admin:write": frozenset(f"admin:write:{name}" for name in ADMIN),
    # Whoever may read accounts may read their own profile (Mastodon's verify_credentials
    # accepts `profile`, `read:accounts` or `read`).
    "read:accounts": frozenset({"profile"}),
}
_SEPARATORS = re.compile(r"[\s+]+")


class InvalidScope(ValueError):
    """A scope string names a scope Mastodon does not define (OAuth error `invalid_scope`)."""

    def __init__(self, unknown: str) -> None:
        super().__init__(f"The requested scope is invalid, unknown, or malformed: {unknown}")
        self.unknown = unknown


def parse(text: object, default: tuple[str, ...] = DEFAULT_SCOPES) -> tuple[str, ...]:
    """The scopes named in `text` (a string, or a list as JSON bodies send), in order, once each.

    Empty or missing → `default`. Raises InvalidScope naming the first unknown scope.
    """
    if text is None:
        return default
    if isinstance(text, str):
        words = _SEPARATORS.split(text)
    elif isinstance(text, list | tuple | set | frozenset) and all(isinstance(item, str) for item in text):
        words = [word for item in text for word in _SEPARATORS.split(item)]
    else:  # a JSON body can hold anything
        raise InvalidScope(repr(text))
    scopes = tuple(dict.fromkeys(word for word in words if word))
    if not scopes:
        return default
    for scope in scopes:
        if scope not in KNOWN:
            raise InvalidScope(scope)
    return scopes


def expand(scopes: Iterable[str]) -> frozenset[str]:
    """Every scope that `scopes` grants, the broad ones and all they imply."""
    granted: set[str] = set()
    pending = list(scopes)
    while pending:
        scope = pending.pop()
        if scope in granted:
            continue
        granted.add(scope)
        pending.extend(_IMPLIED.get(scope, ()))
    return frozenset(granted)


def grants(granted: Iterable[str], needed: str) -> bool:
    """Whether a token with `granted` may do what needs `needed`.

    Needing a broad scope (`read`) means needing everything it implies.
    """
    return expand((needed,)) <= expand(granted)


def covers(granted: Iterable[str], requested: Iterable[str]) -> bool:
    """Whether every scope in `requested` is granted by `granted` (requests stay within an app's scopes)."""
    have = expand(granted)
    return all(expand((scope,)) <= have for scope in requested)


def joined(scopes: Iterable[str]) -> str:
    return " ".join(scopes)
