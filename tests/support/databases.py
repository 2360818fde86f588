"""Real databases for tests: a fresh, migrated SQLite file or PostgreSQL database per use.

Migrations run once per test session into a template; each test gets a copy (a file copy
on SQLite, `CREATE DATABASE … TEMPLATE` on PostgreSQL), so every test starts from the
schema `rounds init` makes, and tests never see each other's rows.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import os
import shutil
from pathlib import Path

import asyncpg

from storage.engine import Database
from storage.migrate import upgrade


def run_sync(coroutine) -> object:
    """Run a coroutine to completion from sync code, even inside a running event loop."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


POSTGRES_URL = os.environ.get("ROUNDS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
ENABLE_HINT = (
    "PostgreSQL tests need a server at {url} (user with CREATE DATABASE rights); start one or set "
    "ROUNDS_TEST_POSTGRES_URL. `.ci/run` requires them."
)


async def _migrate(url: str) -> None:
    database = Database(url)
    try:
        await upgrade(database)
        if database.is_sqlite:
            async with database.engine.connect() as connection:
                await connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        await database.dispose()


class SQLiteDatabases:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.template = directory / "template.db"
        self._numbers = itertools.count()
        run_sync(_migrate(f"sqlite:///{self.template}"))

    def new(self, directory: Path, *, empty: bool = False) -> str:
        path = directory / f"rounds-{next(self._numbers)}.db"
        if not empty:
            shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def close(self) -> None:
        pass


class PostgresDatabases:
    def __init__(self, admin_url: str = POSTGRES_URL) -> None:
        self.admin_url = admin_url
        self.prefix = f"rounds_test_{os.getpid()}"
        self.template = f"{self.prefix}_template"
        self._numbers = itertools.count()
        self._created: list[str] = []
        run_sync(self._execute(
            f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)',
            f'CREATE DATABASE "{self.template}"',
        ))
        run_sync(_migrate(self._url(self.template)))

    @staticmethod
    async def reachable(admin_url: str = POSTGRES_URL) -> str | None:
        """None when the server answers; otherwise why not."""
        try:
            connection = await asyncpg.connect(admin_url, timeout=5)
        except (TimeoutError, OSError, asyncpg.PostgresError) as error:
            return f"{type(error).__name__}: {error}"
        await connection.close()
        return None

    def _url(self, name: str) -> str:
        base, _, _ = self.admin_url.rpartition("/")
        return f"{base}/{name}"

    async def _execute(self, *statements: str) -> None:
        connection = await asyncpg.connect(self.admin_url)
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    def new(self, _directory: Path | None = None, *, empty: bool = False) -> str:
        name = f"{self.prefix}_{next(self._numbers)}"
        template = "" if empty else f' TEMPLATE "{self.template}"'
        run_sync(self._execute(f'CREATE DATABASE "{name}"{template}'))
        self._created.append(name)
        return self._url(name)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        run_sync(self._execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    def close(self) -> None:
        run_sync(self._execute(
            *(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)' for name in self._created),
            f'DROP DATABASE IF EXISTS "{self.template}" WITH (FORCE)',
        ))
