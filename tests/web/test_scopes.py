"""Scope strings and what they grant, as Mastodon and Mastodon.py understand them."""

import pytest

from web import scopes


def test_scope_strings_split_on_spaces_and_plus_signs_once_each():
    assert scopes.parse("read write+follow  push read") == ("read", "write", "follow", "push")
    assert scopes.parse(["read", "write follow"]) == ("read", "write", "follow")


def test_scopes_that_are_not_text_are_invalid():
    for odd in (42, {"read": True}, ["read", 1]):
        with pytest.raises(scopes.InvalidScope):
            scopes.parse(odd)


def test_missing_or_empty_scope_means_read():
    assert scopes.parse(None) == ("read",)
    assert scopes.parse("  ") == ("read",)
    assert scopes.parse("", default=()) == ()


@pytest.mark.parametrize("text", ["read sudo", "read:everything", "admin", "READ", "admin:read:nothing"])
def test_unknown_scope_is_invalid_scope_naming_it(text):
    with pytest.raises(scopes.InvalidScope) as raised:
        scopes.parse(text)
    assert raised.value.unknown in text.split()
    assert raised.value.unknown in str(raised.value)


def test_every_mastodon_scope_is_known():
    for scope in ("read", "write", "follow", "push", "profile", "read:accounts", "read:search",
                  "write:media", "write:conversations", "write:reports", "admin:read", "admin:write",
                  "admin:read:canonical_email_blocks", "admin:write:domain_allows", "admin:write:ip_blocks"):
        assert scope in scopes.KNOWN


def test_read_grants_every_read_scope_but_no_write_scope():
    assert all(scopes.grants(["read"], f"read:{name}") for name in scopes.READ)
    assert not scopes.grants(["read"], "write:statuses")
    assert not scopes.grants(["read:statuses"], "read")  # a narrow scope does not grant the broad one
    assert scopes.grants(["read:statuses"], "read:statuses")


def test_write_grants_every_write_scope():
    assert all(scopes.grants(["write"], f"write:{name}") for name in scopes.WRITE)
    assert not scopes.grants(["write"], "read:statuses")


def test_follow_grants_the_follow_block_and_mute_scopes():
    for scope in ("read:follows", "read:blocks", "read:mutes", "write:follows", "write:blocks", "write:mutes"):
        assert scopes.grants(["follow"], scope)
    assert not scopes.grants(["follow"], "write:statuses")
    assert not scopes.grants(["follow"], "read:statuses")


def test_admin_scopes_grant_their_sub_scopes_only():
    assert scopes.grants(["admin:read"], "admin:read:reports")
    assert not scopes.grants(["admin:read"], "admin:write:reports")
    assert scopes.grants(["admin:write"], "admin:write:accounts")
    assert not scopes.grants(["read", "write"], "admin:read:accounts")


def test_profile_is_granted_by_read_accounts():
    assert scopes.grants(["read"], "profile")
    assert scopes.grants(["read:accounts"], "profile")
    assert not scopes.grants(["profile"], "read:accounts")


def test_push_is_its_own_scope():
    assert scopes.grants(["push"], "push")
    assert not scopes.grants(["read", "write", "follow"], "push")


def test_requested_scopes_must_be_covered_by_the_apps_scopes():
    assert scopes.covers(["read", "write"], ["read:statuses", "write"])
    assert scopes.covers("read write follow push".split(), ["follow", "push"])
    assert not scopes.covers(["read"], ["read", "write"])
    assert not scopes.covers(["read:statuses"], ["read"])


def test_mastodon_py_default_scopes_are_expanded_like_it_expects():
    # Mastodon.py's log_in compares the expansion of what it asked for with the granted `scope`.
    granted = scopes.expand(scopes.parse("read write follow push"))
    assert {"read:accounts", "write:statuses", "write:follows", "push"} <= granted
