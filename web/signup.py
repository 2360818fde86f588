"""Sign-up: `POST /api/v1/accounts` for apps and the `/auth/sign_up` page for browsers.

Both honour the instance's registration mode: `open` accounts are usable at once,
`approval` accounts wait for `rounds accounts approve` (and say so when signing in),
`closed` refuses. Invalid input is answered like Mastodon, with nothing written:
422 `{"error": "Validation failed: …", "details": {field: [{"error": "ERR_…", "description": …}]}}`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from actors.accounts import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    RESERVED_USERNAMES,
    USERNAME_RE,
    LocalAccount,
    check_email,
    create_local_account,
    find_local_actor,
)
from actors.errors import AccountError, InvalidEmail
from storage.tables import User
from web.auth import issue_token, require_app
from web.context import context_of
from web.oauth import (
    BrowserSession,
    browser_session,
    csrf_valid,
    json_response,
    keep_session,
    page,
    request_params,
    token_entity,
)

LOCALE_RE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$")
MAX_REASON_LENGTH = 1000
LABELS = {"username": "Username", "email": "Email", "password": "Password", "agreement": "Agreement",
          "locale": "Locale", "reason": "Reason"}
TRUE_WORDS = ("1", "true", "t", "on", "yes")
CLOSED_MESSAGE = "Sign-ups are closed on this instance."


@dataclass(frozen=True)
class SignUp:
    username: str
    email: str
    password: str
    locale: str
    reason: str


Problems = dict[str, list[tuple[str, str]]]


def _truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in TRUE_WORDS)


def _string(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    return value if isinstance(value, str) else ""


def read_sign_up(params: dict[str, Any]) -> tuple[SignUp, Problems]:
    """The form as given, and what is wrong with it that can be told without the database."""
    sign_up = SignUp(
        username=_string(params, "username").strip(),
        email=_string(params, "email").strip(),
        password=_string(params, "password"),
        locale=_string(params, "locale").strip() or "en",
        reason=_string(params, "reason").strip(),
    )
    problems: Problems = {}

    def problem(field: str, code: str, description: str) -> None:
        problems.setdefault(field, []).append((code, description))

    if not sign_up.username:
        problem("username", "ERR_BLANK", "can't be blank")
    elif sign_up.username.lower() in RESERVED_USERNAMES:
        problem("username", "ERR_RESERVED", "is reserved")
    elif not USERNAME_RE.match(sign_up.username):
        problem("username", "ERR_INVALID", "must be 1 to 30 letters, digits or underscores")
    if not sign_up.email:
        problem("email", "ERR_BLANK", "can't be blank")
    else:
        try:
            check_email(sign_up.email)
        except InvalidEmail:
            problem("email", "ERR_INVALID", "is invalid")
    if not sign_up.password:
        problem("password", "ERR_BLANK", "can't be blank")
    elif len(sign_up.password) < MIN_PASSWORD_LENGTH:
        problem("password", "ERR_TOO_SHORT", f"is too short (minimum is {MIN_PASSWORD_LENGTH} characters)")
    elif len(sign_up.password) > MAX_PASSWORD_LENGTH:
        problem("password", "ERR_TOO_LONG", f"is too long (maximum is {MAX_PASSWORD_LENGTH} characters)")
    if "password_confirmation" in params and params.get("password_confirmation") != sign_up.password:
        problem("password", "ERR_INVALID", "does not match the confirmation")
    if not _truthy(params.get("agreement")):
        problem("agreement", "ERR_ACCEPTED", "must be accepted")
    if len(sign_up.locale) > 16 or not LOCALE_RE.match(sign_up.locale):
        problem("locale", "ERR_INCLUSION", "is not a known language code")
    if len(sign_up.reason) > MAX_REASON_LENGTH:
        problem("reason", "ERR_TOO_LONG", f"is too long (maximum is {MAX_REASON_LENGTH} characters)")
    return sign_up, problems


async def check_available(session: AsyncSession, sign_up: SignUp, problems: Problems) -> None:
    if "username" not in problems and await find_local_actor(session, sign_up.username) is not None:
        problems.setdefault("username", []).append(("ERR_TAKEN", "has already been taken"))
    if "email" not in problems:
        taken = await session.exec(select(User.id).where(func.lower(User.email) == sign_up.email.lower()))
        if taken.first() is not None:
            problems.setdefault("email", []).append(("ERR_TAKEN", "has already been taken"))


async def register(session: AsyncSession, request: Request, sign_up: SignUp) -> LocalAccount:
    ctx = context_of(request)
    account = await create_local_account(
        session, ctx.keyring, ctx.urls, username=sign_up.username, email=sign_up.email,
        password=sign_up.password, approved=ctx.settings.registrations == "open",
        signup_reason=sign_up.reason,
    )
    account.user.locale = sign_up.locale
    session.add(account.user)
    return account


def problems_response(problems: Problems) -> Response:
    sentences = [f"{LABELS[field]} {description}" for field, items in problems.items() for _, description in items]
    details = {field: [{"error": code, "description": f"{LABELS[field]} {description}"} for code, description in items]
               for field, items in problems.items()}
    return json_response({"error": "Validation failed: " + ", ".join(sentences), "details": details}, 422)


def _problem_from_error(error: AccountError) -> Problems:
    """A check that passed before the insert failed at it (a race with another sign-up)."""
    field = error.field if error.field in LABELS else "username"
    return {field: [("ERR_TAKEN", "has already been taken")]}


async def api_sign_up(request: Request) -> Response:
    app_token = await require_app(request, "write:accounts")
    ctx = context_of(request)
    if ctx.settings.registrations == "closed":
        return json_response({"error": CLOSED_MESSAGE}, 403)
    sign_up, problems = read_sign_up(await request_params(request))
    async with ctx.database.session() as session:
        await check_available(session, sign_up, problems)
    if problems:
        return problems_response(problems)
    try:
        async with ctx.database.transaction() as session:
            account = await register(session, request, sign_up)
            # Like Mastodon: a token for the new account, with the scopes of the app's token.
            # While the account awaits approval the token is refused with a message that says so.
            plain, row = await issue_token(session, app_token.app, account.user.id, tuple(sorted(app_token.scopes)))
    except AccountError as error:
        return problems_response(_problem_from_error(error))
    return json_response(token_entity(plain, row.scopes, row.created_at))


# The languages the sign-up page offers for the account (the API takes any language code).
PAGE_LANGUAGES = (("en", "English"), ("es", "Español"), ("nl", "Nederlands"), ("fr", "Français"),
                  ("de", "Deutsch"), ("pt", "Português"))


def preferred_language(accept_language: str) -> str:
    """The first of the browser's `Accept-Language` choices the page offers; English otherwise."""
    offered = {code for code, _ in PAGE_LANGUAGES}
    choices = []
    for position, part in enumerate(accept_language.split(",")[:20]):
        tag, _, parameters = part.strip().partition(";")
        weight = 1.0
        if parameters.strip().startswith("q="):
            try:
                weight = float(parameters.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().split("-")[0].lower()
        if primary in offered and weight > 0:
            choices.append((-weight, position, primary))
    return min(choices)[2] if choices else "en"


async def sign_up_page(request: Request) -> Response:
    ctx = context_of(request)
    browser = browser_session(request)
    mode = ctx.settings.registrations
    shown = {"mode": mode, "languages": PAGE_LANGUAGES}
    if mode == "closed":
        return page(request, browser, "sign_up.html", 403 if request.method == "POST" else 200,
                    closed_message=CLOSED_MESSAGE, values={}, problems={}, **shown)
    if request.method == "GET":
        values = {"locale": preferred_language(request.headers.get("accept-language", ""))}
        return page(request, browser, "sign_up.html", values=values, problems={}, **shown)
    params = await request_params(request)
    if not csrf_valid(request, browser, _string(params, "csrf_token")):
        return page(request, browser, "oauth_error.html", 403,
                    message="This form has expired or did not come from this site. Go back and try again.")
    sign_up, problems = read_sign_up(params)
    async with ctx.database.session() as session:
        await check_available(session, sign_up, problems)
    if not problems:
        try:
            async with ctx.database.transaction() as session:
                account = await register(session, request, sign_up)
        except AccountError as error:
            problems = _problem_from_error(error)
    values = {"username": sign_up.username, "email": sign_up.email, "reason": sign_up.reason,
              "locale": sign_up.locale}
    if problems:
        messages = {field: [f"{LABELS[field]} {description}" for _, description in items]
                    for field, items in problems.items()}
        return page(request, browser, "sign_up.html", 422, values=values, problems=messages, **shown)
    signed_in = BrowserSession(browser.browser_id, account.user.id if account.user.approved else None,
                               is_new=False)
    response = page(request, signed_in, "sign_up_done.html", 201, account=account.actor,
                    approved=account.user.approved)
    keep_session(request, response, signed_in)
    return response


routes = [
    Route("/api/v1/accounts", api_sign_up, methods=["POST"]),
    Route("/auth/sign_up", sign_up_page, methods=["GET", "POST"]),
]
