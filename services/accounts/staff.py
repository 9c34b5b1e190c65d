"""Staff accounts: advisors and administrators, password + TOTP (service layer).

- ``create``: an administrator (or ``carpimko accounts add-staff``) creates a
  staff account; the answer carries the TOTP provisioning URI, shown once.
- ``login``: password (argon2id, the same work for an unknown login) and a
  TOTP code (RFC 6238, 30 s, ±1 step, never the same step twice); any
  failure is the same Unauthorized.
- Sessions: opaque token (SHA-256 stored), idle 15 minutes, absolute 8 hours.
- Roles: ``advisor`` (a member's file, unlocking), ``supervisor`` (that, and
  the messaging's first-response times) and ``admin`` (all that, and creating
  staff). ``require`` enforces them; every access of an advisor to
  a member's file is audited.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from datetime import datetime, timedelta, timezone

import pyotp
from sqlalchemy import delete
from sqlalchemy.orm import Session

from carpimko.errors import Conflict, InvalidRequest, NotFound, Unauthorized

from . import audit, authentication, throttle
from .domain import identity, password_policy, passwords
from .models import Member, StaffSession, StaffUser

ROLES = {"advisor": {"advisor"}, "supervisor": {"advisor", "supervisor"},
         "admin": {"advisor", "supervisor", "admin"}}
IDLE = timedelta(minutes=15)
ABSOLUTE = timedelta(hours=8)
ISSUER = "Carpimko (agents)"
_LOGIN = re.compile(r"[a-z][a-z0-9._-]{2,63}")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create(session: Session, login: str, display_name: str, role: str, password: str,
           actor: str) -> dict:
    errors = {}
    if not isinstance(login, str) or not _LOGIN.fullmatch(login):
        errors["login"] = ["staff_login"]
    if role not in ROLES:
        errors["role"] = ["staff_role"]
    if not isinstance(display_name, str) or not display_name.strip() or len(display_name) > 120:
        errors["display_name"] = ["contact_required"]
    problems = password_policy.check(password, password_policy.context_words(
        None, display_name if isinstance(display_name, str) else None, login))
    if problems:
        errors["password"] = [f"password_{p}" for p in problems]
    if errors:
        raise InvalidRequest("invalid staff account", errors)
    if session.get(StaffUser, login) is not None:
        raise Conflict(f"staff {login} exists", {})
    secret = pyotp.random_base32()
    session.add(StaffUser(login=login, display_name=display_name.strip(), role=role,
                          password_hash=passwords.hash_password(password), totp_secret=secret,
                          active=True, created_at=datetime.now(timezone.utc)))
    audit.record(session, "staff_created", None, actor=actor[:40], login=login, role=role)
    return {"login": login, "role": role,
            "provisioning_uri": pyotp.TOTP(secret).provisioning_uri(name=login, issuer_name=ISSUER)}


def login(session: Session, login_name: str, password: str, code: str, at: float | None = None
          ) -> dict:
    user = session.get(StaffUser, login_name) if isinstance(login_name, str) else None
    ok = passwords.verify(user.password_hash if user else None, password or "")
    now = time.time() if at is None else at
    step_ok = False
    if user is not None and isinstance(code, str) and re.fullmatch(r"[0-9]{6}", code or ""):
        totp = pyotp.TOTP(user.totp_secret)
        for offset in (-1, 0, 1):
            step = int(now // 30) + offset
            if secrets.compare_digest(totp.at(step * 30), code) and step > (user.last_totp_step or -1):
                step_ok = step
                break
    if not ok or user is None or not user.active or step_ok is False:
        audit.record(session, "staff_login_failed", None, actor="staff",
                     login=(login_name or "")[:64] if isinstance(login_name, str) else None)
        raise Unauthorized("invalid staff credentials", {})
    user.last_totp_step = step_ok
    now_dt = datetime.now(timezone.utc)
    session.execute(delete(StaffSession).where(StaffSession.expires_at < now_dt))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=_digest(token), login=user.login, csrf_token=csrf,
                             created_at=now_dt, last_seen_at=now_dt, expires_at=now_dt + ABSOLUTE))
    audit.record(session, "staff_login", None, actor=f"{user.role}:{user.login}"[:40])
    return {"token": token, "csrf_token": csrf, "staff": _view(user)}


def _view(user: StaffUser) -> dict:
    return {"login": user.login, "display_name": user.display_name, "role": user.role}


def resolve(session: Session, token: str) -> dict | None:
    if not isinstance(token, str) or not token or len(token) > 200:
        return None
    row = session.get(StaffSession, _digest(token))
    if row is None:
        return None
    now = datetime.now(timezone.utc)
    if _aware(row.expires_at) < now or _aware(row.last_seen_at) + IDLE < now:
        session.delete(row)
        return None
    user = session.get(StaffUser, row.login)
    if user is None or not user.active:
        return None
    row.last_seen_at = now
    return {"csrf_token": row.csrf_token, "staff": _view(user)}


def logout(session: Session, token: str) -> None:
    session.execute(delete(StaffSession).where(StaffSession.token_hash == _digest(token or "")))


def require(staff: dict | None, role: str) -> dict:
    """The staff member when their role allows ``role``; else Unauthorized."""
    if not staff or role not in ROLES.get(staff["staff"]["role"], set()):
        raise Unauthorized(f"role {role} required", {})
    return staff["staff"]


def member_file(session: Session, staff_view: dict, file_number: str) -> dict:
    """What an advisor sees of a member's file (audited)."""
    if not identity.is_file_number(file_number):
        raise InvalidRequest("invalid file number", {"file_number": ["7 or 9 digits"]})
    member = session.get(Member, file_number)
    if member is None:
        raise NotFound(f"no member {file_number}", {})
    actor = f"{staff_view['role']}:{staff_view['login']}"[:40]
    audit.record(session, "advisor_access", file_number, actor=actor)
    return {**authentication.contact_details(session, file_number),
            "locked": throttle.is_locked(session, file_number),
            "recent_logins": audit.recent_logins(session, file_number, 10),
            "advisor_events": audit.advisor_events(session, file_number, 20)}


def document_download(session: Session, staff_view: dict, file_number: str, document_id: str,
                      title: str) -> None:
    """Record that an advisor downloads one of a member's documents (who,
    which document, when), before the gateway hands it over."""
    if not identity.is_file_number(file_number):
        raise InvalidRequest("invalid file number", {"file_number": ["7 or 9 digits"]})
    if session.get(Member, file_number) is None:
        raise NotFound(f"no member {file_number}", {})
    actor = f"{staff_view['role']}:{staff_view['login']}"[:40]
    audit.record(session, "advisor_document_download", file_number, actor=actor,
                 document_id=str(document_id), title=str(title)[:200])


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
