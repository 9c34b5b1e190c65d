"""Use cases of logging in and out (service layer: database session in, plain
dicts out; no nameko)."""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta, timezone

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carpimko.errors import NotFound, Unauthorized

from .domain import identity, passwords
from .models import Member, WebSession


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


def login(session: Session, file_number: str, password: str, hours: int) -> dict:
    """Check the password and open a session; same error for every failure."""
    member = session.get(Member, file_number) if identity.is_file_number(file_number) else None
    ok = passwords.verify(member.password_hash if member else None, password or "")
    if not ok or member is None:
        raise Unauthorized("invalid file number or password", {})
    if passwords.needs_rehash(member.password_hash):
        member.password_hash = passwords.hash_password(password)
    now = datetime.now(timezone.utc)
    session.execute(delete(WebSession).where(WebSession.expires_at < now))
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(WebSession(token_hash=_token_hash(token), file_number=member.file_number,
                           csrf_token=csrf, created_at=now,
                           expires_at=now + timedelta(hours=hours)))
    return {"token": token, "csrf_token": csrf, "member": member_summary(member)}


def resolve(session: Session, token: str) -> dict | None:
    if not token or len(token) > 200:
        return None
    row = session.get(WebSession, _token_hash(token))
    if row is None or _aware(row.expires_at) < datetime.now(timezone.utc):
        return None
    member = session.get(Member, row.file_number)
    return {"csrf_token": row.csrf_token, "member": member_summary(member)}


def logout(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == _token_hash(token or "")))


def contact_details(session: Session, file_number: str) -> dict:
    member = session.get(Member, file_number)
    if member is None:
        raise NotFound(f"no member {file_number}", {})
    return {
        **member_summary(member),
        "email": member.email,
        "email_verified": bool(member.email_verified),
        "address_lines": member.address_lines,
    }


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every stored datetime is UTC.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
