"""The inbox: a consumer records each event id in the same transaction as its
effect, so a redelivered event is a no-op."""
from __future__ import annotations

import functools
from datetime import datetime, timezone

from sqlalchemy import DateTime, String, bindparam, insert, select, text
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
    return session.execute(_claim_statement(inbox_model.__table__), {
        "consumer": consumer, "event_id": event_id,
        "processed_at": datetime.now(timezone.utc)}).first() is not None


@functools.lru_cache(maxsize=None)
def _claim_statement(table):
    """The claim of :func:`claim` for one inbox table, built once. Text, not
    the dialects' ``insert().on_conflict_do_nothing()``: SQLAlchemy gives those
    no cache key, so they were compiled again for every event. The same SQL on
    PostgreSQL and SQLite (3.35 and later)."""
    return text(
        f"INSERT INTO {table.name} (consumer, event_id, processed_at) "
        "VALUES (:consumer, :event_id, :processed_at) ON CONFLICT DO NOTHING RETURNING event_id"
    ).bindparams(bindparam("processed_at", type_=table.c.processed_at.type))


def processed(session: Session, inbox_model, consumer: str, event_ids) -> set[str]:
    """Which of ``event_ids`` ``consumer`` already recorded: one query for a batch."""
    ids = sorted(set(event_ids))
    if not ids:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        return set(session.scalars(_processed_statement(inbox_model.__table__),
                                   {"consumer": consumer, "event_ids": ids}))
    return set(session.scalars(select(inbox_model.event_id).where(
        inbox_model.consumer == consumer, inbox_model.event_id.in_(ids))))


def unprocessed(session: Session, inbox_model, consumer: str, events) -> list:
    """The events of a batch that ``consumer`` has not processed yet, in their
    order, each event id once (a redelivery may sit next to the original in the
    same batch): one query. Only spares work already done; the claim made with
    the effect is still what makes an event count once."""
    done = processed(session, inbox_model, consumer, [event.event_id for event in events])
    fresh: dict = {}
    for event in events:
        if event.event_id not in done:
            fresh.setdefault(event.event_id, event)
    return list(fresh.values())


@functools.lru_cache(maxsize=None)
def _processed_statement(table):
    """:func:`processed` on PostgreSQL: one lookup of the whole key per id.

    Why not ``consumer = :c AND event_id IN (...)``: with statistics taken
    while the inbox was small (a fresh deployment, the first minutes of a
    campaign), PostgreSQL read every row of the consumer through the key's
    first column and filtered the ids afterwards, a scan growing with the
    inbox (8 ms a batch at 80,000 rows, a quarter of PostgreSQL's CPU in the
    chain benchmark; docs/benchmarks.md). A ``LIMIT`` in a ``LATERAL``
    subquery is never flattened into a join, so each id is an equality on
    the whole primary key, whatever the statistics say."""
    return text(
        f"SELECT k.event_id FROM unnest(CAST(:event_ids AS VARCHAR[])) AS k(event_id) "
        f"CROSS JOIN LATERAL (SELECT 1 FROM {table.name} AS i WHERE i.consumer = :consumer "
        f"AND i.event_id = k.event_id LIMIT 1) AS hit")


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


__all__ = ["InboxMixin", "claim", "claim_many", "insert", "processed", "unprocessed"]
