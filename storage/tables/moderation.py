"""Moderation records: reports of accounts and posts, made here or forwarded by other servers."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
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
