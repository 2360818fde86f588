"""OAuth 2 for client apps: registered apps, one-time codes, tokens, failed sign-ins."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.ids import new_id
from storage.tables.columns import id_column, time_column, utcnow


class OAuthApp(SQLModel, table=True):
    """A client application registered through `POST /api/v1/apps` (or by the CLI)."""

    __tablename__ = "oauth_apps"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    client_id: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    client_secret: str = Field(sa_column=sa.Column(sa.String(128), nullable=False))
    name: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    website: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), nullable=True))
    # Newline-separated, matched exactly at /oauth/authorize and /oauth/token.
    redirect_uris: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    # Space-separated, as registered.
    scopes: str = Field(default="read", sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class OAuthAuthorizationCode(SQLModel, table=True):
    """A one-time code handed to a client after consent; only its sha256 is kept."""

    __tablename__ = "oauth_authorization_codes"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    code_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    app_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("oauth_apps.id"), nullable=False, index=True)
    )
    user_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("users.id"), nullable=False))
    redirect_uri: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    scopes: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    code_challenge: str | None = Field(default=None, sa_column=sa.Column(sa.String(128), nullable=True))
    code_challenge_method: str | None = Field(default=None, sa_column=sa.Column(sa.String(16), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    expires_at: datetime = Field(sa_column=time_column())
    used_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))


class OAuthAccessToken(SQLModel, table=True):
    """A bearer token; only its sha256 is kept. `user_id` is None for client_credentials tokens."""

    __tablename__ = "oauth_access_tokens"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    token_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    app_id: int = Field(
        sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("oauth_apps.id"), nullable=False, index=True)
    )
    user_id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("users.id"), nullable=True, index=True)
    )
    scopes: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    revoked_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))


class LoginAttempt(SQLModel, table=True):
    """A failed sign-in, counted per account and per client address to slow password guessing.

    Kept in the database so that every process behind the proxy sees the same counts.
    """

    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("ix_login_attempts_account", "account_key", "created_at"),
        sa.Index("ix_login_attempts_address", "address", "created_at"),
    )

    id: int = Field(default_factory=new_id, sa_column=id_column())
    # The lower-cased username or email that was typed, whether or not it exists.
    account_key: str = Field(sa_column=sa.Column(sa.String(320), nullable=False))
    address: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
