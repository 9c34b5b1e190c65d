"""The inbox: a consumer records each event id in the same transaction as its
effect, so a redelivered event is a no-op."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, String, insert, select
from sqlalchemy.orm import Mapped, Session, mapped_column


class InboxMixin:
    __tablename__ = "inbox"
    consumer: Mapped[str] = mapped_column(String(120), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


def _insert(session: Session, inbox_model):
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(inbox_model)


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


def processed(session: Session, inbox_model, consumer: str, event_ids) -> set[str]:
    """Which of ``event_ids`` ``consumer`` already recorded: one query for a batch."""
    ids = list(set(event_ids))
    if not ids:
        return set()
    return set(session.scalars(select(inbox_model.event_id).where(
        inbox_model.consumer == consumer, inbox_model.event_id.in_(ids))))


def claim_many(session: Session, inbox_model, consumer: str, event_ids) -> set[str]:
    """Record every id of ``event_ids`` in one statement; returns those that
    were not there yet (same ``ON CONFLICT DO NOTHING`` as :func:`claim`).
    Sorted, so two batches claiming the same events concurrently take the
    unique-key locks in the same order and cannot deadlock."""
    ids = sorted(set(event_ids))
    if not ids:
        return set()
    now = datetime.now(timezone.utc)
    stmt = (_insert(session, inbox_model)
            .values([{"consumer": consumer, "event_id": i, "processed_at": now} for i in ids])
            .on_conflict_do_nothing()
            .returning(inbox_model.event_id))
    return set(session.scalars(stmt))


__all__ = ["InboxMixin", "claim", "claim_many", "insert", "processed"]
