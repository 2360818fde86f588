"""Who is calling: bearer tokens, the scopes they carry, and signed browser values.

Every client-API route asks one of three questions:

    optional_viewer(request, scope)  a signed-in person, or None for an anonymous call
    require_viewer(request, scope)   a signed-in person, else 401 (no/bad token) or 403 (scope)
    require_app(request, scope)      any valid token, an app's own (client_credentials) included

Tokens arrive as `Authorization: Bearer …` or an `access_token` query or form parameter.
Only a token's sha256 is stored, so a copy of the database does not let anyone sign in.
Errors are starlette `HTTPException`s, rendered as `{"error": "…"}` by `web.errors`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.exceptions import HTTPException
from starlette.requests import Request

from storage.tables import Actor, OAuthAccessToken, OAuthApp, User
from web import scopes as scope_rules
from web.context import context_of

OUTSIDE_SCOPES = "This action is outside the authorized scopes"
INVALID_TOKEN = "The access token is invalid"
USER_REQUIRED = "This method requires an authenticated user"
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def digest(secret_value: str) -> str:
    """How tokens and codes are stored: sha256, hex."""
    return hashlib.sha256(secret_value.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class AppToken:
    """A valid token as an app sees it: `user_id` is None for a client_credentials token."""

    app: OAuthApp
    scopes: frozenset[str]
    token_id: int
    user_id: int | None

    def may(self, scope: str) -> bool:
        return scope_rules.grants(self.scopes, scope)


@dataclass(frozen=True)
class Viewer:
    """A local person acting through a token."""

    actor: Actor
    user: User
    scopes: frozenset[str]
    token_id: int
    app_id: int | None

    def may(self, scope: str) -> bool:
        return scope_rules.grants(self.scopes, scope)


@dataclass(frozen=True)
class FoundToken:
    token: OAuthAccessToken
    app: OAuthApp
    user: User | None
    actor: Actor | None


async def issue_token(session: AsyncSession, app: OAuthApp, user_id: int | None,
                      granted: tuple[str, ...]) -> tuple[str, OAuthAccessToken]:
    """A new token for `app` (and `user_id`); returns the plain token, shown once, and its row."""
    plain = new_secret()
    row = OAuthAccessToken(token_hash=digest(plain), app_id=app.id, user_id=user_id,
                           scopes=scope_rules.joined(granted))
    session.add(row)
    await session.flush()
    return plain, row


# Every signed-in request asks this: built once (see storage.prepared).
_LIVE_TOKEN = (select(OAuthAccessToken, OAuthApp, User, Actor)
               .join(OAuthApp, OAuthApp.id == OAuthAccessToken.app_id)
               .outerjoin(User, User.id == OAuthAccessToken.user_id)
               .outerjoin(Actor, Actor.id == User.actor_id)
               .where(OAuthAccessToken.token_hash == bindparam("token_hash"),
                      OAuthAccessToken.revoked_at.is_(None)))  # type: ignore[union-attr]


async def find_token(session: AsyncSession, plain: str) -> FoundToken | None:
    """The live (not revoked) token with this value, its app and, for user tokens, the person."""
    row = (await session.exec(_LIVE_TOKEN, params={"token_hash": digest(plain)})).first()
    if row is None:
        return None
    token, app, user, actor = row
    if token.user_id is None:
        return FoundToken(token=token, app=app, user=None, actor=None)
    if user is None or actor is None:
        return None
    return FoundToken(token=token, app=app, user=user, actor=actor)


async def revoke_token(session: AsyncSession, plain: str, app_id: int | None = None) -> bool:
    """Revoke a live token (only one of `app_id`'s when given); True when one was revoked."""
    query = select(OAuthAccessToken).where(
        OAuthAccessToken.token_hash == digest(plain),
        OAuthAccessToken.revoked_at.is_(None),  # type: ignore[union-attr]
    )
    if app_id is not None:
        query = query.where(OAuthAccessToken.app_id == app_id)
    token = (await session.exec(query)).first()
    if token is None:
        return False
    token.revoked_at = datetime.now(UTC)
    session.add(token)
    return True


async def bearer_token(request: Request) -> str | None:
    """The token a request carries, from the Authorization header or an `access_token` parameter."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if request.query_params.get("access_token"):
        return request.query_params["access_token"]
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and content_type in FORM_TYPES:
        # Starlette keeps the parsed form on the request, so the handler can read it again.
        value = (await request.form()).get("access_token")
        if isinstance(value, str) and value:
            return value
    return None


def account_problem(user: User, actor: Actor | None = None) -> str | None:
    """Why this person may not act right now, or None (a suspension shows only with the `actor`)."""
    if actor is not None and actor.suspended_at is not None:
        return "Your account is suspended"
    if user.disabled:
        return "Your login is currently disabled"
    if not user.approved:
        return "Your login is currently pending approval"
    return None


async def _lookup(request: Request) -> FoundToken | None:
    plain = await bearer_token(request)
    if plain is None:
        return None
    async with context_of(request).database.session() as session:
        found = await find_token(session, plain)
    if found is None:
        raise HTTPException(401, INVALID_TOKEN)
    return found


def _check_scope(granted: frozenset[str], scope: str | None) -> None:
    if scope is not None and not scope_rules.grants(granted, scope):
        raise HTTPException(403, OUTSIDE_SCOPES)


async def optional_viewer(request: Request, scope: str | None = None) -> Viewer | None:
    """None when the request carries no token; 401 for an invalid, revoked or app-only token;
    403 when the person may not act (disabled, awaiting approval) or `scope` is not granted."""
    found = await _lookup(request)
    if found is None:
        return None
    if found.user is None or found.actor is None:
        raise HTTPException(401, USER_REQUIRED)
    problem = account_problem(found.user, found.actor)
    if problem is not None:
        raise HTTPException(403, problem)
    granted = frozenset(scope_rules.parse(found.token.scopes, default=()))
    _check_scope(granted, scope)
    return Viewer(actor=found.actor, user=found.user, scopes=granted, token_id=found.token.id,
                  app_id=found.app.id)


async def require_viewer(request: Request, scope: str) -> Viewer:
    """A signed-in person whose token grants `scope`: else 401 (no or bad token) or 403."""
    viewer = await optional_viewer(request, scope)
    if viewer is None:
        raise HTTPException(401, INVALID_TOKEN)
    return viewer


async def require_app(request: Request, scope: str | None = None) -> AppToken:
    """Any valid token (an app's own or a person's): else 401; 403 when `scope` is not granted."""
    found = await _lookup(request)
    if found is None:
        raise HTTPException(401, INVALID_TOKEN)
    if found.user is not None and account_problem(found.user, found.actor) is not None:
        raise HTTPException(403, account_problem(found.user, found.actor))
    granted = frozenset(scope_rules.parse(found.token.scopes, default=()))
    _check_scope(granted, scope)
    return AppToken(app=found.app, scopes=granted, token_id=found.token.id,
                    user_id=found.token.user_id)


# --- signed values for browsers (session cookie, CSRF tokens) -----------------------------

def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """HMAC-SHA256 over JSON values with an expiry, keyed by the instance secret and a purpose.

    The purpose keeps a value signed for one use (a session) from being replayed as another
    (a CSRF token).
    """

    def __init__(self, secret_key: str, purpose: str) -> None:
        self._key = hashlib.sha256(f"rounds:{purpose}:{secret_key}".encode()).digest()

    def _mac(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode("ascii"), hashlib.sha256).digest())

    def sign(self, value: Any, max_age: int, now: float | None = None) -> str:
        expires = int((time.time() if now is None else now) + max_age)
        payload = _b64(json.dumps([expires, value], separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._mac(payload)}"

    def unsign(self, signed: str | None, now: float | None = None) -> Any | None:
        """The value, or None when missing, tampered with or expired."""
        if not signed or "." not in signed:
            return None
        payload, mac = signed.rsplit(".", 1)
        if not hmac.compare_digest(mac, self._mac(payload)):
            return None
        try:
            expires, value = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        if expires < (time.time() if now is None else now):
            return None
        return value
