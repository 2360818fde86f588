"""Local accounts: rules for usernames, emails and passwords, role defaults, creation."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import ColumnElement, and_, func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from actors.errors import (
    EmailTaken,
    InvalidEmail,
    InvalidRole,
    InvalidUsername,
    UsernameTaken,
    WeakPassword,
)
from actors.keys import KeyRing
from actors.urls import LocalUrls
from federation.keys import generate_rsa_key, public_key_pem
from storage.ids import new_id
from storage.tables import Actor, LocalKey, User

ROLES = ("member", "staff", "moderator", "admin")
USERNAME_RE = re.compile(r"^[A-Za-z0-9_]{1,30}$")
EMAIL_RE = re.compile(
    r"^[^@\s<>\"',;]{1,64}@"
    r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$"
)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 256
# Names that would shadow a route, impersonate the instance or confuse people.
RESERVED_USERNAMES = frozenset({
    "admin", "administrator", "root", "system", "instance", "actor", "inbox", "outbox", "users",
    "user", "api", "oauth", "auth", "login", "logout", "signup", "settings", "about", "static",
    "media", "nodeinfo", "well_known", "webfinger", "hostmaster", "postmaster", "webmaster",
    "abuse", "security", "support", "help", "moderator", "moderators", "staff", "rounds",
    "mastodon", "null", "undefined", "everyone", "all", "public", "followers", "following",
})

# Role-based privacy defaults: patients and caregivers start private; staff start public.
MEMBER_DEFAULTS = {"locked": True, "default_visibility": "private", "discoverable": False,
                   "indexable": False, "hide_collections": True}
STAFF_DEFAULTS = {"locked": False, "default_visibility": "public", "discoverable": True,
                  "indexable": True, "hide_collections": False}

_password_hasher = PasswordHasher()  # Argon2id with the library's (RFC 9106) parameters


def privacy_defaults(role: str) -> dict[str, object]:
    return dict(MEMBER_DEFAULTS if role == "member" else STAFF_DEFAULTS)


def check_username(username: str) -> str:
    if not USERNAME_RE.match(username):
        raise InvalidUsername(
            f"username {username!r} must be 1 to 30 letters, digits or underscores"
        )
    if username.lower() in RESERVED_USERNAMES:
        raise InvalidUsername(f"username {username!r} is reserved")
    return username


def check_email(email: str) -> str:
    email = email.strip()
    if len(email) > 320 or not EMAIL_RE.match(email):
        raise InvalidEmail(f"email {email!r} is not a valid address")
    return email


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise WeakPassword(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    return password


def check_role(role: str) -> str:
    if role not in ROLES:
        raise InvalidRole(f"role {role!r} is not one of {', '.join(ROLES)}")
    return role


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class LocalAccount:
    user: User
    actor: Actor


async def create_local_account(
    session: AsyncSession,
    keyring: KeyRing,
    urls: LocalUrls,
    *,
    username: str,
    email: str,
    password: str,
    role: str = "member",
    approved: bool = True,
    signup_reason: str = "",
) -> LocalAccount:
    """Check everything first, then add the actor, its key and the user in the session.

    The caller commits; on any error nothing has been added.
    """
    check_username(username)
    email = check_email(email)
    check_password(password)
    check_role(role)
    if await find_local_actor(session, username) is not None:
        raise UsernameTaken(f"username {username!r} is taken")
    taken = await session.exec(select(User.id).where(func.lower(User.email) == email.lower()))
    if taken.first() is not None:
        raise EmailTaken(f"email {email!r} is already registered")

    defaults = privacy_defaults(role)
    private_key = generate_rsa_key()
    actor_id = new_id()
    actor_uri = urls.actor(username)
    actor = Actor(
        id=actor_id,
        uri=actor_uri,
        username=username,
        username_key=username.lower(),
        domain=None,
        actor_type="Person",
        display_name=username,
        url=urls.profile(username),
        inbox_uri=urls.inbox(username),
        outbox_uri=urls.outbox(username),
        shared_inbox_uri=urls.shared_inbox,
        followers_uri=urls.followers(username),
        following_uri=urls.following(username),
        key_id=urls.key_id(actor_uri),
        public_key_pem=public_key_pem(private_key),
        locked=defaults["locked"],
        discoverable=defaults["discoverable"],
        indexable=defaults["indexable"],
        hide_collections=defaults["hide_collections"],
    )
    user = User(
        actor_id=actor_id,
        email=email.lower(),
        password_hash=hash_password(password),
        role=role,
        default_visibility=defaults["default_visibility"],
        approved=approved,
        signup_reason=signup_reason,
    )
    session.add(actor)
    await session.flush()  # the actor row must exist before rows that point at it
    session.add(LocalKey(actor_id=actor_id, private_key_encrypted=keyring.seal(actor_id, private_key)))
    session.add(user)
    await session.flush()
    return LocalAccount(user=user, actor=actor)


async def ensure_instance_actor(session: AsyncSession, keyring: KeyRing, urls: LocalUrls) -> Actor:
    """The instance's own `Application` actor, made on first use; signs fetches."""
    found = await session.exec(select(Actor).where(Actor.uri == urls.instance_actor))
    actor = found.first()
    if actor is not None:
        return actor
    private_key = generate_rsa_key()
    actor = Actor(
        uri=urls.instance_actor,
        username=urls.domain,
        username_key=urls.domain.lower(),
        domain=None,
        actor_type="Application",
        display_name=urls.domain,
        url=f"{urls.base_url}/about",
        inbox_uri=f"{urls.instance_actor}/inbox",
        outbox_uri=f"{urls.instance_actor}/outbox",
        shared_inbox_uri=urls.shared_inbox,
        key_id=urls.key_id(urls.instance_actor),
        public_key_pem=public_key_pem(private_key),
        locked=True,
        discoverable=False,
        indexable=False,
        hide_collections=True,
    )
    session.add(actor)
    await session.flush()
    session.add(LocalKey(actor_id=actor.id, private_key_encrypted=keyring.seal(actor.id, private_key)))
    await session.flush()
    return actor


