"""The transactional outbox.

A service writes the events it emits into its own ``outbox`` table in the
same transaction as its state change; :func:`relay_batch` publishes them with
publisher confirms and marks them published. A crash between commit and
publish loses nothing: the rows are still pending and go out on the next run.
A relay killed mid-batch republishes the batch; consumers dedupe (inbox).
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import DateTime, Index, Integer, String, Text, insert, select, update
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column

PENDING = "pending"
PUBLISHED = "published"


class OutboxMixin:
    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default=PENDING)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    @declared_attr.directive
    def __table_args__(cls):  # a fresh Index per service's table
        return (Index("ix_outbox_status_id", "status", "id"),)


def add(session: Session, outbox_model, envelope: dict) -> None:
    """Stage an event (an envelope from ``events.new_event``) in this transaction."""
    session.add(outbox_model(**row(envelope)))


def row(envelope: dict) -> dict:
    """The outbox row of an envelope, for a Core ``INSERT`` (the column values
    :func:`add` stages through the ORM)."""
    return {"event_id": envelope["event_id"], "event_type": envelope["type"],
            "body": json.dumps(envelope, separators=(",", ":")), "status": PENDING,
            "created_at": datetime.now(timezone.utc)}


def add_many(session: Session, outbox_model, envelopes: list[dict]) -> None:
    """Stage several events in this transaction in one multi-row ``INSERT``
    (in the order given, which is the order the relay publishes them)."""
    session.execute(insert(outbox_model.__table__), [row(envelope) for envelope in envelopes])


def relay_batch(database, outbox_model, publish, limit: int = 200, publish_many=None) -> int:
    """Publish up to ``limit`` pending events, oldest first; return how many.

    ``publish(envelope)`` must return only once the broker confirmed; when
    given, ``publish_many(envelopes, bodies=...)`` is used instead for the
    whole batch (``bodies``: the rows' JSON, to be sent as stored rather than
    encoded again) and must return only once every one is confirmed (one
    wait, not one per event). Rows are
    locked with ``FOR UPDATE SKIP LOCKED`` so several relays (several copies
    of a service) share the work without publishing a row twice.
    """
    with database.transaction() as session:
        rows = session.execute(
            select(outbox_model.id, outbox_model.body)
            .where(outbox_model.status == PENDING)
            .order_by(outbox_model.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        envelopes = [json.loads(row.body) for row in rows]
        if publish_many is not None:
            publish_many(envelopes, bodies=[row.body for row in rows])
        else:
            for envelope in envelopes:
                publish(envelope)
        if rows:  # one statement for the batch, not one per row
            session.execute(update(outbox_model)
                            .where(outbox_model.id.in_([row.id for row in rows]))
                            .values(status=PUBLISHED, published_at=datetime.now(timezone.utc)))
        return len(rows)


def pending_count(database, outbox_model) -> int:
    from sqlalchemy import func
    with database.transaction() as session:
        return session.scalar(select(func.count()).select_from(outbox_model)
                              .where(outbox_model.status == PENDING))
