"""Mastodon-compatible OAuth 2: app registration, the sign-in and consent pages, tokens.

    POST /api/v1/apps                      register a client (form, JSON or query string)
    GET  /api/v1/apps/verify_credentials   the app behind a token
    GET/POST /oauth/authorize              sign in, then approve the scopes; code by redirect or on the page (OOB)
    POST /oauth/token                      authorization_code (PKCE S256) and client_credentials grants
    POST /oauth/revoke                     RFC 7009
    GET  /.well-known/oauth-authorization-server   RFC 8414 metadata

Redirect URIs are matched exactly; a request whose client or redirect URI is wrong is
answered on the page, never redirected, so the endpoint cannot be used as an open redirect.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlencode, urlsplit

from sqlalchemy import delete, func, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from actors.accounts import authenticate
from storage.tables import Actor, LoginAttempt, OAuthApp, OAuthAuthorizationCode, User
from web import scopes as scope_rules
from web.auth import Signer, account_problem, digest, issue_token, new_secret, require_app, revoke_token
from web.context import context_of
from web.pages import render
from web.responses import CORS_HEADERS, JSONResponse

OOB = "urn:ietf:wg:oauth:2.0:oob"
CODE_LIFETIME = timedelta(minutes=10)
SESSION_COOKIE = "rounds_session"
SESSION_MAX_AGE = 14 * 24 * 3600
CSRF_MAX_AGE = 2 * 3600
LOGIN_WINDOW = timedelta(minutes=5)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
MAX_NAME_LENGTH = 255
MAX_URI_LENGTH = 2000
# Schemes a browser would run or read locally rather than hand to an app.
FORBIDDEN_SCHEMES = frozenset({"javascript", "data", "vbscript", "file", "blob", "about"})
PKCE_VERIFIER_RE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
SCOPE_DESCRIPTIONS = {
    "read": "read everything in your account: posts, followers, notifications, lists",
    "write": "change everything in your account: post, follow, favourite, edit your profile",
    "follow": "follow, block and mute people, and see who you follow, block and mute",
    "push": "receive push notifications",
    "profile": "see your profile",
    "admin:read": "read moderation data (reports, accounts, domain blocks)",
    "admin:write": "take moderation actions",
}


# --- request parameters ---------------------------------------------------------------------

async def request_params(request: Request) -> dict[str, Any]:
    """Query string and body (form or JSON) together; the body wins. Clients use all three."""
    params: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if request.method in ("GET", "HEAD"):
        return params
    if content_type == "application/json" or content_type.endswith("+json"):
        body = await request.body()
        if body.strip():
            try:
                parsed = json.loads(body)
            except ValueError:
                raise HTTPException(400, "The request body is not valid JSON") from None
            if not isinstance(parsed, dict):
                raise HTTPException(400, "The request body must be a JSON object")
            params.update(parsed)
    elif content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        params.update(_form_values(await request.form()))
    return params


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for key in form.keys():
        items = [item for item in form.getlist(key) if isinstance(item, str)]
        if key.endswith("[]") or len(items) > 1:
            values[key.removesuffix("[]")] = items
        elif items:
            values[key] = items[0]
    return values


def _text(params: dict[str, Any], name: str) -> str:
    """A single text parameter; of a repeated one, the last."""
    value = params.get(name)
    if isinstance(value, list) and value:
        value = value[-1]
    return value.strip() if isinstance(value, str) else ""


def json_response(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(content, status_code=status_code, headers={**CORS_HEADERS, **(headers or {})})


def oauth_error(error: str, description: str, status_code: int = 400) -> JSONResponse:
    return json_response({"error": error, "error_description": description}, status_code, NO_STORE)


def validation_error(field: str, code: str, description: str, label: str) -> JSONResponse:
    """Mastodon's 422 shape: a sentence for people, and per-field codes for programs."""
    return json_response(
        {"error": f"Validation failed: {label} {description}",
         "details": {field: [{"error": code, "description": f"{label} {description}"}]}},
        422,
    )


# --- apps -----------------------------------------------------------------------------------

