"""The member's profile: email (confirmed by a link before it is used for
anything), postal address, phone (service layer).

- ``update(file_number, changes)``: the address and the phone change at
  once; a new email waits for confirmation (``email_verification_requested``:
  the notifications service asks ``issue_email_secret`` for the link and
  sends it to the new address). Every applied change emits
  ``contact_details_changed`` with the previous email / address, which the
  notifications service tells.
- ``confirm_email(token)``: the link's token (24 hours, single use, SHA-256
  stored) makes the new address the member's verified email.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from carpimko import outbox
from carpimko.errors import InvalidRequest, NotFound
from carpimko.events import new_event

from . import audit
from .domain import contact_rules, secrets
from .models import EmailChange, Member, Outbox

EMAIL_LINK_LIFETIME = timedelta(hours=24)
FIELDS = {"email", "phone", "address"}


def view(member: Member) -> dict:
    return {"email": member.email, "email_verified": bool(member.email_verified),
            "email_bounced": member.email_bounced_at is not None, "phone": member.phone,
            "address": {"line1": member.address_line1, "line2": member.address_line2,
                        "postcode": member.postcode, "city": member.city,
                        "country": member.country or contact_rules.FRANCE},
            "address_lines": member.address_lines}


def get(session: Session, file_number: str) -> dict:
    member = session.get(Member, file_number)
    if member is None:
        raise NotFound(f"no member {file_number}", {})
    result = view(member)
    pending = _pending(session, file_number, datetime.now(timezone.utc))
    result["pending_email"] = pending.new_email if pending else None
    return result


def _pending(session: Session, file_number: str, now: datetime) -> EmailChange | None:
    row = session.scalar(select(EmailChange).where(
        EmailChange.file_number == file_number, EmailChange.ended_at.is_(None))
        .order_by(EmailChange.requested_at.desc()).limit(1))
    return row if row is not None and _aware(row.expires_at) > now else None


def update(session: Session, file_number: str, changes: dict, client: str | None = None) -> dict:
    member = session.get(Member, file_number)
    if member is None:
        raise NotFound(f"no member {file_number}", {})
    if not isinstance(changes, dict) or not changes:
        raise InvalidRequest("nothing to change", {"_body": ["contact_nothing"]})
    unknown = set(changes) - FIELDS
    if unknown:
        raise InvalidRequest("unknown fields", {name: ["Unknown field."] for name in unknown})
    errors: dict = {}
    new_email = phone = address = None
    if "email" in changes:
        new_email, e = contact_rules.check_email(changes["email"])
        errors.update(e)
    if "phone" in changes:
        phone, e = contact_rules.check_phone(changes["phone"])
        errors.update(e)
    if "address" in changes:
        address, e = contact_rules.check_address(changes["address"])
        errors.update(e)
    if errors:
        raise InvalidRequest("invalid contact details", errors)
    now = datetime.now(timezone.utc)
    applied = []
    previous_lines = list(member.address_lines)
    if "phone" in changes and phone != member.phone:
        member.phone = phone
        applied.append("phone")
    if address is not None and _address_of(member) != address:
        member.address_line1, member.address_line2 = address["line1"], address["line2"]
        member.postcode, member.city = address["postcode"] or "", address["city"]
        member.country = address["country"]
        applied.append("address")
    if applied:
        _changed(session, member, applied, None,
                 previous_lines if "address" in applied else None, client, now)
    verification = None
    if new_email is not None and (new_email.lower() != (member.email or "").lower()
                                  or not member.email_verified):
        for row in session.scalars(select(EmailChange).where(
                EmailChange.file_number == file_number, EmailChange.ended_at.is_(None))):
            row.ended_at, row.end_reason = now, "superseded"
        change_id = str(uuid.uuid4())
        session.add(EmailChange(id=change_id, file_number=file_number, new_email=new_email,
                                requested_at=now, expires_at=now + EMAIL_LINK_LIFETIME))
        outbox.add(session, Outbox, new_event(
            "email_verification_requested",
            {"change_id": change_id, "expires_in_minutes": int(EMAIL_LINK_LIFETIME.total_seconds() // 60)},
            member_id=file_number))
        audit.record(session, "email_change_requested", file_number, client=client)
        verification = new_email
    return {"applied": applied, "email_pending_verification": verification, **view(member)}


def _address_of(member: Member) -> dict:
    return {"line1": member.address_line1, "line2": member.address_line2,
            "postcode": member.postcode or None, "city": member.city,
            "country": member.country or contact_rules.FRANCE}


def _changed(session, member, changed, previous_email, previous_lines, client, now) -> None:
    outbox.add(session, Outbox, new_event(
        "contact_details_changed",
        {"changed": changed, "previous_email": previous_email,
         "previous_address_lines": previous_lines}, member_id=member.file_number))
    audit.record(session, "profile_changed", member.file_number, client=client, fields=changed)


def issue_email_secret(session: Session, change_id: str) -> dict | None:
    now = datetime.now(timezone.utc)
    row = session.get(EmailChange, str(change_id), with_for_update=True)
    if row is None or row.ended_at is not None or _aware(row.expires_at) <= now:
        return None
    token = secrets.new_link_token()
    row.secret_hash = secrets.digest(token)
    return {"file_number": row.file_number, "email": row.new_email, "secret": token}


def confirm_email(session: Session, token: str, client: str | None = None) -> dict | None:
    """The confirmed address, or None for a dead or unknown link."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    now = datetime.now(timezone.utc)
    row = session.scalar(select(EmailChange).where(EmailChange.secret_hash == secrets.digest(token)))
    if row is None or row.ended_at is not None or _aware(row.expires_at) <= now:
        return None
    member = session.get(Member, row.file_number)
    previous = member.email if member.email and member.email.lower() != row.new_email.lower() else None
    member.email, member.email_verified, member.email_bounced_at = row.new_email, True, None
    row.ended_at, row.end_reason = now, "confirmed"
    _changed(session, member, ["email"], previous, None, client, now)
    return {"email": member.email}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
