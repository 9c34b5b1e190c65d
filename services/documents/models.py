"""The documents service's tables: document metadata (content lives in the
content store, addressed by its SHA-256)."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, Date, DateTime, Index, Integer, String, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from carpimko.inbox import InboxMixin
from carpimko.outbox import OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class Document(Base):
    """An issued document: immutable; a new version supersedes, never overwrites."""

    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    file_number: Mapped[str] = mapped_column(String(9))
    kind: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(200))
    year: Mapped[int | None] = mapped_column(Integer, nullable=True)
    correlation_id: Mapped[str] = mapped_column(String(64), index=True)
    source_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    # None: the content is not kept (a letter carrying a one-time code), or not
    # rendered yet (``snapshot`` set: rendered and stored on first read)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    media_type: Mapped[str] = mapped_column(String(60), default="application/pdf")
    issued_on: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    superseded_by: Mapped[str | None] = mapped_column(String(36), nullable=True)
    # SHA-256 of the verification code printed on the document (never the code)
    verification_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # what the public verification page may show of the member ("C. M.")
    member_initials: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # documents rendered on first read (see ``deferred``): the renderer's data
    # as issued, written once ({"public_url": ..., "data": {...}}, without the
    # verification code), and the LAYOUT_VERSION they are to be drawn with;
    # None for documents rendered at issue
    # none_as_null: a document without a snapshot has SQL NULL there, not the JSON
    # value null (SQLAlchemy's default for None), which ``snapshot IS NULL`` would
    # not see: a letter would then look like a document waiting for its first read
    snapshot: Mapped[dict | None] = mapped_column(JSON(none_as_null=True), nullable=True)
    layout_version: Mapped[str | None] = mapped_column(String(20), nullable=True)

    __table_args__ = (
        Index("ix_documents_member", "file_number", "created_at"),
        Index("ux_documents_verification_hash", "verification_hash", unique=True),
        # the member's current document of a kind and year, the one a new issue
        # supersedes (``issuing.supersede_many``): without it PostgreSQL may join a
        # batch's keys to the whole table (a sequential scan per batch while the
        # table grows faster than its statistics: docs/benchmarks.md, fifth run)
        Index("ix_documents_current", "file_number", "kind", "year",
              postgresql_where=text("superseded_by IS NULL"),
              sqlite_where=text("superseded_by IS NULL")),
    )
