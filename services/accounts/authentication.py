"""Use cases of logging in and out (service layer: database session in, plain
dicts out; no nameko).

Sessions: an opaque random token (only its SHA-256 is stored), renewed at
every login, ended after ``IDLE`` without a request or ``ABSOLUTE`` after
login (whichever comes first); logout ends it server side, "log out
everywhere" ends every session of the member. Brute force: ``throttle``.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carpimko.errors import InvalidRequest, NotFound, Unauthorized
from carpimko.session_events import note_ended

from . import audit
from .domain import identity, passwords
from .models import Member, WebSession

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
IDLE_REFRESH = timedelta(seconds=30)  # see resolve()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def member_summary(member: Member) -> dict:
    return {
        "file_number": member.file_number,
        "full_name": member.full_name,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "civility": member.civility,
        "status": member.status,
        "profession": member.profession,
    }


def check_password(session: Session, file_number: str, password: str) -> Member | None:
    """The member when the password is right, else None; the same work (one
    argon2 verification) whether or not the account exists."""
    check = verify_password(file_number, stored_hash(session, file_number), password)
    return session.get(Member, file_number) if check.matched else None


@dataclass(frozen=True)
class PasswordCheck:
    """A password checked outside any transaction (:func:`verify_password`): the hash it was checked
    against, whether it matched, and the hash to store instead when the parameters changed."""

    file_number: str
    checked_hash: str | None
    matched: bool
    new_hash: str | None = None


def stored_hash(session: Session, file_number: str) -> str | None:
    """The member's password hash (None for an unknown file number), for :func:`verify_password`."""
    if not identity.is_file_number(file_number):
        return None
    return session.scalar(select(Member.password_hash).where(Member.file_number == file_number))


def verify_password(file_number: str, checked_hash: str | None, password: str) -> PasswordCheck:
    """Check ``password`` against ``checked_hash``, with no transaction open.

    Why apart: argon2 takes tens of milliseconds and first waits for a hashing slot (up to a few
    seconds when many members log in at once); inside the login's transaction, each waiting login held
    one of accounts' pooled database connections, and every other RPC of accounts (the sessions of
    every page, the contact details documents and notifications ask) waited behind them. The same
    work whether or not the account exists."""
    matched = passwords.verify(checked_hash, password or "")  # never True without a stored hash
    new_hash = passwords.hash_password(password) if matched and passwords.needs_rehash(checked_hash) else None
    return PasswordCheck(file_number, checked_hash, matched, new_hash)


def login_checked(session: Session, check: PasswordCheck, password: str, hours: int) -> dict:
    """Open a session after :func:`verify_password`; same error for every failure.

    When the member's hash is no longer the one checked (rare: a password changed or reset meanwhile, or
    the same password rehashed by a concurrent login), the password is checked again against the
    current hash, here: a new password fails the login, a rehash does not."""
    member = session.get(Member, check.file_number) if check.matched else None
    if member is None:
        raise Unauthorized("invalid file number or password", {})
    if member.password_hash != check.checked_hash:
        if not passwords.verify(member.password_hash, password or ""):
            raise Unauthorized("invalid file number or password", {})
    elif check.new_hash is not None:
        member.password_hash = check.new_hash
    return open_session(session, member, hours)


def login(session: Session, file_number: str, password: str, hours: int) -> dict:
    """Check the password and open a session, in one transaction (the service checks the password
    outside it: ``verify_password``, ``login_checked``)."""
    check = verify_password(file_number, stored_hash(session, file_number), password)
    return login_checked(session, check, password, hours)


def open_session(session: Session, member: Member, hours: int,
                 franceconnect_id_token: str | None = None) -> dict:
    now = datetime.now(timezone.utc)
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    absolute = min(timedelta(hours=hours), ABSOLUTE)
    session.add(WebSession(token_hash=_token_hash(token), file_number=member.file_number,
                           csrf_token=csrf, created_at=now, last_seen_at=now,
                           expires_at=now + absolute,
                           franceconnect_id_token=franceconnect_id_token))
    audit.record(session, "login_succeeded", member.file_number,
                 via="franceconnect" if franceconnect_id_token else "password")
    return {"token": token, "csrf_token": csrf, "member": member_summary(member)}


