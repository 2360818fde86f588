"""What the client API keeps for local people: notifications, bookmarks, pins, mutes, lists,
markers, filters, polls, edit history, and the `Idempotency-Key`s of posts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.ids import new_id
from storage.tables.columns import id_column, time_column, utcnow


def _actor_column(*, index: bool = False) -> sa.Column:
    return sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False, index=index)


def _status_column(*, index: bool = True, nullable: bool = False) -> sa.Column:
    return sa.Column(sa.BigInteger, sa.ForeignKey("statuses.id"), nullable=nullable, index=index)


class Notification(SQLModel, table=True):
    """Something that happened to a local person: mention, status, reblog, follow, follow_request,
    favourite, poll, update (Mastodon's kinds). `key` makes a redelivered event notify once."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.UniqueConstraint("recipient_id", "key", name="uq_notifications_recipient_key"),
        sa.Index("ix_notifications_recipient_id", "recipient_id", "id"),
    )

    id: int = Field(default_factory=new_id, sa_column=id_column())
    recipient_id: int = Field(sa_column=_actor_column())
    kind: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    from_actor_id: int = Field(sa_column=_actor_column())
    status_id: int | None = Field(default=None, sa_column=_status_column(nullable=True))
    key: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class Bookmark(SQLModel, table=True):
    __tablename__ = "bookmarks"
    __table_args__ = (sa.UniqueConstraint("actor_id", "status_id", name="uq_bookmarks_pair"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    actor_id: int = Field(sa_column=_actor_column())
    status_id: int = Field(sa_column=_status_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class Pin(SQLModel, table=True):
    """A status its author pinned to their profile."""

    __tablename__ = "pins"
    __table_args__ = (sa.UniqueConstraint("actor_id", "status_id", name="uq_pins_pair"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    actor_id: int = Field(sa_column=_actor_column())
    status_id: int = Field(sa_column=_status_column())
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class Mute(SQLModel, table=True):
    """`actor` does not want to see `target` (nor, with `notifications`, hear from them)."""

    __tablename__ = "mutes"
    __table_args__ = (sa.UniqueConstraint("actor_id", "target_id", name="uq_mutes_pair"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    actor_id: int = Field(sa_column=_actor_column())
    target_id: int = Field(sa_column=_actor_column())
    notifications: bool = Field(default=True, sa_column=sa.Column(sa.Boolean, nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class AccountList(SQLModel, table=True):
    """A list of accounts whose posts make a timeline of its own."""

    __tablename__ = "lists"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    owner_id: int = Field(sa_column=_actor_column(index=True))
    title: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    replies_policy: str = Field(default="list", sa_column=sa.Column(sa.String(16), nullable=False))
    exclusive: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class ListMember(SQLModel, table=True):
    __tablename__ = "list_members"
    __table_args__ = (sa.UniqueConstraint("list_id", "actor_id", name="uq_list_members_pair"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    list_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("lists.id"), nullable=False, index=True))
    actor_id: int = Field(sa_column=_actor_column())


class Marker(SQLModel, table=True):
    """Where a person stopped reading a timeline (`home` or `notifications`), shared by their apps."""

    __tablename__ = "markers"
    __table_args__ = (sa.UniqueConstraint("actor_id", "timeline", name="uq_markers_actor_timeline"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    actor_id: int = Field(sa_column=_actor_column())
    timeline: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    last_read_id: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    version: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class ConversationMark(SQLModel, table=True):
    """How far a person has read, and hidden, one of their conversations (`web.api.conversations`).

    Conversations themselves are worked out from the statuses; this keeps only the two marks,
    as status ids: a conversation is unread while it has a newer status by someone else than
    `read_up_to`, and hidden until it has a status newer than `hidden_up_to`. `root_id` names
    the conversation by its root status and is not a foreign key: a mark outliving its
    conversation marks nothing."""

    __tablename__ = "conversation_marks"
    __table_args__ = (sa.UniqueConstraint("actor_id", "root_id", name="uq_conversation_marks_actor_root"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    actor_id: int = Field(sa_column=_actor_column())
    root_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    read_up_to: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))
    hidden_up_to: int = Field(default=0, sa_column=sa.Column(sa.BigInteger, nullable=False))


class ThreadMute(SQLModel, table=True):
    """A thread someone muted (`POST /api/v1/statuses/:id/mute`): no notifications from it.
    The thread is named by its root status (`actors.threads.thread_roots`)."""

    __tablename__ = "thread_mutes"
    __table_args__ = (sa.UniqueConstraint("actor_id", "root_id", name="uq_thread_mutes_actor_root"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    actor_id: int = Field(sa_column=_actor_column())
    root_id: int = Field(sa_column=sa.Column(sa.BigInteger, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class Filter(SQLModel, table=True):
    """A v2 filter: keywords or statuses hidden or flagged in the listed contexts."""

    __tablename__ = "filters"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    actor_id: int = Field(sa_column=_actor_column(index=True))
    title: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    # Comma-separated among home, notifications, public, thread, account.
    contexts: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    action: str = Field(default="warn", sa_column=sa.Column(sa.String(16), nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class FilterKeyword(SQLModel, table=True):
    __tablename__ = "filter_keywords"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    filter_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("filters.id"), nullable=False, index=True))
    keyword: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    whole_word: bool = Field(default=True, sa_column=sa.Column(sa.Boolean, nullable=False))


class FilterStatus(SQLModel, table=True):
    __tablename__ = "filter_statuses"
    __table_args__ = (sa.UniqueConstraint("filter_id", "status_id", name="uq_filter_statuses_pair"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    filter_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("filters.id"), nullable=False, index=True))
    status_id: int = Field(sa_column=_status_column(index=False))


class Poll(SQLModel, table=True):
    """The poll of a status (ActivityPub `Question`); its options are `PollOption` rows."""

    __tablename__ = "polls"
    __table_args__ = (sa.Index("ix_polls_expires_at", "expires_at"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    status_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("statuses.id"), nullable=False,
                                               unique=True))
    multiple: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    hide_totals: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    expires_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    # For remote polls, as their server last reported (local ones are counted from votes).
    voters_count: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    # Set once the local voters and author were told the poll ended (`actors.polls`).
    end_notified: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False,
                                                                  server_default=sa.false()))


class PollOption(SQLModel, table=True):
    __tablename__ = "poll_options"
    __table_args__ = (sa.UniqueConstraint("poll_id", "position", name="uq_poll_options_position"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    poll_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("polls.id"), nullable=False))
    position: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    title: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    votes_count: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))


class PollVote(SQLModel, table=True):
    __tablename__ = "poll_votes"
    __table_args__ = (sa.UniqueConstraint("poll_id", "actor_id", "position", name="uq_poll_votes_choice"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    poll_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("polls.id"), nullable=False, index=True))
    actor_id: int = Field(sa_column=_actor_column())
    position: int = Field(sa_column=sa.Column(sa.Integer, nullable=False))
    uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class StatusEdit(SQLModel, table=True):
    """A status as it was before an edit (`GET /api/v1/statuses/:id/history`)."""

    __tablename__ = "status_edits"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    status_id: int = Field(sa_column=_status_column())
    content: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    summary: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    sensitive: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class IdempotencyKey(SQLModel, table=True):
    """An `Idempotency-Key` a person's app sent with a post: the same key again returns that post."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (sa.UniqueConstraint("actor_id", "key", name="uq_idempotency_keys_actor_key"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    actor_id: int = Field(sa_column=_actor_column())
    key: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    status_id: int = Field(sa_column=_status_column(index=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
