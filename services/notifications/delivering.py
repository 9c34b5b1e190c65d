"""Use cases: tell a member that a document arrived, by email or by post;
collect letters into print batches; show the delivery log.

Never twice: the inbox claim, the notification row and the outbox event are
written in the transaction that wraps the delivery itself. A concurrent
duplicate blocks on the inbox's unique key until the first one commits, then
skips; a failed delivery rolls everything back and is retried. The only
window left is a crash after the SMTP server accepted the mail and before
the commit: the resend carries the same Message-ID (a letter rewrites the
same file), so it is recognisable.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from carpimko import inbox, outbox
from carpimko.events import Event, new_event

from . import letters
from .models import Inbox, Letter, LetterBatch, Notification, Outbox

DOCUMENT_CONSUMER = "notifications.on_document_generated"
_NAMESPACE = uuid.UUID("6f1c3d4e-2b7a-4c1e-9a55-0c2f8e7d9b10")


def notification_id_for(event_id: str, channel: str) -> str:
    """Deterministic, so every retry of the same delivery has the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{event_id}:{channel}"))


def to_announce(event: Event) -> bool:
    """``document_generated`` V2 says whether the member is told of this document
    (false: announced with another one of the same chain); V1 always was."""
    return event.payload.get("notify", True)


def announced_titles(event: Event) -> str:
    """The document's title, and those issued with it (``also_issued``, V2)."""
    return ", ".join([event.payload["title"], *event.payload.get("also_issued", [])])


def already_processed(session: Session, event_id: str) -> bool:
    return session.get(Inbox, (DOCUMENT_CONSUMER, event_id)) is not None


def claim(session: Session, event: Event) -> bool:
    return inbox.claim(session, Inbox, DOCUMENT_CONSUMER, event.event_id)


def not_processed(session: Session, events: list[Event]) -> list[Event]:
    """The events of a batch not processed yet, each once, in order: one query.

    A batch may carry the same event twice (a redelivery next to the
    original); the second is dropped here, and the inbox claim made with each
    delivery stops a copy handled by a concurrent batch."""
    return inbox.unprocessed(session, Inbox, DOCUMENT_CONSUMER, events)


def claim_all(session: Session, events: list[Event]) -> set[str]:
    """Claim every event of ``events`` in one statement; the ids newly claimed."""
    return inbox.claim_many(session, Inbox, DOCUMENT_CONSUMER, [e.event_id for e in events])


def record(session: Session, event: Event, channel: str, notification_id: str,
           reference: str, note: str = "") -> None:
    _write(session, _notification(event, channel, notification_id, reference=reference[:300],
                                  status="sent", note=note),
           new_event("notification_sent",
                     {"notification_id": notification_id, "channel": channel,
                      "document_id": event.payload["document_id"],
                      "reference": reference[:300]},
                     member_id=event.member_id, cause=event))


def record_failure(session: Session, event: Event, channel: str, notification_id: str,
                   reason: str) -> None:
    """Nothing could be sent (e.g. no usable address): keep it visible, never drop it."""
    _write(session, _notification(event, channel, notification_id, reference="",
                                  status="failed", note=reason),
           new_event("notification_failed",
                     {"notification_id": notification_id, "channel": channel,
                      "document_id": event.payload["document_id"], "reason": reason},
                     member_id=event.member_id, cause=event))


def record_bounce(session: Session, event: Event, address: str, code: int, reason: str,
                  notification_id: str) -> None:
    _write(session, None, new_event(
        "email_bounced",
        {"address": address, "smtp_code": code, "reason": reason[:500],
         "notification_id": notification_id},
        member_id=event.member_id, cause=event))


def _notification(event: Event, channel: str, notification_id: str, *, reference: str,
                  status: str, note: str) -> dict:
    return {"id": notification_id, "delivery_key": f"{event.event_id}:{channel}",
            "file_number": event.member_id, "channel": channel, "kind": event.payload["kind"],
            "title": event.payload["title"], "document_id": str(event.payload["document_id"]),
            "correlation_id": event.correlation_id, "reference": reference, "status": status,
            "note": note, "sent_at": datetime.now(timezone.utc)}


def _write(session: Session, notification: dict | None, envelope: dict) -> None:
    """The notification row and its outbox event, in the session's transaction."""
    connection = session.connection()
    if notification is not None:
        connection.execute(insert(Notification.__table__), notification)
    connection.execute(insert(Outbox.__table__), outbox.row(envelope))


