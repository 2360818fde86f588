"""Moderation records: reports (made here or forwarded by other servers), domain policy, shared
blocklists, warnings to local accounts, and the append-only audit log."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlmodel import Field, SQLModel

from storage.ids import new_id
from storage.tables.columns import id_column, time_column, utcnow


class Report(SQLModel, table=True):
    """A report in this instance's moderation queue.

    `reporter_id` is a local person for reports made here, or the remote actor (usually an
    instance actor) that sent a `Flag`; `uri` is the Flag's id then, so a redelivery reports once.
    """

    __tablename__ = "reports"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    uri: str | None = Field(default=None, sa_column=sa.Column(sa.String(2048), unique=True))
    reporter_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False))
    target_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id"), nullable=False,
                                               index=True))
    # Space-separated status ids (ours), in the order given.
    status_ids: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    category: str = Field(default="other", sa_column=sa.Column(sa.String(16), nullable=False))
    comment: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    forwarded: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    action_taken_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    # The moderator who took the report on, and the one who resolved it (local actors).
    assigned_to_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.BigInteger, sa.ForeignKey("actors.id"), nullable=True))
    action_taken_by_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.BigInteger, sa.ForeignKey("actors.id"), nullable=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class DomainBlock(SQLModel, table=True):
    """This instance's policy for one remote domain and its subdomains (Mastodon's domain block).

    `severity`: `silence` (limited: hidden from public timelines, follows need approval,
    notifications only from followed accounts), `suspend` (refuse everything), or `noop` (only
    the media/report flags apply). `subscription_id` is set when the entry came from a shared
    blocklist, so that a retraction at the source removes only what that list put here.
    """

    __tablename__ = "domain_blocks"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    domain: str = Field(sa_column=sa.Column(sa.String(255), nullable=False, unique=True))
    severity: str = Field(default="silence", sa_column=sa.Column(sa.String(16), nullable=False))
    reject_media: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    reject_reports: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    private_comment: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    public_comment: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    obfuscate: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    subscription_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.BigInteger, sa.ForeignKey("blocklist_subscriptions.id", ondelete="SET NULL"), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    updated_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class DomainAllow(SQLModel, table=True):
    """A domain federated with in `allowlist` mode, besides the network's members."""

    __tablename__ = "domain_allows"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    domain: str = Field(sa_column=sa.Column(sa.String(255), nullable=False, unique=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class AuditEntry(SQLModel, table=True):
    """One moderation action, or one moderator's read of private content: who, what, when, why.

    Append-only: the database refuses UPDATE and DELETE on this table (triggers, migration 0012).
    `actor_id` is the local moderator, or None for the command line and the instance itself
    (`via` says which).
    """

    __tablename__ = "audit_log"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    actor_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.BigInteger, sa.ForeignKey("actors.id"), nullable=True, index=True))
    via: str = Field(default="api", sa_column=sa.Column(sa.String(16), nullable=False))
    action: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, index=True))
    target_type: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    target: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    detail: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class AccountWarning(SQLModel, table=True):
    """A moderation action on a local account, as its owner sees it (Mastodon's account warning):
    shown through a `moderation_warning` notification."""

    __tablename__ = "account_warnings"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    target_id: int = Field(sa_column=sa.Column(sa.BigInteger, sa.ForeignKey("actors.id", ondelete="CASCADE"),
                                               nullable=False, index=True))
    action: str = Field(sa_column=sa.Column(sa.String(32), nullable=False))
    text: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    report_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.BigInteger, sa.ForeignKey("reports.id", ondelete="SET NULL"), nullable=True))
    status_ids: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class BlocklistSubscription(SQLModel, table=True):
    """Another member's published blocklist that this instance follows.

    `entries` is the list as last fetched (what changes are computed against); changes become
    `BlocklistChange` drafts, or apply at once when the source is `trusted`.
    """

    __tablename__ = "blocklist_subscriptions"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    url: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False, unique=True))
    trusted: bool = Field(default=False, sa_column=sa.Column(sa.Boolean, nullable=False))
    entries: list[dict[str, object]] = Field(default_factory=list, sa_column=sa.Column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False, server_default="[]"))
    refreshed_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    last_error: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())


class BlocklistChange(SQLModel, table=True):
    """One change seen in a subscribed blocklist: `add`, `update` or `retract` of a domain.
    `state`: pending (a draft awaiting an admin), applied, rejected, superseded (a newer change of
    the same domain from the same list replaced it before anyone decided)."""

    __tablename__ = "blocklist_changes"

    id: int = Field(default_factory=new_id, sa_column=id_column())
    subscription_id: int = Field(sa_column=sa.Column(
        sa.BigInteger, sa.ForeignKey("blocklist_subscriptions.id", ondelete="CASCADE"), nullable=False, index=True))
    domain: str = Field(sa_column=sa.Column(sa.String(255), nullable=False))
    change: str = Field(sa_column=sa.Column(sa.String(16), nullable=False))
    # The entry as the source lists it (severity, reject_media, reject_reports, public_comment,
    # obfuscate); empty for a retraction.
    entry: dict[str, object] = Field(default_factory=dict, sa_column=sa.Column(
        sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False, server_default="{}"))
    state: str = Field(default="pending", sa_column=sa.Column(sa.String(16), nullable=False))
    decided_by_id: int | None = Field(default=None, sa_column=sa.Column(
        sa.BigInteger, sa.ForeignKey("actors.id"), nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    decided_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
