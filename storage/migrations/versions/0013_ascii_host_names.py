"""ascii host names

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 03:40:00

Hosts are now kept in the ASCII (IDNA) form a connection uses, so that a Unicode spelling and
its ASCII form are one host to origin checks and domain blocks alike. Rows written before in a
Unicode form are rewritten; a name IDNA cannot encode is left as it was.
"""
from alembic import op
import idna
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

COLUMNS = (("actors", "domain"), ("domain_blocks", "domain"), ("domain_allows", "domain"))


def _ascii(value: str) -> str | None:
    host, _, port = value.partition(":")
    try:
        encoded = idna.encode(host.rstrip("."), uts46=True).decode("ascii").lower()
    except (idna.IDNAError, UnicodeError):
        return None
    return f"{encoded}:{port}" if port else encoded


def upgrade() -> None:
    connection = op.get_bind()
    for table, column in COLUMNS:
        rows = connection.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} IS NOT NULL")).all()
        for row_id, value in rows:
            if value.isascii():
                continue
            converted = _ascii(value)
            if converted is not None:
                connection.execute(sa.text(f"UPDATE {table} SET {column} = :value WHERE id = :id"),
                                   {"value": converted, "id": row_id})


def downgrade() -> None:
    pass  # the ASCII form names the same hosts