def queue_letter(session: Session, notification_id: str, contact: dict, path: Path,
                 pages: int) -> None:
    """Queue the letter for the next print batch, once (a letter already
    queued under this notification id stays as it is)."""
    session.connection().execute(_QUEUE_LETTER, {
        "id": notification_id, "file_number": contact["file_number"],
        "full_name": contact["full_name"],
        "address": letters.address_json(contact["address_lines"]), "path": str(path),
        "pages": pages, "queued_at": datetime.now(timezone.utc)})


_QUEUE_LETTER = text(
    f"INSERT INTO {Letter.__tablename__} (id, file_number, full_name, address, path, pages, "
    "queued_at) VALUES (:id, :file_number, :full_name, :address, :path, :pages, :queued_at) "
    "ON CONFLICT DO NOTHING"
).bindparams(bindparam("queued_at", type_=Letter.__table__.c.queued_at.type))


def close_batch(database, root: Path, cut_off: datetime) -> dict | None:
    """Close a print batch with every queued letter up to ``cut_off``.

    One batch per cut-off (unique): two copies of the service closing the same
    batch cannot both succeed. Returns the batch, or None when nothing is queued
    or the batch already exists."""
    with database.transaction() as session:
        if session.scalar(select(LetterBatch).where(LetterBatch.cut_off == cut_off)):
            return None
        queued = session.scalars(
            select(Letter).where(Letter.batch_id.is_(None), Letter.queued_at <= cut_off)
            .order_by(Letter.queued_at, Letter.id).with_for_update(skip_locked=True)).all()
        if not queued:
            return None
        batch_id = letters.batch_id_for(cut_off)
        built = letters.build_batch(
            [letters.QueuedLetter(l.id, l.file_number, l.full_name, json.loads(l.address),
                                  l.path, l.pages) for l in queued],
            root / "batches", batch_id)
        batch = LetterBatch(id=batch_id, cut_off=cut_off, closed_at=datetime.now(timezone.utc),
                            **built)
        session.add(batch)
        session.flush()
        for letter in queued:
            letter.batch_id = batch_id
        try:
            session.flush()
        except IntegrityError:
            return None
        return batch_view(batch)


def batch_view(batch: LetterBatch) -> dict:
    return {"id": batch.id, "cut_off": _iso(batch.cut_off), "closed_at": _iso(batch.closed_at),
            "letters": batch.letter_count, "pages": batch.page_count, "pdf": batch.pdf_path,
            "manifest": batch.manifest_path, "sha256": batch.sha256}


def letters_overview(session: Session) -> dict:
    queued = session.scalars(select(Letter).where(Letter.batch_id.is_(None))
                             .order_by(Letter.queued_at)).all()
    batches = session.scalars(select(LetterBatch).order_by(LetterBatch.cut_off.desc())
                              .limit(30)).all()
    return {"queued": [{"id": l.id, "file_number": l.file_number, "queued_at": _iso(l.queued_at),
                        "pages": l.pages} for l in queued],
            "batches": [batch_view(b) for b in batches]}


def batch_letters(session: Session, batch_id: str) -> list[dict]:
    rows = session.scalars(select(Letter).where(Letter.batch_id == batch_id)
                           .order_by(Letter.queued_at, Letter.id)).all()
    return [{"id": l.id, "file_number": l.file_number, "name": l.full_name,
             "address": json.loads(l.address), "pages": l.pages} for l in rows]


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def notification_view(n: Notification) -> dict:
    return {"id": n.id, "channel": n.channel, "kind": n.kind, "title": n.title,
            "document_id": n.document_id, "status": n.status, "note": n.note,
            "sent_at": _iso(n.sent_at)}


def for_correlation(session: Session, file_number: str, correlation_id: str) -> list[dict]:
    rows = session.scalars(select(Notification).where(
        Notification.file_number == file_number,
        Notification.correlation_id == correlation_id).order_by(Notification.sent_at)).all()
    return [notification_view(n) for n in rows]


# The member's latest deliveries (the dashboard asks for them on each view): the
# columns ``notification_view`` shows, in one Core statement built once, rather
# than a statement, its cache key and an ORM object per row on every call (profiled).
_N = Notification.__table__.c
DELIVERY_LOG = (select(_N.id, _N.channel, _N.kind, _N.title, _N.document_id, _N.status, _N.note,
                       _N.sent_at)
                .where(_N.file_number == bindparam("file_number"))
                .order_by(_N.sent_at.desc()).limit(bindparam("limit")))


def delivery_log(session: Session, file_number: str, limit: int = 100) -> list[dict]:
    return [notification_view(n) for n in session.execute(
        DELIVERY_LOG, {"file_number": file_number, "limit": limit})]
