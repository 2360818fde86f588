"""home feed, kept by the database

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08 01:15:00

The home timeline walked the statuses' id index backwards, testing each status for a follow
of its author: for someone following 50 of 10,000 accounts, about 4,000 index entries for a
page of 20 at a million statuses. `home_feed` holds, for each local person, the ids of their
own statuses and those of the accounts they follow (accepted), so that a page reads its 20
candidates from one index range.

Triggers keep it, in the transaction of the write that changes it, whatever code writes:
a new status joins its local author's feed and its author's local followers' feeds; a follow
that becomes accepted brings the followee's statuses into the follower's feed, and one that
ends (deleted, or no longer accepted) takes them out. The timeline still applies all of its
conditions to the candidates, so the feed only has to hold every status it may show.

SQLite drops a table's triggers when a batch migration rebuilds it: a later migration that
rebuilds `statuses` or `follows` must create them again (`create_triggers`).
"""
from alembic import op
import sqlalchemy as sa


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

# The local followers of the status NEW (and its author, when local) as (reader, status) rows.
_READERS_OF_NEW_STATUS = """
    SELECT follows.follower_id, NEW.id FROM follows JOIN actors ON actors.id = follows.follower_id
    WHERE follows.followee_id = NEW.actor_id AND follows.state = 'accepted' AND actors.domain IS NULL
    UNION SELECT NEW.actor_id, NEW.id FROM actors WHERE actors.id = NEW.actor_id AND actors.domain IS NULL"""
# The followee's statuses for the follower of the follow NEW, when the follower is local.
_STATUSES_OF_NEW_FOLLOWEE = """
    SELECT NEW.follower_id, statuses.id FROM statuses
    WHERE statuses.actor_id = NEW.followee_id
      AND EXISTS (SELECT 1 FROM actors WHERE actors.id = NEW.follower_id AND actors.domain IS NULL)"""
_FORGET_OLD_FOLLOWEE = """
    DELETE FROM home_feed WHERE reader_id = OLD.follower_id
      AND status_id IN (SELECT statuses.id FROM statuses WHERE statuses.actor_id = OLD.followee_id)"""

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER home_feed_status_added AFTER INSERT ON statuses BEGIN
        INSERT OR IGNORE INTO home_feed (reader_id, status_id) {_READERS_OF_NEW_STATUS}; END""",
    f"""CREATE TRIGGER home_feed_follow_added AFTER INSERT ON follows WHEN NEW.state = 'accepted' BEGIN
        INSERT OR IGNORE INTO home_feed (reader_id, status_id) {_STATUSES_OF_NEW_FOLLOWEE}; END""",
    f"""CREATE TRIGGER home_feed_follow_accepted AFTER UPDATE OF state ON follows
        WHEN NEW.state = 'accepted' AND OLD.state <> 'accepted' BEGIN
        INSERT OR IGNORE INTO home_feed (reader_id, status_id) {_STATUSES_OF_NEW_FOLLOWEE}; END""",
    f"""CREATE TRIGGER home_feed_follow_unaccepted AFTER UPDATE OF state ON follows
        WHEN OLD.state = 'accepted' AND NEW.state <> 'accepted' BEGIN {_FORGET_OLD_FOLLOWEE}; END""",
    f"""CREATE TRIGGER home_feed_follow_removed AFTER DELETE ON follows
        WHEN OLD.state = 'accepted' BEGIN {_FORGET_OLD_FOLLOWEE}; END""",
]
POSTGRESQL_TRIGGERS = [
    f"""CREATE FUNCTION home_feed_status_added() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        INSERT INTO home_feed (reader_id, status_id) {_READERS_OF_NEW_STATUS} ON CONFLICT DO NOTHING;
        RETURN NULL; END $$""",
    f"""CREATE FUNCTION home_feed_follow_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
        IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.state = 'accepted'
           AND (TG_OP = 'DELETE' OR NEW.state <> 'accepted') THEN {_FORGET_OLD_FOLLOWEE}; END IF;
        IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.state = 'accepted'
           AND (TG_OP = 'INSERT' OR OLD.state <> 'accepted') THEN
            INSERT INTO home_feed (reader_id, status_id) {_STATUSES_OF_NEW_FOLLOWEE} ON CONFLICT DO NOTHING;
        END IF;
        RETURN NULL; END $$""",
    """CREATE TRIGGER home_feed_status_added AFTER INSERT ON statuses
        FOR EACH ROW EXECUTE FUNCTION home_feed_status_added()""",
    """CREATE TRIGGER home_feed_follow_changed AFTER INSERT OR UPDATE OF state OR DELETE ON follows
        FOR EACH ROW EXECUTE FUNCTION home_feed_follow_changed()""",
]
BACKFILL = """
    INSERT INTO home_feed (reader_id, status_id)
    SELECT follows.follower_id, statuses.id FROM follows
    JOIN actors ON actors.id = follows.follower_id AND actors.domain IS NULL
    JOIN statuses ON statuses.actor_id = follows.followee_id
    WHERE follows.state = 'accepted'
    UNION
    SELECT statuses.actor_id, statuses.id FROM statuses
    JOIN actors ON actors.id = statuses.actor_id AND actors.domain IS NULL"""


def create_triggers() -> None:
    for statement in POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == 'postgresql' else SQLITE_TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    op.create_table('home_feed',
    sa.Column('reader_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('status_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('reader_id', 'status_id'),
    sqlite_with_rowid=False,
    )
    op.execute(BACKFILL)
    create_triggers()


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP TRIGGER home_feed_follow_changed ON follows')
        op.execute('DROP TRIGGER home_feed_status_added ON statuses')
        op.execute('DROP FUNCTION home_feed_follow_changed()')
        op.execute('DROP FUNCTION home_feed_status_added()')
    else:
        for name in ('status_added', 'follow_added', 'follow_accepted', 'follow_unaccepted', 'follow_removed'):
            op.execute(f'DROP TRIGGER home_feed_{name}')
    op.drop_table('home_feed')
