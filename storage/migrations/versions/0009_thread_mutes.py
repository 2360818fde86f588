"""thread mutes

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29 23:13:06.405860
"""
from alembic import op
import sqlalchemy as sa
import storage.tables



revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('thread_mutes',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('root_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id', 'root_id', name='uq_thread_mutes_actor_root')
    )


def downgrade() -> None:
    op.drop_table('thread_mutes')
