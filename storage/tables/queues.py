"""Work queues: activities accepted at an inbox, deliveries to send, what we know of hosts."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from storage.ids import new_id
from storage.tables.columns import id_column, time_column, utcnow


class InboxItem(SQLModel, table=True):
    """An activity accepted at an inbox (signature checked), waiting for the worker.

    One row per activity id: a redelivery finds the row and changes nothing.
    """

    __tablename__ = "inbox_items"
    __table_args__ = (sa.Index("ix_inbox_items_due", "state", "process_after"),)

    id: int = Field(default_factory=new_id, sa_column=id_column())
    activity_id: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False, unique=True))
    activity_type: str = Field(sa_column=sa.Column(sa.String(64), nullable=False))
    actor_uri: str = Field(sa_column=sa.Column(sa.String(2048), nullable=False))
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    # pending → done | ignored | failed
    state: str = Field(default="pending", sa_column=sa.Column(sa.String(16), nullable=False))
    attempts: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    received_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    process_after: datetime = Field(default_factory=utcnow, sa_column=time_column())
    processed_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    outcome: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))


class Delivery(SQLModel, table=True):
    """One activity to POST to one inbox. Written in the transaction that made the activity."""

    __tablename__ = "deliveries"
    __table_args__ = (
        sa.UniqueConstraint("activity_uri", "inbox_uri", name="uq_deliveries_activity_inbox"),
        sa.Index("ix_deliveries_due", "state", "next_attempt_at"),
    )

    id: int = Field(default_factory=new_id, sa_column=id_column())
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
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    # Set while a worker holds the row; a crashed worker's claim expires.
    claimed_until: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=time_column())
    delivered_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    last_error: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False))


class Host(SQLModel, table=True):
    """What we learned about a remote host while delivering to it."""

    __tablename__ = "hosts"

    host: str = Field(sa_column=sa.Column(sa.String(255), primary_key=True))
    # None: not tried yet; True/False: whether it accepted an RFC 9421 signature.
    accepts_rfc9421: bool | None = Field(default=None, sa_column=sa.Column(sa.Boolean, nullable=True))
    consecutive_failures: int = Field(default=0, sa_column=sa.Column(sa.Integer, nullable=False))
    parked_until: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    last_success_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
    last_failure_at: datetime | None = Field(default=None, sa_column=time_column(nullable=True))
