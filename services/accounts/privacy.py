"""The member's personal data held by accounts, for the GDPR access right
(the gateway adds what the other services expose)."""
from __future__ import annotations

from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from carpimko.errors import NotFound

from . import audit
from .models import Member, PasswordReset, WebSession


def _iso(value):
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value


def export(session: Session, file_number: str) -> dict:
    member = session.get(Member, file_number)
    if member is None:
        raise NotFound(f"no member {file_number}", {})
    identity = {name: _iso(getattr(member, name)) for name in (
        "file_number", "civility", "first_name", "last_name", "birth_date", "profession",
        "status", "email", "email_verified", "email_bounced_at", "prefers_paper",
        "address_line1", "address_line2", "postcode", "city", "country", "phone", "created_at")}
    identity["password_set"] = bool(member.password_hash)
    sessions = session.scalars(select(WebSession).where(WebSession.file_number == file_number)
                               .order_by(WebSession.created_at)).all()
    resets = session.scalars(select(PasswordReset).where(PasswordReset.file_number == file_number)
                             .order_by(PasswordReset.requested_at)).all()
    return {
        "identity": identity,
        "sessions": [{"opened_at": _iso(s.created_at), "last_seen_at": _iso(s.last_seen_at),
                      "expires_at": _iso(s.expires_at)} for s in sessions],
        "password_resets": [{"channel": r.channel, "requested_at": _iso(r.requested_at),
                             "ended_at": _iso(r.ended_at), "end_reason": r.end_reason}
                            for r in resets],
        "security_events": audit.events_of(session, file_number),
    }
