"""First login and forgotten password: one feature (service layer).

1. ``request_reset(file_number)``: the same answer (None) whatever the file
   number; for a member, a request is written with an outbox event
   ``password_reset_requested`` (channel: email to a verified, non-bouncing
   address, else post). A new request supersedes every earlier one.
2. ``issue_secret(request_id)``: called by the notifications service right
   before it sends: a fresh email-link token (30 minutes) or letter code
   (15 days, ``CODE_ATTEMPTS`` tries) whose SHA-256 only is kept. The secret
   never travels on the bus nor sits in an outbox.
3. ``set_password_with_link`` / ``set_password_with_code``: check the secret
   and the password policy, set the password (never logs in), end the
   request, unlock the account, optionally end every session, and emit
   ``password_changed`` so the member is told.

Failures that must be remembered (a wrong code uses an attempt) are returned
as ``{"ok": False, ...}`` so the caller commits them before raising.
"""
from __future__ import annotations

import hmac
import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from carpimko import outbox
from carpimko.errors import InvalidRequest
from carpimko.events import new_event

from . import audit, authentication, throttle
from .domain import identity, password_policy, passwords, secrets
from .models import Member, Outbox, PasswordReset

LINK_LIFETIME = timedelta(minutes=30)
CODE_LIFETIME = timedelta(days=15)
CODE_ATTEMPTS = 5
MAX_REQUESTS_PER_DAY = 5  # more are ignored silently (same answer)
EMAIL, POST = "email", "post"


def channel_for(member: Member) -> str:
    """A link by email only to a verified address that has not bounced."""
    if member.email and member.email_verified and member.email_bounced_at is None:
        return EMAIL
    return POST


def lifetime(channel: str) -> timedelta:
    return LINK_LIFETIME if channel == EMAIL else CODE_LIFETIME


