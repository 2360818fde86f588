"""oauth: apps, authorization codes, access tokens, login attempts, sign-up reason

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""
from alembic import op
import sqlalchemy as sa
import storage.tables


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('login_attempts',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('account_key', sa.String(length=320), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.create_index('ix_login_attempts_account', ['account_key', 'created_at'], unique=False)
        batch_op.create_index('ix_login_attempts_address', ['address', 'created_at'], unique=False)

    op.create_table('oauth_apps',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('client_secret', sa.String(length=128), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('website', sa.String(length=2048), nullable=True),
    sa.Column('redirect_uris', sa.Text(), nullable=False),
    sa.Column('scopes', sa.Text(), nullable=False),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('client_id')
    )
    op.create_table('oauth_access_tokens',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('app_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=True),
    sa.Column('scopes', sa.Text(), nullable=False),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['oauth_apps.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    with op.batch_alter_table('oauth_access_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_access_tokens_app_id'), ['app_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_oauth_access_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('oauth_authorization_codes',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('app_id', sa.BigInteger(), nullable=False),
    sa.Column('user_id', sa.BigInteger(), nullable=False),
    sa.Column('redirect_uri', sa.Text(), nullable=False),
    sa.Column('scopes', sa.Text(), nullable=False),
    sa.Column('code_challenge', sa.String(length=128), nullable=True),
    sa.Column('code_challenge_method', sa.String(length=16), nullable=True),
    sa.Column('created_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', storage.tables.UTCDateTime(timezone=True), nullable=False),
    sa.Column('used_at', storage.tables.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['oauth_apps.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code_hash')
    )
    with op.batch_alter_table('oauth_authorization_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oauth_authorization_codes_app_id'), ['app_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signup_reason', sa.Text(), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('signup_reason')

    with op.batch_alter_table('oauth_authorization_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_authorization_codes_app_id'))

    op.drop_table('oauth_authorization_codes')
    with op.batch_alter_table('oauth_access_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oauth_access_tokens_user_id'))
        batch_op.drop_index(batch_op.f('ix_oauth_access_tokens_app_id'))

    op.drop_table('oauth_access_tokens')
    op.drop_table('oauth_apps')
    with op.batch_alter_table('login_attempts', schema=None) as batch_op:
        batch_op.drop_index('ix_login_attempts_address')
        batch_op.drop_index('ix_login_attempts_account')

    op.drop_table('login_attempts')
