"""Use case: tell a member that a document arrived, by email or by post.

Never twice: the inbox claim, the notification row and the outbox event are
written in the transaction that wraps the delivery itself. A concurrent
duplicate blocks on the inbox's unique key until the first one commits, then
skips; a failed delivery rolls everything back and is retried. The only
window left is a crash after the SMTP server accepted the mail and before
the commit: the resend carries the same Message-ID (a letter rewrites the
same file), so it is recognisable.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from carpimko import inbox, outbox
from carpimko.errors import PermanentFailure
from carpimko.events import Event, new_event

from . import channels
from .models import Inbox, Notification, Outbox

DOCUMENT_CONSUMER = "notifications.on_document_generated"
_NAMESPACE = uuid.UUID("6f1c3d4e-2b7a-4c1e-9a55-0c2f8e7d9b10")


def notification_id_for(event_id: str, channel: str) -> str:
    """Deterministic, so every retry of the same delivery has the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{event_id}:{channel}"))


def already_processed(session: Session, event_id: str) -> bool:
    return session.get(Inbox, (DOCUMENT_CONSUMER, event_id)) is not None


def plan(contact: dict, event: Event) -> tuple[str, str]:
    channel = channels.choose_channel(contact)
    if channel == channels.POST and not channels.usable_postal_address(contact):
        raise PermanentFailure(f"member {event.member_id} has no usable postal address")
    return channel, notification_id_for(event.event_id, channel)


def claim(session: Session, event: Event) -> bool:
    return inbox.claim(session, Inbox, DOCUMENT_CONSUMER, event.event_id)


def record(session: Session, event: Event, channel: str, notification_id: str,
           reference: str) -> None:
    now = datetime.now(timezone.utc)
    session.add(Notification(
        id=notification_id, delivery_key=f"{event.event_id}:{channel}",
        file_number=event.member_id, channel=channel, kind=event.payload["kind"],
        document_id=str(event.payload["document_id"]), correlation_id=event.correlation_id,
        reference=reference[:300], status="sent", sent_at=now))
    outbox.add(session, Outbox, new_event(
        "notification_sent",
        {"notification_id": notification_id, "channel": channel,
         "document_id": event.payload["document_id"], "reference": reference[:300]},
        member_id=event.member_id, cause=event))


def notification_view(n: Notification) -> dict:
    sent = n.sent_at if n.sent_at.tzinfo else n.sent_at.replace(tzinfo=timezone.utc)
    return {"id": n.id, "channel": n.channel, "kind": n.kind, "document_id": n.document_id,
            "status": n.status, "sent_at": sent.isoformat()}


def for_correlation(session: Session, file_number: str, correlation_id: str) -> list[dict]:
    rows = session.scalars(select(Notification).where(
        Notification.file_number == file_number,
        Notification.correlation_id == correlation_id).order_by(Notification.sent_at)).all()
    return [notification_view(n) for n in rows]
