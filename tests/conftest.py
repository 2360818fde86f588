"""Fixtures shared by the whole suite.

Tests that touch the database take `database_url` and run twice: on SQLite and on
PostgreSQL. PostgreSQL is skipped, with the reason, when no server answers, except under
CI (`CI=true`), where a missing PostgreSQL fails the run.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from actors.accounts import LocalAccount, create_local_account, ensure_instance_actor
from storage.engine import Database
from storage.tables import Actor
from tests.support.databases import ENABLE_HINT, POSTGRES_URL, PostgresDatabases, SQLiteDatabases
from web.app import create_app
from web.context import AppContext
from web.settings import Settings

TEST_SECRET = "test-secret-" + "x" * 40
ENGINES = [e for e in os.environ.get("ROUNDS_TEST_ENGINES", "sqlite,postgresql").split(",") if e]


@pytest.fixture(scope="session")
def sqlite_databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteDatabases]:
    databases = SQLiteDatabases(tmp_path_factory.mktemp("sqlite-template"))
    yield databases
    databases.close()


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases]:
    problem = asyncio.run(PostgresDatabases.reachable())
    if problem is not None:
        message = ENABLE_HINT.format(url=POSTGRES_URL) + f" ({problem})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    databases = PostgresDatabases()
    yield databases
    databases.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`ROUNDS_TEST_ENGINE_BOUND_ONLY=true` keeps only the tests run once per engine: `./dev test`
    runs PostgreSQL's beside SQLite's, and the tests that need no database only with SQLite."""
    if os.environ.get("ROUNDS_TEST_ENGINE_BOUND_ONLY") != "true":
        return
    bound, free = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        (bound if callspec is not None and "engine_name" in callspec.params else free).append(item)
    if free:
        config.hook.pytest_deselected(items=free)
        items[:] = bound


@pytest.fixture(params=ENGINES)
def engine_name(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def new_database_url(
    engine_name: str, request: pytest.FixtureRequest, tmp_path: Path
) -> Callable[..., str]:
    """Makes fresh databases on this test's engine (several for several instances).

    Migrated like `rounds init` leaves them, or `empty=True` for a database never initialised.
    """
    if engine_name == "sqlite":
        sqlite: SQLiteDatabases = request.getfixturevalue("sqlite_databases")
        return lambda empty=False: sqlite.new(tmp_path, empty=empty)
    postgres: PostgresDatabases = request.getfixturevalue("postgres_databases")
    return lambda empty=False: postgres.new(empty=empty)


@pytest.fixture
def database_url(new_database_url: Callable[[], str]) -> str:
    return new_database_url()


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "domain": "mayo.test", "database_url": database_url, "secret_key": TEST_SECRET,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = Database(settings.database_url)
    yield db
    await db.dispose()


@pytest.fixture
def ctx(settings: Settings, database: Database) -> AppContext:
    return AppContext.build(settings, database)


@pytest.fixture
async def app(request: pytest.FixtureRequest, settings: Settings, database: Database) -> AsyncIterator[Starlette]:
    """The instance, started. In a module marked `pytest.mark.without_workers` it runs no inbox
    or delivery worker, so what an action queues stays to be read (and tests call `run_once`)."""
    workers = request.node.get_closest_marker("without_workers") is None
    application = create_app(settings, database=database, run_workers=workers)
    ctx: AppContext = application.state.ctx
    async with ctx.database.transaction() as session:
        await ensure_instance_actor(session, ctx.keyring, ctx.urls)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Starlette, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=settings.base_url
    ) as http:
        yield http


async def add_account(ctx: AppContext, username: str, role: str = "member", **fields: object) -> LocalAccount:
    async with ctx.database.transaction() as session:
        account = await create_local_account(
            session, ctx.keyring, ctx.urls, username=username, email=f"{username}@example.org",
            password="correct horse battery", role=role,
        )
        for name, value in fields.items():
            setattr(account.actor, name, value)
        session.add(account.actor)
    return account


async def add_remote_actor(ctx: AppContext, username: str, domain: str = "inova.test") -> Actor:
    """A remote actor as the actor cache would hold it after a fetch."""
    uri = f"https://{domain}/users/{username}"
    actor = Actor(
        uri=uri, username=username, username_key=username.lower(), domain=domain,
        inbox_uri=f"{uri}/inbox", shared_inbox_uri=f"https://{domain}/inbox",
        followers_uri=f"{uri}/followers", key_id=f"{uri}#main-key",
    )
    async with ctx.database.transaction() as session:
        session.add(actor)
    return actor