def resolve(session: Session, token: str) -> dict | None:
    """The live session of ``token`` (its idle clock restarted), or None; a
    session idle for longer than ``IDLE`` or older than its absolute expiry is
    ended.

    ``valid_for`` is how many seconds the session stays alive without
    another request (the idle limit or the absolute expiry, whichever comes
    first): a gateway copy never keeps it longer (``gateway/sessions.py``).

    The idle clock is restarted at most every ``IDLE_REFRESH``: every page
    asks for its session, and a write (a WAL flush) per page would cost more
    than the page; the idle limit is then exact to within ``IDLE_REFRESH``.

    The session and its member are read in one query: every page asks this,
    and two lookups cost a round trip and an ORM load more (profiled)."""
    if not token or len(token) > 200:
        return None
    found = session.execute(select(WebSession, Member)
                            .join(Member, Member.file_number == WebSession.file_number)
                            .where(WebSession.token_hash == _token_hash(token))).first()
    if found is None:
        return None
    row, member = found
    now = datetime.now(timezone.utc)
    last_seen = _aware(row.last_seen_at or row.created_at)
    if _aware(row.expires_at) < now or last_seen + IDLE < now:
        session.delete(row)
        return None
    if now - last_seen >= IDLE_REFRESH:
        row.last_seen_at = last_seen = now
    ends_at = min(_aware(row.expires_at), last_seen + IDLE)
    return {"csrf_token": row.csrf_token, "member": member_summary(member),
            "valid_for": round((ends_at - now).total_seconds(), 3)}


def logout(session: Session, token: str) -> None:
    """End the token's session (every gateway copy is told: ``note_ended``)."""
    if not token or len(token) > 200:
        return
    row = session.get(WebSession, _token_hash(token))
    if row is not None:
        session.delete(row)
        note_ended(session, row.file_number)


def franceconnect_id_token(session: Session, token: str) -> str | None:
    if not token or len(token) > 200:
        return None
    row = session.get(WebSession, _token_hash(token))
    return row.franceconnect_id_token if row is not None else None


def end_sessions(session: Session, file_number: str, keep_token: str | None = None) -> int:
    """End every session of the member (but ``keep_token``'s); how many ended.
    Every gateway copy is told, and forgets the member's sessions
    (``note_ended``)."""
    query = delete(WebSession).where(WebSession.file_number == file_number)
    if keep_token:
        query = query.where(WebSession.token_hash != _token_hash(keep_token))
    note_ended(session, file_number)
    return session.execute(query).rowcount or 0


def logout_everywhere(session: Session, token: str) -> int:
    """End every session of the token's member, this one included."""
    row = session.get(WebSession, _token_hash(token or "")) if token and len(token) <= 200 else None
    if row is None:
        return 0
    file_number = row.file_number
    ended = end_sessions(session, file_number)
    audit.record(session, "logout_everywhere", file_number, sessions_ended=ended)
    return ended


MAX_CONTACTS_PER_CALL = 500


def contact_details(session: Session, file_number: str) -> dict:
    member = session.get(Member, file_number)
    if member is None:
        raise NotFound(f"no member {file_number}", {})
    return _contact_view(member)


def contact_details_many(session: Session, file_numbers) -> dict[str, dict]:
    """Contact details of several members in one query, by file number; a
    file number with no member is simply absent (the caller decides). For the
    consumers that handle events in batches: one call per batch, not one per
    event."""
    if (not isinstance(file_numbers, (list, tuple))
            or not all(isinstance(n, str) for n in file_numbers)):
        raise InvalidRequest("file_numbers must be a list of file numbers",
                             {"file_numbers": ["must be a list of strings"]})
    wanted = sorted(set(file_numbers))
    if len(wanted) > MAX_CONTACTS_PER_CALL:
        raise InvalidRequest("too many file numbers",
                             {"file_numbers": [f"at most {MAX_CONTACTS_PER_CALL} per call"]})
    if not wanted:
        return {}
    members = session.scalars(select(Member).where(Member.file_number.in_(wanted)))
    return {member.file_number: _contact_view(member) for member in members}


def _contact_view(member: Member) -> dict:
    return {
        **member_summary(member),
        "email": member.email,
        "email_verified": bool(member.email_verified),
        "email_bounced": member.email_bounced_at is not None,
        "prefers_paper": bool(member.prefers_paper),
        "address_lines": member.address_lines,
        "password_set": bool(member.password_hash),
    }


def birth_date(session: Session, file_number: str) -> str:
    member = session.get(Member, file_number)
    if member is None:
        raise NotFound(f"no member {file_number}", {})
    return member.birth_date.isoformat()


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored datetime is UTC.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
