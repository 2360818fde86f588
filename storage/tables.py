"""The database tables.

One `Actor` row for every ActivityPub actor we know: local people, the instance actor and
remote actors alike (`domain` is None for local ones). Local people have a `User` row too
(login, role, preferences) and every local actor a `LocalKey` (its private key, encrypted).
Ids are time-sortable integers from `storage.ids`.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel

from storage.ids import new_id


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on both engines (SQLite keeps no zone; we put UTC back)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use datetime.now(UTC)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _id_column() -> sa.Column:
    return sa.Column(sa.BigInteger, primary_key=True, autoincrement=False, default=new_id)


def _time_column(nullable: bool = False) -> sa.Column:
    return sa.Column(UTCDateTime(), nullable=nullable)


class Actor(SQLModel, table=True):
    __tablename__ = "actors"
    __table_args__ = (
        sa.Index("ix_actors_domain_username", "domain", "username_key"),
        # Local usernames are unique case-insensitively (remote ones are their server's business).
        sa.Index("uq_actors_local_username", "username_key", unique=True,
                 sqlite_where=sa.text("domain IS NULL"), postgresql_where=sa.text("domain IS NULL")),
    )

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False, unique=True))
    username: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    # Lower-cased username: usernames are unique case-insensitively on each domain.
    username_key: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    domain: str | None = Field(default=None, sa_column=sa.Column(sa.String(255), nullable=True))
    actor_type: str = Field(default="Person", sa_column=sa.Column(sa.String(32), nullable=False))
    display_name: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    summary: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    url: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), nullable=True))
    inbox_uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    outbox_uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048)))
    shared_inbox_uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048)))
    followers_uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048)))
    following_uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048)))
    key_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), index=True))
    public_key_pem: str | None = Field(default=None, sa_column=sa.Column(sa.Text))
    locked: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    discoverable: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    indexable: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    hide_collections: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())
    fetched_at: datetime | None = Field(default=None, sa_column=_time_column(nullable=True))

    @property
    def is_local(self) -> bool:
        return self.domain is None


class User(SQLModel, table=True):
    """A person who logs in here. Their public face is their `Actor`."""

    __tablename__ = "users"

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    actor_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False, unique=True)
    )
    email: str = Field(sa_column=sa.Column(sa.String(320), nullable=False, unique=True))
    password_hash: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    role: str = Field(default="member", sa_column=sa.Column(sa.String(16), nullable=False))
    # Mastodon's visibility names: public, unlisted, private (followers-only), direct.
    default_visibility: str = Field(
        default="private", sa_column=sa.Column(sa.String(16), nullable=False)
    )
    locale: str = Field(default="en", sa_column=sa.Column(sa.String(16), nullable=False))
    approved: bool = Field(default=True, sa_column=sa.Column(sa.Boolean, nullable=False))
    # What the person wrote when asking to join (approval mode), for the moderators.
    signup_reason: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    disabled: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())
    last_active_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())


class LocalKey(SQLModel, table=True):
    """The private key of a local actor, encrypted with a key derived from the instance secret."""

    __tablename__ = "local_keys"

    actor_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), primary_key=True,
                            autoincrement=False)
    )
    private_key_encrypted: str = Field(sa_column=sa.Column(sa.Text, nullable=False))


class Follow(SQLModel, table=True):
    """`follower` follows `followee`; pending until the followee (or their server) accepts."""

    __tablename__ = "follows"
    __table_args__ = (
        sa.UniqueConstraint("follower_id", "followee_id", name="uq_follows_pair"),
        sa.Index("ix_follows_followee_state", "followee_id", "state"),
    )

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), unique=True))
    follower_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False)
    )
    followee_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False)
    )
    state: str = Field(default="pending", sa_column=sa.Column(sa.String(16), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())


class Status(SQLModel, table=True):
    """A post (ActivityPub `Note`), local or remote. Deleted ones stay as tombstones."""

    __tablename__ = "statuses"
    __table_args__ = (
        sa.Index("ix_statuses_actor_id_id", "actor_id", "id"),
    )

    id: int = Field(default_factory=new_id, sa_column=_id_column())
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
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())
    edited_at: datetime | None = Field(default=None, sa_column=_time_column(nullable=True))
    deleted_at: datetime | None = Field(default=None, sa_column=_time_column(nullable=True))


class InboxItem(SQLModel, table=True):
    """An activity accepted at an inbox (signature checked), waiting for the worker.

    One row per activity id: a redelivery finds the row and changes nothing.
    """

    __tablename__ = "inbox_items"
    __table_args__ = (sa.Index("ix_inbox_items_due", "state", "process_after"),)

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    activity_id: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False, unique=True))
    activity_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    actor_uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    # pending → done | ignored | failed
    state: str = Field(default="pending", sa_column=sa.Column(sa.String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())
    process_after: datetime = Field(default_factory=utcnow, sa_column=_time_column())
    processed_at: datetime | None = Field(default=None, sa_column=_time_column(nullable=True))
    outcome: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))


class Delivery(SQLModel, table=True):
    """One activity to POST to one inbox. Written in the transaction that made the activity."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.UniqueConstraint("activity_uri", "inbox_uri", name="uq_deliveries_activity_inbox"),
        sa.Index("ix_deliveries_due", "state", "next_attempt_at"),
    )

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    activity_uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    inbox_uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    host: str = Field(sa_column=sa.Column(sa.String(255), nullable=False, index=True))
    signer_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False)
    )
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    # pending → delivered | gave_up
    state: str = Field(default="pending", sa_column=sa.Column(sa.String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())
    # Set while a worker holds the row; a crashed worker's claim expires.
    claimed_until: datetime | None = Field(default=None, sa_column=_time_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())
    delivered_at: datetime | None = Field(default=None, sa_column=_time_column(nullable=True))
    last_error: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))


