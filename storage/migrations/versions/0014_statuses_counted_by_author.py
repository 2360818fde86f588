"""statuses counted by author

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 06:50:00

Every rendered account carries its statuses count and the time of its last status, counted
for a page's authors at once over their live statuses. With only (actor_id, id) to go by,
that read each of the authors' statuses from the table: at a million statuses it was the
costliest statement of a home-timeline page (`python -m bench --only timeline`). A partial
index on (actor_id, created_at, visibility) of the live statuses answers the count and the
maximum from the index alone (visibility: direct posts are not counted).
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

ALIVE = 'deleted_at IS NULL'


def upgrade() -> None:
    with op.batch_alter_table('statuses', schema=None) as batch_op:
        batch_op.create_index('ix_statuses_actor_id_created_at', ['actor_id', 'created_at', 'visibility'], unique=False,
                              sqlite_where=sa.text(ALIVE), postgresql_where=sa.text(ALIVE))


def downgrade() -> None:
    with op.batch_alter_table('statuses', schema=None) as batch_op:
        batch_op.drop_index('ix_statuses_actor_id_created_at', sqlite_where=sa.text(ALIVE),
                            postgresql_where=sa.text(ALIVE))
