"""Use cases of the documents service: issue a document, list, read and verify documents."""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carpimko import inbox, outbox
from carpimko.errors import NotFound
from carpimko.events import Event, new_event

from .domain import verification
from .models import Document, Inbox, Outbox

STATEMENT_CONSUMER = "documents.on_contributions_recalculated"
STATEMENT = "contribution_statement"


def already_processed(session: Session, consumer: str, event_id: str) -> bool:
    return session.get(Inbox, (consumer, event_id)) is not None


def new_verification(public_url: str) -> tuple[str, dict]:
    """A fresh verification code and what the renderers print for it."""
    code = verification.new_code()
    return code, {"code": code, "url": verification.verify_url(public_url, code)}


def member_initials(member: dict) -> str:
    """What the public verification page may show of the member."""
    first, last = member.get("first_name"), member.get("last_name")
    if not first and not last:
        words = member.get("full_name", "").split()
        first, last = (words[-2] if len(words) > 1 else None), (words[-1] if words else None)
    return verification.initials(first, last)


def statement_data(event: Event, member: dict, issued_on: date,
                   verification_block: dict | None = None) -> dict:
    """What the statement template needs, from the event and the member's identity."""
    p = event.raw["payload"]  # wire form: decimal strings, as the template wants
    return {
        "file_number": event.member_id,
        "member": {"full_name": member["full_name"], "address_lines": member["address_lines"]},
        "year": p["year"],
        "status": p["status"],
        "issued_on": issued_on.isoformat(),
        "income_used": p["income_used"],
        "income_declared": p["income_declared"],
        "lines": p["lines"],
        "total": p["total"],
        "previous_total": p.get("previous_total"),
        "parameters_version": p["parameters_version"],
        "notes": p["notes"],
        # contributions_recalculated v2 (the yearly cycle); absent from v1 events
        "basis": p.get("basis"),
        "income_year": p.get("income_year"),
        "changes": p.get("changes"),
        "verification": verification_block,
    }


def record_statement(session: Session, event: Event, sha256: str, size: int,
                     issued_on: date, verification_code: str | None = None,
                     initials: str | None = None) -> str | None:
    """Record the stored statement and stage ``document_generated``; None if the
    event was already processed."""
    year = event.payload["year"]
    return record_document(session, STATEMENT_CONSUMER, event, kind=STATEMENT,
                           title=f"Relevé de cotisations {year}", year=year, sha256=sha256,
                           size=size, issued_on=issued_on,
                           verification_code=verification_code, initials=initials)


def record_document(session: Session, consumer: str, event: Event, *, kind: str, title: str,
                    year: int | None, sha256: str, size: int, issued_on: date,
                    verification_code: str | None, initials: str | None) -> str | None:
    """Record a stored document issued because of ``event`` (claiming the inbox
    of ``consumer``), supersede the previous one of the same kind and year, and
    stage ``document_generated``; None if the event was already processed."""
    if not inbox.claim(session, Inbox, consumer, event.event_id):
        return None
    document = Document(
        id=str(uuid.uuid4()), file_number=event.member_id, kind=kind, title=title, year=year,
        correlation_id=event.correlation_id, source_event_id=event.event_id,
        sha256=sha256, size=size, media_type="application/pdf", issued_on=issued_on,
        created_at=datetime.now(timezone.utc),
        verification_hash=(verification.code_hash(verification.canonical(verification_code))
                           if verification_code else None),
        member_initials=initials)
    session.execute(update(Document)
                    .where(Document.file_number == event.member_id, Document.kind == kind,
                           Document.year == year, Document.superseded_by.is_(None))
                    .values(superseded_by=document.id))
    session.add(document)
    outbox.add(session, Outbox, new_event(
        "document_generated",
        {"document_id": document.id, "kind": kind, "title": document.title,
         "sha256": sha256, "issued_on": issued_on},
        member_id=event.member_id, cause=event))
    return document.id


def document_view(doc: Document) -> dict:
    created = doc.created_at if doc.created_at.tzinfo else doc.created_at.replace(tzinfo=timezone.utc)
    return {
        "id": doc.id, "kind": doc.kind, "title": doc.title, "year": doc.year,
        "issued_on": doc.issued_on.isoformat(), "created_at": created.isoformat(),
        "sha256": doc.sha256, "size": doc.size, "media_type": doc.media_type,
        "correlation_id": doc.correlation_id, "superseded": doc.superseded_by is not None,
    }


def list_documents(session: Session, file_number: str) -> list[dict]:
    rows = session.scalars(select(Document).where(Document.file_number == file_number)
                           .order_by(Document.created_at.desc())).all()
    return [document_view(d) for d in rows]


def documents_for_correlation(session: Session, file_number: str, correlation_id: str) -> list[dict]:
    rows = session.scalars(select(Document).where(Document.file_number == file_number,
                                                  Document.correlation_id == correlation_id)
                           .order_by(Document.created_at)).all()
    return [document_view(d) for d in rows]


def get_document(session: Session, file_number: str, document_id: str) -> Document:
    doc = session.get(Document, document_id)
    if doc is None or doc.file_number != file_number:
        raise NotFound("unknown document", {})
    return doc


def verify(session: Session, code: str) -> dict:
    """What the public verification page shows for ``code``.

    Always the same work and the same shape, whether the code is genuine,
    unknown or malformed: hash it, look the hash up (unique index), answer
    ``{"found", "kind", "title", "issued_on", "initials", "sha256", "superseded"}``
    (None values when not found). Nothing else about the member.
    """
    canonical = verification.canonical(code)
    digest = verification.code_hash(canonical)
    doc = session.scalars(select(Document).where(Document.verification_hash == digest)).first()
    found = doc is not None and canonical is not None
    return {
        "found": found,
        "kind": doc.kind if found else None,
        "title": doc.title if found else None,
        "issued_on": doc.issued_on.isoformat() if found else None,
        "initials": doc.member_initials if found else None,
        "sha256": doc.sha256 if found else None,
        "superseded": (doc.superseded_by is not None) if found else None,
    }


# -- career statement (issue #6) ----------------------------------------------------------------------------------

CAREER_CONSUMER = "documents.on_career_statement_requested"
CAREER_STATEMENT = "career_statement"


def career_statement_data(event: Event, member: dict, issued_on: date,
                          verification_block: dict | None = None) -> dict:
    """What the career statement template needs, from ``career_statement_requested`` and the member's identity."""
    p = event.raw["payload"]  # wire form: decimal strings
    return {
        "file_number": event.member_id,
        "member": {"full_name": member["full_name"], "address_lines": member["address_lines"]},
        "issued_on": issued_on.isoformat(),
        "as_of": p["as_of"],
        "years": [{"year": y["year"], "income": y["income"], "quarters": y["quarters"],
                   "rb_points": y["rb_points"], "rc_points": y["rc_points"]} for y in p["years"]],
        "verification": verification_block,
    }


def record_career_statement(session: Session, event: Event, sha256: str, size: int, issued_on: date,
                            verification_code: str | None = None, initials: str | None = None) -> str | None:
    as_of = event.payload["as_of"]
    return record_document(session, CAREER_CONSUMER, event, kind=CAREER_STATEMENT,
                           title=f"Relevé de carrière au {as_of:%d/%m/%Y}", year=as_of.year, sha256=sha256,
                           size=size, issued_on=issued_on, verification_code=verification_code,
                           initials=initials)