def redirect_uri_problem(uri: str) -> str | None:
    """Why `uri` cannot be a redirect URI, or None. Custom schemes (`app:/cb`) and OOB are fine."""
    if uri == OOB:
        return None
    if len(uri) > MAX_URI_LENGTH:
        return "is too long"
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if not scheme or not re.match(r"^[a-z][a-z0-9+.\-]*$", scheme):
        return "must be an absolute URI"
    if scheme in FORBIDDEN_SCHEMES:
        return f"must not use the {scheme}: scheme"
    if parts.fragment or "#" in uri:
        return "must not contain a fragment"
    if scheme in ("http", "https") and not parts.netloc:
        return "must name a host"
    if any(character.isspace() for character in uri):
        return "must not contain spaces"
    return None


def _redirect_uris(raw: Any) -> list[str]:
    if isinstance(raw, list):
        lines = [str(item) for item in raw]
    elif isinstance(raw, str):
        lines = raw.splitlines()
    else:
        lines = []
    return list(dict.fromkeys(line.strip() for line in lines if line.strip()))


def app_scopes(app: OAuthApp) -> tuple[str, ...]:
    return tuple(app.scopes.split())


def app_redirect_uris(app: OAuthApp) -> list[str]:
    return app.redirect_uris.splitlines()


def application_entity(app: OAuthApp) -> dict[str, Any]:
    uris = app_redirect_uris(app)
    return {"id": str(app.id), "name": app.name, "website": app.website,
            "scopes": list(app_scopes(app)), "redirect_uri": "\n".join(uris), "redirect_uris": uris,
            # Mastodon < 4.3 clients read `vapid_key`; there is no Web Push here, so it is empty.
            "vapid_key": ""}


async def create_app_row(session: AsyncSession, name: str, redirect_uris: list[str],
                         granted: tuple[str, ...], website: str | None = None) -> OAuthApp:
    app = OAuthApp(client_id=new_secret(), client_secret=new_secret(), name=name, website=website,
                   redirect_uris="\n".join(redirect_uris), scopes=scope_rules.joined(granted))
    session.add(app)
    await session.flush()
    return app


async def register_app(request: Request) -> Response:
    params = await request_params(request)
    name = _text(params, "client_name")
    if not name:
        return validation_error("name", "ERR_BLANK", "can't be blank", "Application name")
    if len(name) > MAX_NAME_LENGTH:
        return validation_error("name", "ERR_TOO_LONG", f"is too long (maximum is {MAX_NAME_LENGTH} characters)",
                                "Application name")
    uris = _redirect_uris(params.get("redirect_uris"))
    if not uris:
        return validation_error("redirect_uri", "ERR_BLANK", "can't be blank", "Redirect URI")
    for uri in uris:
        problem = redirect_uri_problem(uri)
        if problem:
            return validation_error("redirect_uri", "ERR_INVALID", problem, "Redirect URI")
    try:
        granted = scope_rules.parse(params.get("scopes"))
    except scope_rules.InvalidScope as error:
        return validation_error("scopes", "ERR_INVALID", f"include an unknown scope: {error.unknown}", "Scopes")
    website = _text(params, "website") or None
    if website is not None and (len(website) > MAX_URI_LENGTH
                                or urlsplit(website).scheme.lower() not in ("http", "https")):
        return validation_error("website", "ERR_INVALID", "must be an http or https URL", "Website")
    async with context_of(request).database.transaction() as session:
        app = await create_app_row(session, name, uris, granted, website)
    entity = application_entity(app)
    entity.update(client_id=app.client_id, client_secret=app.client_secret, client_secret_expires_at=0)
    return json_response(entity)


async def verify_app_credentials(request: Request) -> Response:
    token = await require_app(request)
    return json_response(application_entity(token.app))


# --- browser session and CSRF ---------------------------------------------------------------

@dataclass(frozen=True)
class BrowserSession:
    """A browser we have seen: a random id (binds CSRF tokens) and who signed in, if anyone."""

    browser_id: str
    user_id: int | None
    is_new: bool


def _signers(request: Request) -> tuple[Signer, Signer]:
    secret = context_of(request).settings.secret_key
    return Signer(secret, "browser-session"), Signer(secret, "csrf")


def browser_session(request: Request) -> BrowserSession:
    value = _signers(request)[0].unsign(request.cookies.get(SESSION_COOKIE))
    if isinstance(value, dict) and isinstance(value.get("b"), str):
        user_id = value.get("u")
        return BrowserSession(value["b"], user_id if isinstance(user_id, int) else None, is_new=False)
    return BrowserSession(secrets.token_urlsafe(16), None, is_new=True)


