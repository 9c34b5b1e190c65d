"""The notifications service's tables: one row per notification delivered,
keyed by (source event, channel) so a notification is sent at most once."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
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
    status: Mapped[str] = mapped_column(String(16))  # sent, failed
    sent_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    title: Mapped[str] = mapped_column(String(200), default="")
    note: Mapped[str] = mapped_column(Text, default="")  # why post instead of email, why it failed

    __table_args__ = (Index("ix_notifications_member", "file_number", "sent_at"),)


class Letter(Base):
    """A letter waiting for (or part of) a print batch for the mail house."""

    __tablename__ = "letters"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # the notification id
    file_number: Mapped[str] = mapped_column(String(9))
    full_name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(Text)  # JSON list of lines
    path: Mapped[str] = mapped_column(String(400))
    pages: Mapped[int] = mapped_column(Integer)
    queued_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    batch_id: Mapped[str | None] = mapped_column(ForeignKey("letter_batches.id"), nullable=True,
                                                 index=True)


class LetterBatch(Base):
    """A closed print batch: one merged PDF and a CSV manifest."""

    __tablename__ = "letter_batches"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # e.g. 2026-11-28T16:00
    cut_off: Mapped[datetime] = mapped_column(DateTime(timezone=True), unique=True)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    letter_count: Mapped[int] = mapped_column(Integer)
    page_count: Mapped[int] = mapped_column(Integer)
    pdf_path: Mapped[str] = mapped_column(String(400))
    manifest_path: Mapped[str] = mapped_column(String(400))
    sha256: Mapped[str] = mapped_column(String(64))
