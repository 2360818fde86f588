from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

from storage.engine import Database
from storage.migrate import HEAD, current_revision, head_revision, scripts_head, upgrade


async def test_migrations_build_exactly_the_declared_tables(database: Database):
    def differences(connection):
        return compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)

    async with database.engine.connect() as connection:
        assert await connection.run_sync(differences) == []


async def test_upgrading_twice_changes_nothing(database: Database):
    await upgrade(database)
    await upgrade(database)
    assert await current_revision(database) == head_revision()


def test_head_names_the_newest_migration_script():
    assert scripts_head() == HEAD, f"a new migration was added: set storage.migrate.HEAD to {scripts_head()!r}"


async def test_a_database_never_initialised_has_no_revision(new_database_url):
    database = Database(new_database_url(empty=True))
    try:
        assert await current_revision(database) is None
    finally:
        await database.dispose()
