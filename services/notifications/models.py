"""The notifications service's tables: one row per notification delivered,
keyed by (source event, channel) so a notification is sent at most once."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Index, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from carpimko.inbox import InboxMixin
from carpimko.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class Notification(Base):
    __tablename__ = "notifications"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    delivery_key: Mapped[str] = mapped_column(String(120), unique=True)  # event id + channel
    file_number: Mapped[str] = mapped_column(String(9))
    channel: Mapped[str] = mapped_column(String(8))  # email, post
    kind: Mapped[str] = mapped_column(String(40))
    document_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    correlation_id: Mapped[str] = mapped_column(String(64), index=True)
    reference: Mapped[str] = mapped_column(String(300))  # Message-ID, or the letter's file
    status: Mapped[str] = mapped_column(String(16))  # sent
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_notifications_member", "file_number", "sent_at"),)
