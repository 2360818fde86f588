"""The `rounds` command line. Errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import pkgutil
import secrets
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from types import ModuleType
from typing import Any

import uvicorn
from sqlalchemy.exc import DBAPIError
from sqlmodel import select

import web.commands
from actors.accounts import (
    ROLES,
    approve_account,
    check_email,
    check_username,
    create_local_account,
    ensure_instance_actor,
    find_local_account,
    list_local_accounts,
)
from actors.errors import AccountError
from moderation.network import NetworkFileError
from storage.availability import DatabaseUnavailable
from storage.migrate import upgrade
from storage.tables import OAuthApp
from web import scopes as scope_rules
from web.app import create_app
from web.auth import account_problem, issue_token
from web.commands import CommandError, require_migrated
from web.context import AppContext
from web.oauth import OOB, create_app_row
from web.services import build_federation
from web.settings import SETTINGS, Settings, SettingsError

EXIT_USAGE = 2


async def _with_context(
    settings: Settings,
    handler: Callable[[AppContext, argparse.Namespace], Coroutine[Any, Any, int]],
    args: argparse.Namespace,
) -> int:
    ctx = AppContext.build(settings)
    try:
        return await handler(ctx, args)
    finally:
        await ctx.database.dispose()


def _generated_password() -> str:
    return secrets.token_urlsafe(15)


# --- init ---------------------------------------------------------------------------------

async def _init(ctx: AppContext, args: argparse.Namespace) -> int:
    await upgrade(ctx.database)
    async with ctx.database.transaction() as session:
        await ensure_instance_actor(session, ctx.keyring, ctx.urls)
    print(f"database ready: {ctx.settings.database_url}")
    if args.admin:
        await _ensure_admin(ctx, args.admin, args.admin_email)
    return 0


async def _ensure_admin(ctx: AppContext, username: str, email: str | None) -> None:
    async with ctx.database.session() as session:
        existing = await find_local_account(session, username)
    if existing is not None:
        print(f"admin @{existing.actor.username} already exists (password unchanged)")
        return
    password = _generated_password()
    async with ctx.database.transaction() as session:
        await create_local_account(
            session, ctx.keyring, ctx.urls, username=username,
            email=email or f"{username}@{ctx.urls.domain.split(':')[0]}",
            password=password, role="admin",
        )
    print(f"created admin @{username}@{ctx.urls.domain}")
    print(f"  login:    {username}")
    print(f"  password: {password}")
    print("  (shown once: keep it somewhere safe)")


# --- serve / worker ---------------------------------------------------------------------

async def _check_ready(ctx: AppContext, _args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    return 0


SHUTDOWN_GRACE_SECONDS = 5


class _StreamEndingServer(uvicorn.Server):
    """Streams never end by themselves, and uvicorn waits for open responses before it stops:
    on shutdown the streams are ended first (other requests get SHUTDOWN_GRACE_SECONDS)."""

    async def shutdown(self, sockets: Any = None) -> None:
        self.config.app.state.ctx.database.events.end_all()
        await super().shutdown(sockets)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    asyncio.run(_with_context(settings, _check_ready, args))
    port = args.port
    if port is None:
        port = int(settings.domain.rsplit(":", 1)[1]) if ":" in settings.domain else 8000
    app = create_app(settings, run_workers=not args.no_workers)
    config = uvicorn.Config(app, host=args.host, port=port, log_level=settings.log_level, proxy_headers=True,
                            server_header=False, timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)
    _StreamEndingServer(config).run()
    return 0


async def _worker(ctx: AppContext, _args: argparse.Namespace) -> int:
    """Inbox processing and delivery without the web server; stops on SIGINT/SIGTERM."""
    await require_migrated(ctx)
    federation = await build_federation(ctx)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    print(f"rounds worker: processing inbox and deliveries for {ctx.urls.domain}", flush=True)
    federation.start_workers()
    try:
        await stop.wait()
    finally:
        await federation.stop_workers()
        await federation.client.aclose()
    return 0


# --- accounts -----------------------------------------------------------------------------

async def _accounts_create(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        generated = False
    else:
        password = _generated_password()
        generated = True
    async with ctx.database.transaction() as session:
        account = await create_local_account(
            session, ctx.keyring, ctx.urls, username=args.username, email=args.email,
            password=password, role=args.role,
        )
    print(f"created @{account.actor.username}@{ctx.urls.domain} ({args.role})")
    if generated:
        print(f"password: {password}")
    return 0


async def _accounts_list(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with ctx.database.session() as session:
        accounts = await list_local_accounts(session)
    print(f"{'username':<30} {'role':<10} {'email':<40} status")
    for account in accounts:
        status = "disabled" if account.user.disabled else (
            "approved" if account.user.approved else "awaiting approval")
        print(f"{account.actor.username:<30} {account.user.role:<10} "
              f"{account.user.email:<40} {status}")
    return 0


CLI_APP_NAME = "Rounds CLI"
CLI_APP_SCOPES = ("read", "write", "follow", "push", "profile", "admin:read", "admin:write")


async def _accounts_token(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with ctx.database.transaction() as session:
        account = await find_local_account(session, args.username)
        if account is None:
            raise CommandError(f"no local account named {args.username!r}")
        problem = account_problem(account.user)
        if problem is not None:
            raise CommandError(f"@{account.actor.username} cannot sign in: {problem.lower()}")
        app = (await session.exec(select(OAuthApp).where(OAuthApp.name == CLI_APP_NAME)
                                  .order_by(OAuthApp.id))).first()
        if app is None:
            app = await create_app_row(session, CLI_APP_NAME, [OOB], CLI_APP_SCOPES)
        plain, _row = await issue_token(session, app, account.user.id, args.scopes)
    print(plain)
    return 0


async def _accounts_approve(ctx: AppContext, args: argparse.Namespace) -> int:
    await require_migrated(ctx)
    async with ctx.database.transaction() as session:
        account = await approve_account(session, args.username)
    if account is None:
        raise CommandError(f"no local account named {args.username!r}")
    print(f"approved @{account.actor.username}@{ctx.urls.domain}")
    return 0


def _settings_list(_settings: Settings | None, _args: argparse.Namespace) -> int:
    for setting in SETTINGS:
        print(f"{setting.env}  (default: {setting.documented_default()})\n    {setting.help}")
    return 0


# --- the parser ---------------------------------------------------------------------------

def _username(value: str) -> str:
    try:
        return check_username(value)
    except AccountError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _email(value: str) -> str:
    try:
        return check_email(value)
    except AccountError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _scopes(value: str) -> tuple[str, ...]:
    try:
        requested = scope_rules.parse(value)
    except scope_rules.InvalidScope as error:
        raise argparse.ArgumentTypeError(f"unknown scope {error.unknown!r}") from None
    if not scope_rules.covers(CLI_APP_SCOPES, requested):
        raise argparse.ArgumentTypeError(f"scopes must be within: {' '.join(CLI_APP_SCOPES)}")
    return requested


def _command_groups() -> list[ModuleType]:
    """The command groups with a module of their own under web/commands (domains, reports, …)."""
    return [importlib.import_module(f"web.commands.{module.name}")
            for module in sorted(pkgutil.iter_modules(web.commands.__path__), key=lambda found: found.name)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rounds",
        description="Rounds: a federated ActivityPub server for a network of hospitals. "
        "Configured by ROUNDS_* environment variables (see `rounds settings`).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    init = commands.add_parser("init", help="create or migrate the database and the instance keys")
    init.add_argument("--admin", type=_username, metavar="USERNAME",
                      help="also create this admin account if it does not exist; prints its password")
    init.add_argument("--admin-email", type=_email, metavar="EMAIL")
    init.set_defaults(handler=_init, needs_context=True)

    serve = commands.add_parser("serve", help="run the web server (and, by default, the workers)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int,
                       help="default: the port in ROUNDS_DOMAIN, or 8000")
    serve.add_argument("--no-workers", action="store_true",
                       help="web only; run `rounds worker` processes separately")
    serve.set_defaults(handler=_serve, needs_context=False)

    worker = commands.add_parser("worker", help="process inboxes and send deliveries (no web server)")
    worker.set_defaults(handler=_worker, needs_context=True)

    accounts = commands.add_parser("accounts", help="manage local accounts")
    account_commands = accounts.add_subparsers(dest="accounts_command", required=True,
                                               metavar="ACTION")
    create = account_commands.add_parser("create", help="create a local account")
    create.add_argument("username", type=_username)
    create.add_argument("--email", required=True, type=_email)
    create.add_argument("--role", choices=ROLES, default="member")
    create.add_argument("--password-stdin", action="store_true",
                        help="read the password from the first line of standard input "
                        "(otherwise one is generated and printed)")
    create.set_defaults(handler=_accounts_create, needs_context=True)
    listing = account_commands.add_parser("list", help="list local accounts")
    listing.set_defaults(handler=_accounts_list, needs_context=True)
    token = account_commands.add_parser(
        "token", help="print a new access token for an account (for scripts and automation)")
    token.add_argument("username")
    token.add_argument("--scopes", type=_scopes, default=("read", "write", "follow"),
                       help='space-separated OAuth scopes (default: "read write follow")')
    token.set_defaults(handler=_accounts_token, needs_context=True)
    approve = account_commands.add_parser("approve", help="approve an account that signed up in approval mode")
    approve.add_argument("username")
    approve.set_defaults(handler=_accounts_approve, needs_context=True)

    for group in _command_groups():
        group.register(commands)

    settings = commands.add_parser("settings", help="list every ROUNDS_* setting")
    settings.set_defaults(handler=_settings_list, needs_context=False, needs_settings=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler: Callable[..., Any] = args.handler
    try:
        if not getattr(args, "needs_settings", True):
            return handler(None, args)
        settings = Settings.from_env()
        if args.needs_context:
            return asyncio.run(_with_context(settings, handler, args))
        return handler(settings, args)
    except (SettingsError, NetworkFileError, AccountError, CommandError) as error:
        print(f"rounds: error: {error}", file=sys.stderr)
        return EXIT_USAGE if isinstance(error, SettingsError) else 1
    except (DBAPIError, DatabaseUnavailable, OSError) as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        print(f"rounds: error: database unavailable: {reason}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