def keep_session(request: Request, response: Response, session: BrowserSession) -> None:
    value = _signers(request)[0].sign({"b": session.browser_id, "u": session.user_id}, SESSION_MAX_AGE)
    response.set_cookie(SESSION_COOKIE, value, max_age=SESSION_MAX_AGE, httponly=True, samesite="lax",
                        secure=context_of(request).settings.https, path="/")


def csrf_token(request: Request, session: BrowserSession) -> str:
    return _signers(request)[1].sign(session.browser_id, CSRF_MAX_AGE)


def csrf_valid(request: Request, session: BrowserSession, token: str) -> bool:
    return not session.is_new and _signers(request)[1].unsign(token) == session.browser_id


def page(request: Request, session: BrowserSession, template: str, status_code: int = 200,
         **values: Any) -> Response:
    """A page with a fresh CSRF token; a new browser gets its session cookie with it."""
    response = render(request, template, status_code, csrf_token=csrf_token(request, session), **values)
    response.headers.update({**NO_STORE, "X-Frame-Options": "DENY",
                             "Content-Security-Policy": "frame-ancestors 'none'"})
    if session.is_new:
        keep_session(request, response, session)
    return response


# --- login throttling -----------------------------------------------------------------------

def client_address(request: Request) -> str:
    return (request.client.host if request.client else "unknown")[:64]


async def login_blocked(session: AsyncSession, account_key: str, address: str, now: datetime) -> bool:
    """Too many recent failures for this account or from this address."""
    since = now - LOGIN_WINDOW
    for column, value, limit in ((LoginAttempt.account_key, account_key, MAX_FAILURES_PER_ACCOUNT),
                                 (LoginAttempt.address, address, MAX_FAILURES_PER_ADDRESS)):
        count = (await session.exec(
            select(func.count()).select_from(LoginAttempt)
            .where(column == value, LoginAttempt.created_at > since)
        )).one()
        if count >= limit:
            return True
    return False


async def record_failed_login(session: AsyncSession, account_key: str, address: str, now: datetime) -> None:
    # Rows older than the window count for nothing; clearing them here keeps the table small.
    await session.execute(delete(LoginAttempt).where(LoginAttempt.created_at <= now - LOGIN_WINDOW))
    session.add(LoginAttempt(account_key=account_key, address=address, created_at=now))


# --- /oauth/authorize -----------------------------------------------------------------------

@dataclass(frozen=True)
class AuthorizationRequest:
    app: OAuthApp
    redirect_uri: str
    scopes: tuple[str, ...]
    state: str | None
    code_challenge: str | None
    code_challenge_method: str | None
    force_login: bool

    def carried(self) -> dict[str, str]:
        """The parameters the sign-in and consent forms post back."""
        values = {"client_id": self.app.client_id, "redirect_uri": self.redirect_uri, "response_type": "code",
                  "scope": scope_rules.joined(self.scopes)}
        if self.state is not None:
            values["state"] = self.state
        if self.code_challenge is not None:
            values["code_challenge"] = self.code_challenge
            values["code_challenge_method"] = self.code_challenge_method or ""
        return values

    def redirect(self, **values: str) -> Response:
        if self.state is not None:
            values["state"] = self.state
        separator = "&" if "?" in self.redirect_uri else "?"
        return RedirectResponse(f"{self.redirect_uri}{separator}{urlencode(values)}", status_code=302,
                                headers=NO_STORE)


@dataclass(frozen=True)
class UntrustedRedirect:
    """The client or its redirect URI is wrong: say so on the page, send the browser nowhere."""

    message: str


@dataclass(frozen=True)
class RefusedRequest:
    """The client and redirect URI check out but the request is bad: tell the client (RFC 6749 §4.1.2.1)."""

    request: AuthorizationRequest
    error: str
    description: str


