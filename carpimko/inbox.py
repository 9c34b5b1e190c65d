"""The inbox: a consumer records each event id in the same transaction as its
effect, so a redelivered event is a no-op."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, String, insert
from sqlalchemy.orm import Mapped, Session, mapped_column


class InboxMixin:
    __tablename__ = "inbox"
    consumer: Mapped[str] = mapped_column(String(120), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def claim(session: Session, inbox_model, consumer: str, event_id: str) -> bool:
    """Record ``event_id`` for ``consumer``; False when it was already there.

    ``INSERT … ON CONFLICT DO NOTHING RETURNING``: a concurrent duplicate
    blocks on the unique index until the first transaction ends, then skips.
    """
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = (
        dialect_insert(inbox_model)
        .values(consumer=consumer, event_id=event_id, processed_at=datetime.now(timezone.utc))
        .on_conflict_do_nothing()
        .returning(inbox_model.event_id)
    )
    return session.execute(stmt).first() is not None


__all__ = ["InboxMixin", "claim", "insert"]
