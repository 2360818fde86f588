"""Alembic environment: runs on the connection `storage.migrate` hands over."""

from alembic import context
from sqlmodel import SQLModel

from storage.tables import Actor  # noqa: F401  (registers the tables on the metadata)

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations with `rounds init`, which passes the database connection")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