async def check_authorization_request(
    session: AsyncSession, params: dict[str, Any]
) -> AuthorizationRequest | UntrustedRedirect | RefusedRequest:
    client_id = _text(params, "client_id")
    app = (await session.exec(select(OAuthApp).where(OAuthApp.client_id == client_id))).first() \
        if client_id else None
    if app is None:
        return UntrustedRedirect("This application is not registered here (unknown client_id).")
    registered = app_redirect_uris(app)
    redirect_uri = _text(params, "redirect_uri")
    if not redirect_uri and len(registered) == 1:
        redirect_uri = registered[0]
    if redirect_uri not in registered:
        return UntrustedRedirect(
            "The redirect URI does not match any URI registered by this application, "
            "so we will not send you there."
        )
    state = params.get("state") if isinstance(params.get("state"), str) else None
    request = AuthorizationRequest(app=app, redirect_uri=redirect_uri, scopes=(), state=state,
                                   code_challenge=None, code_challenge_method=None, force_login=False)
    if _text(params, "response_type") != "code":
        return RefusedRequest(request, "unsupported_response_type", "Only response_type=code is supported.")
    try:
        requested = scope_rules.parse(_text(params, "scope") or None)
    except scope_rules.InvalidScope as error:
        return RefusedRequest(request, "invalid_scope", str(error))
    if not scope_rules.covers(app_scopes(app), requested):
        return RefusedRequest(request, "invalid_scope",
                              "The requested scope is not among the scopes this application registered.")
    challenge = _text(params, "code_challenge") or None
    method = _text(params, "code_challenge_method") or None
    if challenge is not None and method != "S256":
        return RefusedRequest(request, "invalid_request", "code_challenge_method must be S256.")
    if challenge is None and method is not None:
        return RefusedRequest(request, "invalid_request", "code_challenge_method given without code_challenge.")
    if challenge is not None and not PKCE_VERIFIER_RE.match(challenge):
        return RefusedRequest(request, "invalid_request", "code_challenge is malformed.")
    force_login = _text(params, "force_login").lower() in ("1", "true", "yes", "on")
    return AuthorizationRequest(app=app, redirect_uri=redirect_uri, scopes=requested, state=state,
                                code_challenge=challenge, code_challenge_method=method, force_login=force_login)


def _scope_lines(granted: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(scope, SCOPE_DESCRIPTIONS.get(scope, "")) for scope in granted]


async def _signed_in_user(request: Request, session: BrowserSession) -> User | None:
    if session.user_id is None:
        return None
    async with context_of(request).database.session() as db:
        user = await db.get(User, session.user_id)
    return user if user is not None and account_problem(user) is None else None


async def authorize(request: Request) -> Response:
    ctx = context_of(request)
    params = await request_params(request)
    browser = browser_session(request)
    async with ctx.database.session() as db:
        checked = await check_authorization_request(db, params)
    if isinstance(checked, UntrustedRedirect):
        return page(request, browser, "oauth_error.html", 400, message=checked.message)
    if isinstance(checked, RefusedRequest):
        if checked.request.redirect_uri == OOB:
            return page(request, browser, "oauth_error.html", 400, message=checked.description)
        return checked.request.redirect(error=checked.error, error_description=checked.description)

    if request.method == "POST":
        if not csrf_valid(request, browser, _text(params, "csrf_token")):
            return page(request, browser, "oauth_error.html", 403,
                        message="This form has expired or did not come from this site. Go back and try again.")
        action = _text(params, "action")
        if action == "login":
            return await _sign_in(request, browser, checked, params)
        if action == "logout":
            signed_out = BrowserSession(browser.browser_id, None, is_new=False)
            response = _login_page(request, signed_out, checked)
            keep_session(request, response, signed_out)
            return response
        if action == "authorize":
            user = await _signed_in_user(request, browser)
            if user is None:
                return _login_page(request, browser, checked, "Please sign in again.", 401)
            return await _decide(request, browser, checked, user, _text(params, "decision"))
        return page(request, browser, "oauth_error.html", 400, message="Unknown form action.")

    user = None if checked.force_login else await _signed_in_user(request, browser)
    if user is None:
        return _login_page(request, browser, checked)
    return await _consent_page(request, browser, checked, user)


def _login_page(request: Request, browser: BrowserSession, checked: AuthorizationRequest,
                error: str | None = None, status_code: int = 200, login: str = "") -> Response:
    return page(request, browser, "oauth_login.html", status_code, app=checked.app, carried=checked.carried(),
                error=error, login=login, registrations=context_of(request).settings.registrations)


async def _consent_page(request: Request, browser: BrowserSession, checked: AuthorizationRequest,
                        user: User) -> Response:
    async with context_of(request).database.session() as db:
        actor = await db.get(Actor, user.actor_id)
    return page(request, browser, "oauth_consent.html", app=checked.app, carried=checked.carried(),
                scopes=_scope_lines(checked.scopes), actor=actor)


