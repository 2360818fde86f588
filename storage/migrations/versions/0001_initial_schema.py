"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-22
"""
from alembic import op
import sqlalchemy as sa
import storage.tables


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('actors',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('username', sa.String(length=255), nullable=False),
    sa.Column('username_key', sa.String(length=255), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=True),
    sa.Column('actor_type', sa.String(length=32), nullable=False),
    sa.Column('display_name', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('inbox_uri', sa.String(length=2048), nullable=False),
    sa.Column('outbox_uri', sa.String(length=2048), nullable=True),
    sa.Column('shared_inbox_uri', sa.String(length=2048), nullable=True),
    sa.Column('followers_uri', sa.String(length=2048), nullable=True),
    sa.Column('following_uri', sa.String(length=2048), nullable=True),
    sa.Column('key_id', sa.String(length=2048), nullable=True),
    sa.Column('public_key_pem', sa.Text(), nullable=True),
    sa.Column('locked', sa.Boolean(), nullable=False),
    sa.Column('discoverable', sa.Boolean(), nullable=False),
    sa.Column('indexable', sa.Boolean(), nullable=False),
    sa.Column('hide_collections', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fetched_at', storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.create_index('ix_actors_domain_username', ['domain', 'username_key'], unique=False)
        batch_op.create_index(batch_op.f('ix_actors_key_id'), ['key_id'], unique=False)
        batch_op.create_index('uq_actors_local_username', ['username_key'], unique=True, sqlite_where=sa.text('domain IS NULL'), postgresql_where=sa.text('domain IS NULL'))

    op.create_table('follows',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=True),
    sa.Column('follower_id', sa.BigInteger(), nullable=False),
    sa.Column('followee_id', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['followee_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['follower_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('follower_id', 'followee_id', name='uq_follows_pair'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.create_index('ix_follows_followee_state', ['followee_id', 'state'], unique=False)

    op.create_table('local_keys',
    sa.Column('actor_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('private_key_encrypted', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('actor_id')
    )
    op.create_table('statuses',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('uri', sa.String(length=2048), nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('local', sa.Boolean(), nullable=False),
    sa.Column('visibility', sa.String(length=16), nullable=False),
    sa.Column('content', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('sensitive', sa.Boolean(), nullable=False),
    sa.Column('language', sa.String(length=16), nullable=True),
    sa.Column('url', sa.String(length=2048), nullable=True),
    sa.Column('in_reply_to_uri', sa.String(length=2048), nullable=True),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('edited_at', storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('uri')
    )
    with op.batch_alter_table('statuses', schema=None) as batch_op:
        batch_op.create_index('ix_statuses_actor_id_id', ['actor_id', 'id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('default_visibility', sa.String(length=16), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('approved', sa.Boolean(), nullable=False),
    sa.Column('disabled', sa.Boolean(), nullable=False),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_active_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('actor_id'),
    sa.UniqueConstraint('email')
    )


def downgrade() -> None:
    op.drop_table('users')
    with op.batch_alter_table('statuses', schema=None) as batch_op:
        batch_op.drop_index('ix_statuses_actor_id_id')

    op.drop_table('statuses')
    op.drop_table('local_keys')
    with op.batch_alter_table('follows', schema=None) as batch_op:
        batch_op.drop_index('ix_follows_followee_state')

    op.drop_table('follows')
    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.drop_index('uq_actors_local_username', sqlite_where=sa.text('domain IS NULL'), postgresql_where=sa.text('domain IS NULL'))
        batch_op.drop_index(batch_op.f('ix_actors_key_id'))
        batch_op.drop_index('ix_actors_domain_username')

    op.drop_table('actors')
