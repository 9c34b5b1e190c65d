"""Use cases about a member's contact details (service layer)."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session

from carpimko import inbox
from carpimko.events import Event

from .models import Inbox, Member

BOUNCE_CONSUMER = "accounts.on_email_bounced"


def flag_bounced_email(session: Session, event: Event) -> bool:
    """Mark the member's address as bouncing, so mail goes by post until the
    member fixes it. Ignored when the member changed the address since."""
    if not inbox.claim(session, Inbox, BOUNCE_CONSUMER, event.event_id):
        return False
    member = session.get(Member, event.member_id)
    if member is None or (member.email or "").lower() != event.payload["address"].lower():
        return False
    member.email_bounced_at = datetime.now(timezone.utc)
    return True