async def find_local_actor(session: AsyncSession, username: str) -> Actor | None:
    """A local person by username, case-insensitively (never the instance actor)."""
    return (await session.exec(select(Actor).where(is_local_person(username)))).first()


def is_local_person(username: str) -> ColumnElement[bool]:
    """The condition `find_local_actor` looks up by, for queries that join it to more."""
    return and_(Actor.domain.is_(None), Actor.actor_type == "Person",  # type: ignore[union-attr]
                Actor.username_key == username.lower())


async def find_local_account(session: AsyncSession, username: str) -> LocalAccount | None:
    found = await session.exec(
        select(User, Actor)
        .join(Actor, Actor.id == User.actor_id)
        .where(Actor.domain.is_(None), Actor.username_key == username.lower())  # type: ignore[union-attr]
    )
    row = found.first()
    return None if row is None else LocalAccount(user=row[0], actor=row[1])


async def list_local_accounts(session: AsyncSession) -> list[LocalAccount]:
    found = await session.exec(
        select(User, Actor).join(Actor, Actor.id == User.actor_id).order_by(User.id)
    )
    return [LocalAccount(user=user, actor=actor) for user, actor in found.all()]


async def find_account_by_login(session: AsyncSession, login: str) -> LocalAccount | None:
    """The account someone means when signing in: an email address (has `@`) or a username."""
    login = login.strip()
    if "@" in login:
        found = await session.exec(
            select(User, Actor).join(Actor, Actor.id == User.actor_id)
            .where(func.lower(User.email) == login.lower())
        )
        row = found.first()
        return None if row is None else LocalAccount(user=row[0], actor=row[1])
    return await find_local_account(session, login)


@cache
def _absent_account_hash() -> str:
    """A real hash to verify against when the account does not exist, so that a wrong username
    costs as much time as a wrong password and does not reveal which accounts exist."""
    return _password_hasher.hash(secrets.token_urlsafe(16))


async def authenticate(session: AsyncSession, login: str, password: str) -> LocalAccount | None:
    """The account whose username or email is `login` and whose password is `password`.

    Disabled or unapproved accounts are returned too: the caller says why they cannot sign in.
    """
    account = await find_account_by_login(session, login)
    if account is None:
        password_matches(_absent_account_hash(), password)
        return None
    return account if password_matches(account.user.password_hash, password) else None


async def approve_account(session: AsyncSession, username: str) -> LocalAccount | None:
    """Let an account that signed up in approval mode sign in; None when there is no such account."""
    account = await find_local_account(session, username)
    if account is None:
        return None
    account.user.approved = True
    session.add(account.user)
    await session.flush()
    return account
