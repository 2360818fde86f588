"""People on real `rounds serve` processes, each holding Mastodon.py as their app would."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from mastodon import Mastodon

from tests.support.processes import Instance

WAIT = 30.0


def person(instance: Instance, username: str, role: str = "member", *, scopes: str = "read write follow",
           password: str | None = None) -> Mastodon:
    """Create the account with the CLI (with `password`, or a generated one) and hand back Mastodon.py
    holding a token the CLI printed. Staff are unlocked; members approve their followers."""
    extra = ("--password-stdin",) if password else ()
    created = instance.cli("accounts", "create", username, "--email", f"{username}@{instance.name}.test",
                           "--role", role, *extra, stdin=f"{password}\n" if password else None)
    assert created.returncode == 0, created.stderr
    token = instance.cli("accounts", "token", username, "--scopes", scopes)
    assert token.returncode == 0, token.stderr
    return Mastodon(access_token=token.stdout.strip(), api_base_url=instance.base_url)


def eventually(check: Callable[[], Any], what: str, wait: float = WAIT) -> Any:
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out after {wait:g} s waiting for {what}")


def find(api: Mastodon, handle: str) -> dict:
    """The account `handle` (user@host) as this person's instance knows it, resolved if need be."""
    found = api.search_v2(handle, resolve=True, result_type="accounts")["accounts"]
    assert [account["acct"] for account in found] == [handle], found
    return found[0]


def lookup(api: Mastodon, uri: str) -> dict | None:
    """The post with this ActivityPub id on this person's instance, if it is there and theirs to see."""
    found = api.search_v2(uri, resolve=False, result_type="statuses")["statuses"]
    return found[0] if found else None
