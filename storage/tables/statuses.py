"""Posts and what hangs off them: mentions, hashtags, media, favourites, tombstones."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.ids import new_id
from storage.tables.columns import id_column, time_column, utcnow


class Status(SQLModel, table=True):
    """A post (ActivityPub `Note`), local or remote. Deleted ones stay as tombstones."""

    __tablename__ = "statuses"
    __table_args__ = (
        sa.Index("ix_statuses_actor_id_id", "actor_id", "id"),
        # An account's statuses count and last status time, from the index alone (migration 0014).
        sa.Index("ix_statuses_actor_id_created_at", "actor_id", "created_at", "visibility",
                 sqlite_where=sa.text("deleted_at IS NULL"), postgresql_where=sa.text("deleted_at IS NULL")),
    )

    id: int = Field(default_factory=new_id, sa_column=id_column())
    uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False, unique=True))
    actor_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False)
    )
    local: bool = Field(default=True, sa_column=sa.Column(sa.Boolean, nullable=False))
    # public, unlisted, private (followers-only), direct, network, local
    visibility: str = Field(default="public", sa_column=sa.Column(sa.String(16), nullable=False))
    content: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    summary: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    sensitive: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    language: str | None = Field(default=None, sa_column=sa.Column(sa.String(16)))
    url: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048)))
    in_reply_to_uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), index=True))
    # A boost is a status pointing at the boosted one (Mastodon's model); its uri is the Announce's id.
    reblog_of_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("statuses.id"), index=True)
    )
    # The client app a local post was made with (Mastodon's `application`).
    application_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("oauth_apps.id"), nullable=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    edited_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    deleted_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))


class HomeFeedEntry(SQLModel, table=True):
    """A status that may show in a local person's home timeline: their own, and those of the
    accounts they follow (accepted). The database keeps it, by triggers on `statuses` and
    `follows` (migration 0015), whichever code writes them; the home timeline reads a page of
    candidates from here and still applies every condition (visibility, boosts, blocks, mutes)
    to them. A status removed from view stays until its follow ends: the conditions hide it."""

    __tablename__ = "home_feed"
    __table_args__ = {"sqlite_with_rowid": False}

    reader_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))
    status_id: int = Field(sa_column=sa.Column(sa.BigInteger, primary_key=True, autoincrement=False))


class Tombstone(SQLModel, table=True):
    """An object or activity id known to be deleted or undone, so a late copy never resurrects it."""

    __tablename__ = "tombstones"

    uri: str = Field(sa_column=sa.Column(sa.String(2048), primary_key=True))
    actor_uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class Favourite(SQLModel, table=True):
    __tablename__ = "favourites"
    __table_args__ = (sa.UniqueConstraint("actor_id", "status_id", name="uq_favourites_pair"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), unique=True))
    actor_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False))
    status_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("statuses.id"), nullable=False, index=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class Mention(SQLModel, table=True):
    """An actor named in a status's addressing or tags: who a direct post is for."""

    __tablename__ = "mentions"
    __table_args__ = (sa.UniqueConstraint("status_id", "actor_uri", name="uq_mentions_pair"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    status_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("statuses.id"), nullable=False, index=True)
    )
    actor_uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False, index=True))


class StatusTag(SQLModel, table=True):
    __tablename__ = "status_tags"
    __table_args__ = (sa.UniqueConstraint("status_id", "name", name="uq_status_tags_pair"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    status_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("statuses.id"), nullable=False, index=True)
    )
    name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False, index=True))


class MediaAttachment(SQLModel, table=True):
    """Metadata of a picture or file attached to a status (remote ones stay remote)."""

    __tablename__ = "media_attachments"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    status_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("statuses.id"), index=True)
    )
    remote_url: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    media_type: str = Field(default="", sa_column=sa.Column(sa.String(255), nullable=False))
    description: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    blurhash: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))
    width: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    height: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    # Local uploads: who uploaded it (attached to no status yet until posted), where its files are.
    actor_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=True, index=True)
    )
    file_name: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))
    preview_file_name: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))
    # Where it sits among its post's pictures, as the author ordered them (`media_ids[]`).
    position: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False, server_default="0"))
    focus_x: float | None = Field(default=None, sa_column=sa.Column(sa.Float))
    focus_y: float | None = Field(default=None, sa_column=sa.Column(sa.Float))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    # When a deleted post let go of this upload (kept a while for a redraft, then cleaned up).
    released_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