async def _sign_in(request: Request, browser: BrowserSession, checked: AuthorizationRequest,
                   params: dict[str, Any]) -> Response:
    ctx = context_of(request)
    login = _text(params, "username")
    password = params.get("password") if isinstance(params.get("password"), str) else ""
    if not login or not password:
        return _login_page(request, browser, checked, "Enter your username or email and your password.", 400,
                           login=login)
    account_key = login.lower()[:320]
    address = client_address(request)
    now = datetime.now(UTC)
    async with ctx.database.session() as db:
        blocked = await login_blocked(db, account_key, address, now)
    if blocked:
        minutes = int(LOGIN_WINDOW.total_seconds() // 60)
        return _login_page(request, browser, checked,
                           f"Too many failed sign-in attempts. Wait {minutes} minutes and try again.", 429,
                           login=login)
    async with ctx.database.session() as db:
        account = await authenticate(db, login, password)
    if account is None:
        async with ctx.database.transaction() as db:
            await record_failed_login(db, account_key, address, now)
        return _login_page(request, browser, checked, "Wrong username, email or password.", 401, login=login)
    if account.actor.suspended_at is not None:
        return _login_page(request, browser, checked, "This account is suspended.", 403, login=login)
    if account.user.disabled:
        return _login_page(request, browser, checked, "This account is disabled.", 403, login=login)
    if not account.user.approved:
        return _login_page(request, browser, checked,
                           "Your account is waiting for a moderator's approval. "
                           "You can sign in once it has been approved.", 403, login=login)
    signed_in = BrowserSession(browser.browser_id, account.user.id, is_new=False)
    # Back to the consent step, same origin, without force_login (it would ask again).
    response = RedirectResponse(f"/oauth/authorize?{urlencode(checked.carried())}", status_code=303, headers=NO_STORE)
    keep_session(request, response, signed_in)
    return response


async def _decide(request: Request, browser: BrowserSession, checked: AuthorizationRequest, user: User,
                  decision: str) -> Response:
    if decision != "approve":
        if checked.redirect_uri == OOB:
            return page(request, browser, "oauth_error.html", 200,
                        message=f"You did not allow {checked.app.name} to use your account.")
        return checked.redirect(error="access_denied", error_description="The person declined the request.")
    code = new_secret()
    now = datetime.now(UTC)
    async with context_of(request).database.transaction() as db:
        db.add(OAuthAuthorizationCode(
            code_hash=digest(code), app_id=checked.app.id, user_id=user.id, redirect_uri=checked.redirect_uri,
            scopes=scope_rules.joined(checked.scopes), code_challenge=checked.code_challenge,
            code_challenge_method=checked.code_challenge_method, created_at=now, expires_at=now + CODE_LIFETIME,
        ))
    if checked.redirect_uri == OOB:
        return page(request, browser, "oauth_code.html", app=checked.app, code=code)
    return checked.redirect(code=code)


# --- /oauth/token and /oauth/revoke ---------------------------------------------------------

def _client_credentials(request: Request, params: dict[str, Any]) -> tuple[str, str]:
    """client_secret_basic (RFC 6749 §2.3.1: form-urlencoded inside Basic) or client_secret_post."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return "", ""
        client_id, _, client_secret = decoded.partition(":")
        return unquote(client_id.replace("+", " ")), unquote(client_secret.replace("+", " "))
    return _text(params, "client_id"), _text(params, "client_secret")


async def _authenticated_app(session: AsyncSession, client_id: str, client_secret: str) -> OAuthApp | None:
    if not client_id or not client_secret:
        return None
    app = (await session.exec(select(OAuthApp).where(OAuthApp.client_id == client_id))).first()
    if app is None or not hmac.compare_digest(app.client_secret.encode(), client_secret.encode()):
        return None
    return app


def pkce_matches(verifier: str, challenge: str) -> bool:
    if not PKCE_VERIFIER_RE.match(verifier):
        return False
    computed = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()
    return hmac.compare_digest(computed, challenge)


def token_entity(plain: str, granted: str, created_at: datetime) -> dict[str, Any]:
    return {"access_token": plain, "token_type": "Bearer", "scope": granted,
            "created_at": int(created_at.timestamp())}


async def token(request: Request) -> Response:
    params = await request_params(request)
    grant_type = _text(params, "grant_type")
    client_id, client_secret = _client_credentials(request, params)
    async with context_of(request).database.transaction() as db:
        app = await _authenticated_app(db, client_id, client_secret)
        if app is None:
            return oauth_error("invalid_client", "Client authentication failed: unknown client or wrong secret.",
                               401)
        if grant_type == "authorization_code":
            return await _code_grant(db, app, params)
        if grant_type == "client_credentials":
            try:
                requested = scope_rules.parse(params.get("scope") or None)
            except scope_rules.InvalidScope as error:
                return oauth_error("invalid_scope", str(error))
            if not scope_rules.covers(app_scopes(app), requested):
                return oauth_error("invalid_scope", "The requested scope is not among the application's scopes.")
            plain, row = await issue_token(db, app, None, requested)
            return json_response(token_entity(plain, row.scopes, row.created_at), headers=NO_STORE)
        if not grant_type:
            return oauth_error("invalid_request", "grant_type is missing.")
        return oauth_error("unsupported_grant_type",
                           f"grant_type {grant_type!r} is not supported (use authorization_code or "
                           "client_credentials).")


async def _code_grant(db: AsyncSession, app: OAuthApp, params: dict[str, Any]) -> Response:
    code = _text(params, "code")
    found = (await db.exec(
        select(OAuthAuthorizationCode).where(OAuthAuthorizationCode.code_hash == digest(code))
    )).first() if code else None
    now = datetime.now(UTC)
    if found is None or found.app_id != app.id:
        return oauth_error("invalid_grant", "The authorization code is invalid.")
    if found.used_at is not None:
        return oauth_error("invalid_grant", "The authorization code has already been used.")
    if found.expires_at <= now:
        return oauth_error("invalid_grant", "The authorization code has expired.")
    if _text(params, "redirect_uri") != found.redirect_uri:
        return oauth_error("invalid_grant", "redirect_uri does not match the one used to get the code.")
    if found.code_challenge is not None:
        if not pkce_matches(_text(params, "code_verifier"), found.code_challenge):
            return oauth_error("invalid_grant", "The PKCE code_verifier does not match the code_challenge.")
    # Spend the code atomically: of two racing requests only one sees its row change.
    spent = await db.execute(
        update(OAuthAuthorizationCode)
        .where(OAuthAuthorizationCode.id == found.id,
               OAuthAuthorizationCode.used_at.is_(None))  # type: ignore[union-attr]
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        return oauth_error("invalid_grant", "The authorization code has already been used.")
    user = await db.get(User, found.user_id)
    if user is None or account_problem(user) is not None:
        return oauth_error("invalid_grant", account_problem(user) if user else "The account no longer exists.")
    plain, row = await issue_token(db, app, user.id, tuple(found.scopes.split()))
    return json_response(token_entity(plain, row.scopes, row.created_at), headers=NO_STORE)


async def revoke(request: Request) -> Response:
    params = await request_params(request)
    client_id, client_secret = _client_credentials(request, params)
    async with context_of(request).database.transaction() as db:
        app = await _authenticated_app(db, client_id, client_secret)
        if app is None:
            return oauth_error("invalid_client", "Client authentication failed: unknown client or wrong secret.",
                               401)
        plain = _text(params, "token")
        if plain:
            await revoke_token(db, plain, app_id=app.id)
    # RFC 7009 §2.2: unknown or already revoked tokens are answered the same way.
    return json_response({})


# --- discovery ------------------------------------------------------------------------------

async def authorization_server_metadata(request: Request) -> Response:
    base = context_of(request).urls.base_url
    return json_response({
        "issuer": f"{base}/",
        "authorization_endpoint": f"{base}/oauth/authorize",
        "token_endpoint": f"{base}/oauth/token",
        "revocation_endpoint": f"{base}/oauth/revoke",
        "app_registration_endpoint": f"{base}/api/v1/apps",
        "scopes_supported": list(scope_rules.ALL_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    })


routes = [
    Route("/api/v1/apps", register_app, methods=["POST"]),
    Route("/api/v1/apps/verify_credentials", verify_app_credentials, methods=["GET"]),
    Route("/oauth/authorize", authorize, methods=["GET", "POST"]),
    Route("/oauth/authorize/", authorize, methods=["GET", "POST"]),
    Route("/oauth/token", token, methods=["POST"]),
    Route("/oauth/revoke", revoke, methods=["POST"]),
    Route("/.well-known/oauth-authorization-server", authorization_server_metadata, methods=["GET"]),
]
