"""client api: notifications, bookmarks, pins, mutes, lists, markers, filters, polls, edits, idempotency keys, media uploads, avatars

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 20:50:10.494369
"""
from alembic import op
import sqlalchemy as sa
import storage.tables


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('filters',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('contexts', sa.String(length=255), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('expires_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('filters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filters_actor_id'), ['actor_id'], unique=False)

    op.create_table('lists',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('replies_policy', sa.String(length=16), nullable=False),
    sa.Column('exclusive', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lists_owner_id'), ['owner_id'], unique=False)

    op.create_table('markers',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('timeline', sa.String(length=16), nullable=False),
    sa.Column('last_read_id', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('updated_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id', 'timeline', name='uq_markers_actor_timeline')
    )
    op.create_table('mutes',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('target_id', sa.BigInteger(), nullable=False),
    sa.Column('notifications', sa.Boolean(), nullable=False),
    sa.Column('expires_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['target_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id', 'target_id', name='uq_mutes_pair')
    )
    op.create_table('bookmarks',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('status_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id', 'status_id', name='uq_bookmarks_pair')
    )
    with op.batch_alter_table('bookmarks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_bookmarks_status_id'), ['status_id'], unique=False)

    op.create_table('filter_keywords',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('filter_id', sa.BigInteger(), nullable=False),
    sa.Column('keyword', sa.String(length=255), nullable=False),
    sa.Column('whole_word', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['filter_id'], ['filters.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('filter_keywords', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filter_keywords_filter_id'), ['filter_id'], unique=False)

    op.create_table('filter_statuses',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('filter_id', sa.BigInteger(), nullable=False),
    sa.Column('status_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['filter_id'], ['filters.id'], ),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('filter_id', 'status_id', name='uq_filter_statuses_pair')
    )
    with op.batch_alter_table('filter_statuses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_filter_statuses_filter_id'), ['filter_id'], unique=False)

    op.create_table('idempotency_keys',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('status_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id', 'key', name='uq_idempotency_keys_actor_key')
    )
    op.create_table('list_members',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('list_id', sa.BigInteger(), nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['list_id'], ['lists.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('list_id', 'actor_id', name='uq_list_members_pair')
    )
    with op.batch_alter_table('list_members', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_list_members_list_id'), ['list_id'], unique=False)

    op.create_table('notifications',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('recipient_id', sa.BigInteger(), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('from_actor_id', sa.BigInteger(), nullable=False),
    sa.Column('status_id', sa.BigInteger(), nullable=True),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['from_actor_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['recipient_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('recipient_id', 'key', name='uq_notifications_recipient_key')
    )
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.create_index('ix_notifications_recipient_id', ['recipient_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_notifications_status_id'), ['status_id'], unique=False)

    op.create_table('pins',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('status_id', sa.BigInteger(), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id', 'status_id', name='uq_pins_pair')
    )
    with op.batch_alter_table('pins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pins_status_id'), ['status_id'], unique=False)

    op.create_table('polls',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('status_id', sa.BigInteger(), nullable=False),
    sa.Column('multiple', sa.Boolean(), nullable=False),
    sa.Column('hide_totals', sa.Boolean(), nullable=False),
    sa.Column('expires_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=True),
    sa.Column('voters_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('status_id')
    )
    op.create_table('status_edits',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('status_id', sa.BigInteger(), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('sensitive', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['status_id'], ['statuses.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('status_edits', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_edits_status_id'), ['status_id'], unique=False)

    op.create_table('poll_options',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('poll_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('votes_count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('poll_id', 'position', name='uq_poll_options_position')
    )
    op.create_table('poll_votes',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('poll_id', sa.BigInteger(), nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=True),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['poll_id'], ['polls.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('poll_id', 'actor_id', 'position', name='uq_poll_votes_choice'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('poll_votes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_poll_votes_poll_id'), ['poll_id'], unique=False)

    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('avatar_url', sa.String(length=2048), nullable=True))
        batch_op.add_column(sa.Column('header_url', sa.String(length=2048), nullable=True))

    with op.batch_alter_table('media_attachments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('file_name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('preview_file_name', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('focus_x', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('focus_y', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False,
                                      server_default=sa.text('CURRENT_TIMESTAMP')))
        batch_op.create_index(batch_op.f('ix_media_attachments_actor_id'), ['actor_id'], unique=False)
        batch_op.create_foreign_key('fk_media_attachments_actor_id_actors', 'actors', ['actor_id'], ['id'])

    with op.batch_alter_table('statuses', schema=None) as batch_op:
        batch_op.add_column(sa.Column('application_id', sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key('fk_statuses_application_id_oauth_apps', 'oauth_apps', ['application_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('statuses', schema=None) as batch_op:
        batch_op.drop_constraint('fk_statuses_application_id_oauth_apps', type_='foreignkey')
        batch_op.drop_column('application_id')

    with op.batch_alter_table('media_attachments', schema=None) as batch_op:
        batch_op.drop_constraint('fk_media_attachments_actor_id_actors', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_media_attachments_actor_id'))
        batch_op.drop_column('created_at')
        batch_op.drop_column('focus_y')
        batch_op.drop_column('focus_x')
        batch_op.drop_column('preview_file_name')
        batch_op.drop_column('file_name')
        batch_op.drop_column('actor_id')

    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.drop_column('header_url')
        batch_op.drop_column('avatar_url')

    with op.batch_alter_table('poll_votes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_poll_votes_poll_id'))

    op.drop_table('poll_votes')
    op.drop_table('poll_options')
    with op.batch_alter_table('status_edits', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_status_edits_status_id'))

    op.drop_table('status_edits')
    op.drop_table('polls')
    with op.batch_alter_table('pins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pins_status_id'))

    op.drop_table('pins')
    with op.batch_alter_table('notifications', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_notifications_status_id'))
        batch_op.drop_index('ix_notifications_recipient_id')

    op.drop_table('notifications')
    with op.batch_alter_table('list_members', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_list_members_list_id'))

    op.drop_table('list_members')
    op.drop_table('idempotency_keys')
    with op.batch_alter_table('filter_statuses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_filter_statuses_filter_id'))

    op.drop_table('filter_statuses')
    with op.batch_alter_table('filter_keywords', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_filter_keywords_filter_id'))

    op.drop_table('filter_keywords')
    with op.batch_alter_table('bookmarks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_bookmarks_status_id'))

    op.drop_table('bookmarks')
    op.drop_table('mutes')
    op.drop_table('markers')
    with op.batch_alter_table('lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lists_owner_id'))

    op.drop_table('lists')
    with op.batch_alter_table('filters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_filters_actor_id'))

    op.drop_table('filters')
