"""conversation marks

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 23:10:50.906659
"""
from alembic import op
import sqlalchemy as sa



revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('conversation_marks',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('root_id', sa.BigInteger(), nullable=False),
    sa.Column('read_up_to', sa.BigInteger(), nullable=False),
    sa.Column('hidden_up_to', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id', 'root_id', name='uq_conversation_marks_actor_root')
    )


def downgrade() -> None:
    op.drop_table('conversation_marks')
