from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from storage.engine import Database
from storage.migrate import current_revision, head_revision, upgrade


async def test_migrations_build_exactly_the_declared_tables(database: Database):
    def differences(connection):
        return compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_upgrading_twice_changes_nothing(database: Database):
    await upgrade(database)
    await upgrade(database)
    assert await current_revision(database) == head_revision()
