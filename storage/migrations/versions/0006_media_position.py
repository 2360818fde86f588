"""media position

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 21:35:10.776021
"""
from alembic import op
import sqlalchemy as sa
import storage.tables


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('media_attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('position', sa.Integer(), server_default='0', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('media_attachments', schema=None) as batch_op:
        batch_op.drop_column('position')

