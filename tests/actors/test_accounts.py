import pytest
from sqlalchemy import func
from sqlmodel import select

from actors.accounts import create_local_account, find_local_account, password_matches
from actors.errors import (
    AccountError,
    EmailTaken,
    InvalidEmail,
    InvalidRole,
    InvalidUsername,
    KeyUnavailable,
    UsernameTaken,
    WeakPassword,
)
from actors.keys import KeyRing
from federation.keys import generate_rsa_key, public_key_pem
from storage.tables import Actor, LocalKey, User
from tests.conftest import add_account


async def _counts(ctx):
    async with ctx.database.session() as session:
        return tuple([
            (await session.exec(select(func.count()).select_from(table))).one()
            for table in (Actor, User, LocalKey)
        ])


async def test_member_starts_private_and_staff_starts_public(ctx):
    member = await add_account(ctx, "patient_ann")
    staff = await add_account(ctx, "dr_bo", role="staff")
    assert (member.actor.locked, member.actor.discoverable, member.actor.indexable,
            member.actor.hide_collections, member.user.default_visibility) == (
        True, False, False, True, "private")
    assert (staff.actor.locked, staff.actor.discoverable, staff.actor.indexable,
            staff.actor.hide_collections, staff.user.default_visibility) == (
        False, True, True, False, "public")


async def test_account_gets_urls_keys_and_a_hashed_password(ctx):
    account = await add_account(ctx, "Ann")
    assert account.actor.uri == "https://mayo.test/users/Ann"
    assert account.actor.inbox_uri == "https://mayo.test/users/Ann/inbox"
    assert account.actor.shared_inbox_uri == "https://mayo.test/inbox"
    assert account.actor.key_id == "https://mayo.test/users/Ann#main-key"
    assert account.actor.public_key_pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert account.user.password_hash.startswith("$argon2id$")
    assert password_matches(account.user.password_hash, "correct horse battery")
    assert not password_matches(account.user.password_hash, "wrong horse battery")
    async with ctx.database.session() as session:
        found = await find_local_account(session, "ANN")
        sealed = (await session.exec(select(LocalKey).where(LocalKey.actor_id == found.actor.id))).one()
    assert "PRIVATE KEY" not in sealed.private_key_encrypted
    # A fresh key ring (another process) opens the stored key to the same key pair.
    reopened = KeyRing(ctx.settings.secret_key).open(found.actor.id, sealed.private_key_encrypted)
    assert public_key_pem(reopened) == account.actor.public_key_pem


async def test_private_key_does_not_open_with_another_secret(ctx):
    account = await add_account(ctx, "ann")
    async with ctx.database.session() as session:
        sealed = (await session.exec(select(LocalKey).where(LocalKey.actor_id == account.actor.id))).one()
    with pytest.raises(KeyUnavailable, match="ROUNDS_SECRET_KEY"):
        KeyRing("another-secret-" + "y" * 40).open(account.actor.id, sealed.private_key_encrypted)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"username": "ann smith"}, InvalidUsername),
        ({"username": "ann.smith"}, InvalidUsername),
        ({"username": ""}, InvalidUsername),
        ({"username": "a" * 31}, InvalidUsername),
        ({"username": "Admin"}, InvalidUsername),
        ({"username": "inbox"}, InvalidUsername),
        ({"username": "users"}, InvalidUsername),
        ({"username": "ANN"}, UsernameTaken),
        ({"email": "not-an-email"}, InvalidEmail),
        ({"email": "ANN@example.org"}, EmailTaken),
        ({"password": "short"}, WeakPassword),
        ({"role": "superuser"}, InvalidRole),
    ],
)
async def test_invalid_account_is_refused_and_nothing_is_written(ctx, fields, error):
    await add_account(ctx, "ann")
    before = await _counts(ctx)
    values = {"username": "newbie", "email": "newbie@example.org",
              "password": "long enough password", "role": "member"} | fields
    with pytest.raises(error) as raised:
        async with ctx.database.transaction() as session:
            await create_local_account(session, ctx.keyring, ctx.urls, **values)
    assert isinstance(raised.value, AccountError) and raised.value.field
    assert await _counts(ctx) == before


def test_a_private_key_is_opened_once_per_process_and_kept():
    keyring = KeyRing("a-secret-" + "k" * 40)
    key = generate_rsa_key()
    sealed = keyring.seal(7, key)
    fresh = KeyRing("a-secret-" + "k" * 40)  # another process: nothing cached yet
    first = fresh.open(7, sealed)
    assert fresh.open(7, sealed) is first  # the second call decrypts and loads nothing
    assert public_key_pem(first) == public_key_pem(key)
    with pytest.raises(KeyUnavailable):
        KeyRing("a-secret-" + "k" * 40).open(8, sealed)  # a sealed key is bound to its actor
