"""Apply the Alembic migrations in `storage/migrations` (what `rounds init` runs).

`rounds serve` only checks the schema is current, and does so without importing Alembic
(about 11 MB of a serving process's memory): `HEAD` names the newest revision, and
`tests/storage/test_migrations.py` fails when a new migration does not update it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from storage.engine import Database

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
HEAD = "0015"


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def _upgrade(connection: Connection) -> None:
    from alembic import command

    config = alembic_config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _current(connection: Connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


async def upgrade(database: Database) -> None:
    """Bring the schema to the newest revision; does nothing when it is already there."""
    async with database.engine.begin() as connection:
        await connection.run_sync(_upgrade)


async def current_revision(database: Database) -> str | None:
    async with database.engine.connect() as connection:
        return await connection.run_sync(_current)


def head_revision() -> str:
    return HEAD


def scripts_head() -> str | None:
    """The newest revision as Alembic reads it from the scripts (what `HEAD` must equal)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()