def request_reset(session: Session, file_number: str, client: str | None = None) -> None:
    if not identity.is_file_number(file_number):
        raise InvalidRequest("invalid file number", {"file_number": ["7 or 9 digits"]})
    now = datetime.now(timezone.utc)
    member = session.get(Member, file_number)
    if member is None:
        audit.record(session, "reset_requested", file_number, client=client, known=False)
        return None
    recent = session.scalar(select(func.count()).select_from(PasswordReset).where(
        PasswordReset.file_number == file_number,
        PasswordReset.requested_at > now - timedelta(days=1)))
    if recent >= MAX_REQUESTS_PER_DAY:
        audit.record(session, "reset_requested", file_number, client=client, ignored="daily limit")
        return None
    _supersede(session, file_number, now)
    channel = channel_for(member)
    request_id = str(uuid.uuid4())
    session.add(PasswordReset(id=request_id, file_number=file_number, channel=channel,
                              requested_at=now, expires_at=now + lifetime(channel), attempts=0))
    outbox.add(session, Outbox, new_event(
        "password_reset_requested",
        {"request_id": request_id, "channel": channel,
         "expires_in_minutes": int(lifetime(channel).total_seconds() // 60)},
        member_id=file_number))
    audit.record(session, "reset_requested", file_number, client=client, channel=channel)
    return None


def _supersede(session: Session, file_number: str, now: datetime) -> None:
    for row in session.scalars(select(PasswordReset).where(
            PasswordReset.file_number == file_number, PasswordReset.ended_at.is_(None))):
        row.ended_at, row.end_reason = now, "superseded"


def _live(row: PasswordReset | None, now: datetime) -> bool:
    return row is not None and row.ended_at is None and _aware(row.expires_at) > now


def issue_secret(session: Session, request_id: str) -> dict | None:
    """A fresh secret for a live request (a retried send supersedes the secret
    of the previous try), or None when the request is dead or unknown."""
    now = datetime.now(timezone.utc)
    row = session.get(PasswordReset, str(request_id), with_for_update=True)
    if not _live(row, now):
        return None
    if row.channel == EMAIL:
        secret = secrets.new_link_token()
        shown = secret
    else:
        secret = secrets.new_letter_code()
        shown = secrets.format_code(secret)
    row.secret_hash = secrets.digest(secret)
    row.issued_at = now
    row.expires_at = now + lifetime(row.channel)
    row.attempts = 0
    audit.record(session, "reset_secret_issued", row.file_number, actor="system",
                 channel=row.channel)
    return {"request_id": row.id, "file_number": row.file_number, "channel": row.channel,
            "secret": shown, "expires_at": _aware(row.expires_at).isoformat(),
            "attempts": CODE_ATTEMPTS if row.channel == POST else None}


def link_is_valid(session: Session, token: str) -> bool:
    return _link_row(session, token) is not None


def _link_row(session: Session, token: str) -> PasswordReset | None:
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    row = session.scalar(select(PasswordReset).where(
        PasswordReset.secret_hash == secrets.digest(token), PasswordReset.channel == EMAIL))
    return row if _live(row, datetime.now(timezone.utc)) else None


def _policy_errors(member: Member, password: str, confirmation: str | None) -> dict:
    context = password_policy.context_words(member.file_number, member.first_name,
                                            member.last_name, member.birth_date)
    problems = password_policy.check(password, context, confirmation)
    fields = {}
    if "mismatch" in problems:
        fields["confirmation"] = ["password_mismatch"]
    rest = [f"password_{p}" for p in problems if p != "mismatch"]
    if rest:
        fields["password"] = rest
    return fields


def set_password_with_link(session: Session, token: str, password: str,
                           confirmation: str | None, end_sessions: bool,
                           client: str | None = None) -> dict:
    row = _link_row(session, token)
    if row is None:
        return {"ok": False, "fields": {"token": ["reset_link_invalid"]}}
    return _set_password(session, row, password, confirmation, end_sessions, client,
                         "reset_link")


def set_password_with_code(session: Session, file_number: str, code: str, password: str,
                           confirmation: str | None, end_sessions: bool,
                           client: str | None = None) -> dict:
    """The same answer for an unknown file number, no code, a wrong or an
    expired code; each wrong code uses one of ``CODE_ATTEMPTS`` tries."""
    now = datetime.now(timezone.utc)
    wrong = {"ok": False, "fields": {"code": ["reset_code_invalid"]}}
    if not identity.is_file_number(file_number):
        return {"ok": False, "fields": {"file_number": ["7 or 9 digits"]}}
    normalised = secrets.normalise_code(code)
    row = session.scalar(select(PasswordReset).where(
        PasswordReset.file_number == file_number, PasswordReset.channel == POST,
        PasswordReset.ended_at.is_(None), PasswordReset.secret_hash.is_not(None))
        .order_by(PasswordReset.requested_at.desc()).limit(1).with_for_update())
    if not _live(row, now):
        audit.record(session, "reset_code_refused", file_number, client=client)
        return wrong
    if normalised is None or not hmac.compare_digest(secrets.digest(normalised),
                                                     row.secret_hash):
        row.attempts = (row.attempts or 0) + 1
        if row.attempts >= CODE_ATTEMPTS:
            row.ended_at, row.end_reason = now, "attempts"
        audit.record(session, "reset_code_refused", file_number, client=client,
                     attempts=row.attempts)
        return wrong
    return _set_password(session, row, password, confirmation, end_sessions, client,
                         "letter_code")


def _set_password(session: Session, row: PasswordReset, password: str,
                  confirmation: str | None, end_sessions: bool, client: str | None,
                  reason: str) -> dict:
    member = session.get(Member, row.file_number)
    fields = _policy_errors(member, password, confirmation)
    if fields:
        return {"ok": False, "fields": fields}
    now = datetime.now(timezone.utc)
    member.password_hash = passwords.hash_password(password)
    row.ended_at, row.end_reason = now, "used"
    _supersede(session, member.file_number, now)
    throttle.unlock(session, member.file_number, actor="member")
    ended = authentication.end_sessions(session, member.file_number) if end_sessions else 0
    channel = channel_for(member)
    outbox.add(session, Outbox, new_event(
        "password_changed", {"channel": channel, "reason": reason, "sessions_ended": ended,
                             "changed_at": now}, member_id=member.file_number))
    audit.record(session, "password_changed", member.file_number, client=client, via=reason,
                 sessions_ended=ended)
    return {"ok": True, "sessions_ended": ended, "notified_by": channel}


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
