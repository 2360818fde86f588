"""Actors (local and remote), local users and their keys, follows and blocks."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel

from storage.ids import new_id
from storage.tables.columns import id_column, time_column, utcnow


class Actor(SQLModel, table=True):
    __tablename__ = "actors"
    __table_args__ = (
        sa.Index("ix_actors_domain_username", "domain", "username_key"),
        # Local usernames are unique case-insensitively (remote ones are their server's business).
        sa.Index("uq_actors_local_username", "username_key", unique=True,
                 sqlite_where=sa.text("domain IS NULL"), postgresql_where=sa.text("domain IS NULL")),
    )

    id: int = Field(default_factory=new_id, sa_column=id_column())
    uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False, unique=True))
    username: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    # Lower-cased username: usernames are unique case-insensitively on each domain.
    username_key: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    domain: str | None = Field(default=None, sa_column=sa.Column(sa.String(255), nullable=True))
    actor_type: str = Field(default="Person", sa_column=sa.Column(sa.String(32), nullable=False))
    display_name: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    summary: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    url: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), nullable=True))
    # Remote actors' pictures stay where their server keeps them; local ones are under /system/.
    avatar_url: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), nullable=True))
    header_url: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), nullable=True))
    # Profile fields: [{"name": plain text, "value": sanitised HTML}], in order.
    # JSONB on PostgreSQL, so that rows of actors still compare (DISTINCT, UNION).
    fields: list[dict[str, str]] = Field(default_factory=list, sa_column=sa.Column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False, server_default="[]"))
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
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    fetched_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    # Moderation of this account (local or remote), set by moderators here; None = not applied.
    # silenced: hidden from public timelines, follows need approval; suspended: refused and hidden;
    # sensitized: every attachment shown as sensitive.
    silenced_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    suspended_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    sensitized_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))

    @property
    def is_local(self) -> bool:
        return self.domain is None


class User(SQLModel, table=True):
    """A person who logs in here. Their public face is their `Actor`."""

    __tablename__ = "users"

    id: int = Field(default_factory=new_id, sa_column=id_column())
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
    # Mastodon's `source[sensitive]`: new posts are marked sensitive unless the app says otherwise.
    sensitive_by_default: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False,
                                                                          server_default=sa.false()))
    approved: bool = Field(default=True, sa_column=sa.Column(sa.Boolean, nullable=False))
    # What the person wrote when asking to join (approval mode), for the moderators.
    signup_reason: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, server_default=""))
    disabled: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    last_active_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


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

    id: int = Field(default_factory=new_id, sa_column=id_column())
    uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), unique=True))
    follower_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False)
    )
    followee_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False)
    )
    state: str = Field(default="pending", sa_column=sa.Column(sa.String(16), nullable=False))
    # The follower's own settings (Mastodon's `reblogs` and `notify`); never federated.
    show_reblogs: bool = Field(default=True, sa_column=sa.Column(sa.Boolean, nullable=False,
                                                                 server_default=sa.true()))
    notify: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False,
                                                            server_default=sa.false()))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class Block(SQLModel, table=True):
    __tablename__ = "blocks"
    __table_args__ = (sa.UniqueConstraint("actor_id", "target_id", name="uq_blocks_pair"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), unique=True))
    actor_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False))
    target_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
