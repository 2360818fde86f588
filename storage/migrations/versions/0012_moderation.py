"""moderation: domain policy, audit log, warnings, shared blocklists

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 02:32:02.351512
"""
from alembic import op
import sqlalchemy as sa
import storage.tables
from sqlalchemy.dialects import postgresql

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('blocklist_subscriptions',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('url', sa.String(length=2048), nullable=False),
    sa.Column('trusted', sa.Boolean(), nullable=False),
    sa.Column('entries', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default='[]', nullable=False),
    sa.Column('refreshed_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('url')
    )
    op.create_table('domain_allows',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('domain')
    )
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('actor_id', sa.BigInteger(), nullable=True),
    sa.Column('via', sa.String(length=16), nullable=False),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('target_type', sa.String(length=32), nullable=False),
    sa.Column('target', sa.String(length=2048), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['actors.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_log_action'), ['action'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_log_actor_id'), ['actor_id'], unique=False)

    op.create_table('blocklist_changes',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('subscription_id', sa.BigInteger(), nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('change', sa.String(length=16), nullable=False),
    sa.Column('entry', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default='{}', nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('decided_by_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['decided_by_id'], ['actors.id'], ),
    sa.ForeignKeyConstraint(['subscription_id'], ['blocklist_subscriptions.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('blocklist_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_blocklist_changes_subscription_id'), ['subscription_id'], unique=False)

    op.create_table('domain_blocks',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('domain', sa.String(length=255), nullable=False),
    sa.Column('severity', sa.String(length=16), nullable=False),
    sa.Column('reject_media', sa.Boolean(), nullable=False),
    sa.Column('reject_reports', sa.Boolean(), nullable=False),
    sa.Column('private_comment', sa.Text(), nullable=False),
    sa.Column('public_comment', sa.Text(), nullable=False),
    sa.Column('obfuscate', sa.Boolean(), nullable=False),
    sa.Column('subscription_id', sa.BigInteger(), nullable=True),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscription_id'], ['blocklist_subscriptions.id'], ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('domain')
    )
    op.create_table('account_warnings',
    sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('target_id', sa.BigInteger(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('report_id', sa.BigInteger(), nullable=True),
    sa.Column('status_ids', sa.Text(), nullable=False),
    sa.Column('created_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['report_id'], ['reports.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['target_id'], ['actors.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('account_warnings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_account_warnings_target_id'), ['target_id'], unique=False)

    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.add_column(sa.Column('silenced_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('suspended_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sensitized_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('assigned_to_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('action_taken_by_id', sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column('updated_at', storage.tables.columns.UTCDateTime(timezone=True), nullable=False,
                                      server_default=sa.func.now()))
        batch_op.create_foreign_key('fk_reports_assigned_to_id', 'actors', ['assigned_to_id'], ['id'])
        batch_op.create_foreign_key('fk_reports_action_taken_by_id', 'actors', ['action_taken_by_id'], ['id'])

    _make_audit_log_append_only()


APPEND_ONLY = "the audit log is append-only"


def _make_audit_log_append_only() -> None:
    """The audit log refuses UPDATE and DELETE in the database itself, whoever connects."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$ LANGUAGE plpgsql""")
        op.execute("CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                   "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                       f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_constraint('fk_reports_action_taken_by_id', type_='foreignkey')
        batch_op.drop_constraint('fk_reports_assigned_to_id', type_='foreignkey')
        batch_op.drop_column('updated_at')
        batch_op.drop_column('action_taken_by_id')
        batch_op.drop_column('assigned_to_id')

    with op.batch_alter_table('actors', schema=None) as batch_op:
        batch_op.drop_column('sensitized_at')
        batch_op.drop_column('suspended_at')
        batch_op.drop_column('silenced_at')

    with op.batch_alter_table('account_warnings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_account_warnings_target_id'))

    op.drop_table('account_warnings')
    op.drop_table('domain_blocks')
    with op.batch_alter_table('blocklist_changes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_blocklist_changes_subscription_id'))

    op.drop_table('blocklist_changes')
    with op.batch_alter_table('audit_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_log_actor_id'))
        batch_op.drop_index(batch_op.f('ix_audit_log_action'))

    op.drop_table('audit_log')
    op.drop_table('domain_allows')
    op.drop_table('blocklist_subscriptions')
