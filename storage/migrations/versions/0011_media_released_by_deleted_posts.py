"""media released by deleted posts

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29 23:26:11.959575
"""
from alembic import op
import sqlalchemy as sa
import storage.tables


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('media_attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('released_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('media_attachments', schema=None) as batch_op:
        batch_op.drop_column('released_at')

