"""reports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 21:06:10.361709
"""
from alembic import op
import sqlalchemy as sa
import storage.tables


revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('reports',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=True),
    sa.Column('reporter_id', sa.BigInteger(), nullable=False),
    sa.Column('target_id', sa.BigInteger(), nullable=False),
    sa.Column('status_ids', sa.Text(), nullable=False),
    sa.Column('category', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('forwarded', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.Column('action_taken_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['reporter_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['target_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reports_target_id'), ['target_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_reports_target_id'))

    op.drop_table('reports')
