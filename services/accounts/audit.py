"""The append-only audit log of security events (service layer).

Only ``record`` writes, and nothing here or elsewhere updates or deletes a
row. Details are small JSON objects, never a secret or a password.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import AuditEvent

LOGIN_KINDS = ("login_succeeded", "login_failed", "login_refused_locked")
# what advisors did with a member's file (opened it, downloaded a document)
ADVISOR_KINDS = ("advisor_access", "advisor_document_download")


def record(session: Session, kind: str, file_number: str | None, *, actor: str = "member",
           client: str | None = None, **detail) -> None:
    session.add(AuditEvent(occurred_at=datetime.now(timezone.utc), file_number=file_number,
                           kind=kind, actor=actor, client=(client or None) and client[:64],
                           detail=json.dumps(detail, default=str, sort_keys=True)))


def view(row: AuditEvent) -> dict:
    at = row.occurred_at if row.occurred_at.tzinfo else row.occurred_at.replace(tzinfo=timezone.utc)
    return {"kind": row.kind, "occurred_at": at.isoformat(), "actor": row.actor,
            "client": row.client, "detail": json.loads(row.detail or "{}")}


def recent_logins(session: Session, file_number: str, limit: int = 20) -> list[dict]:
    rows = session.scalars(select(AuditEvent).where(
        AuditEvent.file_number == file_number, AuditEvent.kind.in_(LOGIN_KINDS))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit)).all()
    return [view(r) for r in rows]


def events_of(session: Session, file_number: str, limit: int = 1000) -> list[dict]:
    rows = session.scalars(select(AuditEvent).where(AuditEvent.file_number == file_number)
                           .order_by(AuditEvent.id.desc()).limit(limit)).all()
    return [view(r) for r in rows]


def advisor_events(session: Session, file_number: str, limit: int = 20) -> list[dict]:
    """The latest advisor accesses to a member's file, newest first."""
    rows = session.scalars(select(AuditEvent).where(
        AuditEvent.file_number == file_number, AuditEvent.kind.in_(ADVISOR_KINDS))
        .order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit)).all()
    return [view(r) for r in rows]
