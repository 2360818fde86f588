"""profile fields and sensitive by default

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29 23:15:38.408315
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql



revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fields', sa.JSON().with_variant(postgresql.JSONB(), 'postgresql'),
                                      server_default='[]', nullable=False))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sensitive_by_default', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('sensitive_by_default')

    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.drop_column('fields')

