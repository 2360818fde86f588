"""follow settings and poll endings

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 23:01:48.329894
"""
from alembic import op
import sqlalchemy as sa



revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('show_reblogs', sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column('notify', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.add_column(sa.Column('end_notified', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.create_index('ix_polls_expires_at', ['expires_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('polls', schema=None) as batch_op:
        batch_op.drop_index('ix_polls_expires_at')
        batch_op.drop_column('end_notified')

    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.drop_column('notify')
        batch_op.drop_column('show_reblogs')

