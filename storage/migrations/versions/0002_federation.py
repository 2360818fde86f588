"""federation: inbox, deliveries, hosts, reactions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import storage.tables


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('hosts',
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('accepts_rfc9421', sa.Boolean(), nullable=True),
    sa.Column('consecutive_failures', sa.Integer(), nullable=False),
    sa.Column('parked_until', storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('host')
    )
    op.create_table('inbox_items',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('activity_id', sa.String(length=2048), nullable=False),
    sa.Column('activity_type', sa.String(length=64), nullable=False),
    sa.Column('actor_uri', sa.String(length=2048), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('received_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('process_after', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('processed_at', storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('outcome', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('activity_id')
    )
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.create_index('ix_inbox_items_due', ['state', 'process_after'], unique=False)

    op.create_table('tombstones',
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('actor_uri', sa.String(length=2048), nullable=False),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('uri')
    )
    op.create_table('blocks',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=True),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('target_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['target_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id', 'target_id', name='uq_blocks_pair'),
    sa.UniqueConstraint('uri')
    )
    op.create_table('deliveries',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('activity_uri', sa.String(length=2048), nullable=False),
    sa.Column('inbox_uri', sa.String(length=2048), nullable=False),
    sa.Column('host', sa.String(length=255), nullable=False),
    sa.Column('signer_id', sa.BigInteger(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['signer_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('activity_uri', 'inbox_uri', name='uq_deliveries_activity_inbox')
    )
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_deliveries_due', ['state', 'next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_deliveries_host'), ['host'], unique=False)

    op.create_table('favourites',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=True),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('status_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id', 'status_id', name='uq_favourites_pair'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('favourites', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_favourites_status_id'), ['status_id'], unique=False)

    op.create_table('media_attachments',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('status_id', sa.BigInteger(), nullable=True),
    sa.Column('remote_url', sa.String(length=2048), nullable=False),
    sa.Column('media_type', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('blurhash', sa.String(length=255), nullable=True),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('media_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_attachments_status_id'), ['status_id'], unique=False)

    op.create_table('mentions',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('status_id', sa.BigInteger(), nullable=False),
    sa.Column('actor_uri', sa.String(length=2048), nullable=False),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('status_id', 'actor_uri', name='uq_mentions_pair')
    )
    with op.batch_alter_table('mentions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mentions_actor_uri'), ['actor_uri'], unique=False)
        batch_op.create_index(batch_op.f('ix_mentions_status_id'), ['status_id'], unique=False)

    op.create_table('status_tags',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('status_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('status_id', 'name', name='uq_status_tags_pair')
    )
    with op.batch_alter_table('status_tags', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_tags_name'), ['name'], unique=False)
        batch_op.create_index(batch_op.f('ix_status_tags_status_id'), ['status_id'], unique=False)

    with op.batch_alter_table('statuses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reblog_of_id', sa.BigInteger(), nullable=True))
        batch_op.create_index(batch_op.f('ix_statuses_in_reply_to_uri'), ['in_reply_to_uri'], unique=False)
        batch_op.create_index(batch_op.f('ix_statuses_reblog_of_id'), ['reblog_of_id'], unique=False)
        batch_op.create_foreign_key('fk_statuses_reblog_of_id', 'statuses', ['reblog_of_id'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('statuses', schema=None) as batch_op:
        # WARNING: constraint name is None; this directive will fail as
        # rendered.  Add a name, or use a naming convention; see
        # https://alembic.sqlalchemy.org/en/latest/naming.html
        batch_op.drop_constraint('fk_statuses_reblog_of_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_statuses_reblog_of_id'))
        batch_op.drop_index(batch_op.f('ix_statuses_in_reply_to_uri'))
        batch_op.drop_column('reblog_of_id')

    with op.batch_alter_table('status_tags', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_tags_status_id'))
        batch_op.drop_index(batch_op.f('ix_status_tags_name'))

    op.drop_table('status_tags')
    with op.batch_alter_table('mentions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mentions_status_id'))
        batch_op.drop_index(batch_op.f('ix_mentions_actor_uri'))

    op.drop_table('mentions')
    with op.batch_alter_table('media_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_attachments_status_id'))

    op.drop_table('media_attachments')
    with op.batch_alter_table('favourites', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_favourites_status_id'))

    op.drop_table('favourites')
    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_deliveries_host'))
        batch_op.drop_index('ix_deliveries_due')

    op.drop_table('deliveries')
    op.drop_table('blocks')
    op.drop_table('tombstones')
    with op.batch_alter_table('inbox_items', schema=None) as batch_op:
        batch_op.drop_index('ix_inbox_items_due')

    op.drop_table('inbox_items')
    op.drop_table('hosts')