class Host(SQLModel, table=True):
    """What we learned about a remote host while delivering to it."""

    __tablename__ = "hosts"

    host: str = Field(sa_column=sa.Column(sa.String(255), primary_key=True))
    # None: not tried yet; True/False: whether it accepted an RFC 9421 signature.
    accepts_rfc9421: bool | None = Field(default=None, sa_column=sa.Column(sa.Boolean, nullable=True))
    consecutive_failures: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    parked_until: datetime | None = Field(default=None, sa_column=_time_column(nullable=True))
    last_success_at: datetime | None = Field(default=None, sa_column=_time_column(nullable=True))
    last_failure_at: datetime | None = Field(default=None, sa_column=_time_column(nullable=True))


class Tombstone(SQLModel, table=True):
    """An object or activity id known to be deleted or undone, so a late copy never resurrects it."""

    __tablename__ = "tombstones"

    uri: str = Field(sa_column=sa.Column(sa.String(2048), primary_key=True))
    actor_uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())


class Favourite(SQLModel, table=True):
    __tablename__ = "favourites"
    __table_args__ = (sa.UniqueConstraint("actor_id", "status_id", name="uq_favourites_pair"),)

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), unique=True))
    actor_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False))
    status_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("statuses.id"), nullable=False, index=True)
    )
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())


class Block(SQLModel, table=True):
    __tablename__ = "blocks"
    __table_args__ = (sa.UniqueConstraint("actor_id", "target_id", name="uq_blocks_pair"),)

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), unique=True))
    actor_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False))
    target_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())


class Mention(SQLModel, table=True):
    """An actor named in a status's addressing or tags: who a direct post is for."""

    __tablename__ = "mentions"
    __table_args__ = (sa.UniqueConstraint("status_id", "actor_uri", name="uq_mentions_pair"),)

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    status_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("statuses.id"), nullable=False, index=True)
    )
    actor_uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False, index=True))


class StatusTag(SQLModel, table=True):
    __tablename__ = "status_tags"
    __table_args__ = (sa.UniqueConstraint("status_id", "name", name="uq_status_tags_pair"),)

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    status_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("statuses.id"), nullable=False, index=True)
    )
    name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False, index=True))


class MediaAttachment(SQLModel, table=True):
    """Metadata of a picture or file attached to a status (remote ones stay remote)."""

    __tablename__ = "media_attachments"

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    status_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("statuses.id"), index=True)
    )
    remote_url: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    media_type: str = Field(default="", sa_column=sa.Column(sa.String(255), nullable=False))
    description: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    blurhash: str | None = Field(default=None, sa_column=sa.Column(sa.String(255)))
    width: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))
    height: int | None = Field(default=None, sa_column=sa.Column(sa.Integer))


class OAuthApp(SQLModel, table=True):
    """A client application registered through `POST /api/v1/apps` (or by the CLI)."""

    __tablename__ = "oauth_apps"

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    client_id: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    client_secret: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    website: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), nullable=True))
    # Newline-separated, matched exactly at /oauth/authorize and /oauth/token.
    redirect_uris: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    # Space-separated, as registered.
    scopes: str = Field(default="read", sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())


class OAuthAuthorizationCode(SQLModel, table=True):
    """A one-time code handed to a client after consent; only its sha256 is kept."""

    __tablename__ = "oauth_authorization_codes"

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    code_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    app_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("oauth_apps.id"), nullable=False, index=True)
    )
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("users.id"), nullable=False))
    redirect_uri: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    scopes: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    code_challenge: str | None = Field(default=None, sa_column=sa.Column(sa.String(128), nullable=True))
    code_challenge_method: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())
    expires_at: datetime = Field(sa_column=_time_column())
    used_at: datetime | None = Field(default=None, sa_column=_time_column(nullable=True))


class OAuthAccessToken(SQLModel, table=True):
    """A bearer token; only its sha256 is kept. `user_id` is None for client_credentials tokens."""

    __tablename__ = "oauth_access_tokens"

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    app_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("oauth_apps.id"), nullable=False, index=True)
    )
    user_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("users.id"), nullable=True, index=True)
    )
    scopes: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())
    revoked_at: datetime | None = Field(default=None, sa_column=_time_column(nullable=True))


class LoginAttempt(SQLModel, table=True):
    """A failed sign-in, counted per account and per client address to slow password guessing.

    Kept in the database so that every process behind the proxy sees the same counts.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("ix_login_attempts_account", "account_key", "created_at"),
        sa.Index("ix_login_attempts_address", "address", "created_at"),
    )

    id: int = Field(default_factory=new_id, sa_column=_id_column())
    # The lower-cased username or email that was typed, whether or not it exists.
    account_key: str = Field(sa_column=sa.Column(sa.String(320), nullable=False))
    address: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_time_column())
