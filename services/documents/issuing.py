"""Use cases of the documents service: issue a document, list, read and verify documents."""
from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import bindparam, insert, select, text, update
from sqlalchemy.orm import Session

from carpimko import inbox, outbox
from carpimko.errors import Conflict, InvalidRequest, NotFound
from carpimko.events import Event, new_event

from .domain import verification
from .models import Document, Inbox, Outbox
from .sources import statement_title

STATEMENT_CONSUMER = "documents.on_contributions_recalculated"
STATEMENT = "contribution_statement"


def already_processed(session: Session, consumer: str, event_id: str) -> bool:
    return session.get(Inbox, (consumer, event_id)) is not None


def still_to_process(session: Session, consumer: str, events: list[Event]) -> list[Event]:
    """The events of a batch that ``consumer`` has not processed yet, in their
    order, each event id once (a message delivered twice may come twice in the
    same batch): one query for the whole batch.

    Only spares the rendering of what was already done: the claim in
    :func:`record_documents` is still what makes an event count once (another
    copy of the service may be handling the same event meanwhile)."""
    return inbox.unprocessed(session, Inbox, consumer, events)


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
                           title=statement_title(year), year=year, sha256=sha256,
                           size=size, issued_on=issued_on,
                           verification_code=verification_code, initials=initials)


def record_document(session: Session, consumer: str, event: Event, *, kind: str, title: str,
                    year: int | None, sha256: str, size: int, issued_on: date,
                    verification_code: str | None, initials: str | None,
                    notify: bool = True) -> str | None:
    """Record a stored document issued because of ``event`` (claiming the inbox
    of ``consumer``), supersede the previous one of the same kind and year, and
    stage ``document_generated``; None if the event was already processed."""
    ids = record_documents(session, consumer, event,
                           [Issued(kind, title, year, sha256, size, verification_code)],
                           issued_on, initials, notify=notify)
    return ids[0] if ids else None


@dataclass(frozen=True)
class Issued:
    """One document ready to be recorded: rendered and stored, or (``snapshot``
    set, see ``deferred``) to be rendered on first read, its ``document_id``
    chosen already. ``sha256`` None without a snapshot: the content is not
    kept (a letter carrying a secret), see ``LETTERS``."""

    kind: str
    title: str
    year: int | None
    sha256: str | None
    size: int | None
    verification_code: str | None
    document_id: str | None = None
    snapshot: dict | None = None
    layout_version: str | None = None


def record_batch(session: Session, consumer: str,
                 batch: list[tuple[Event, list[Issued], str | None, bool, list[str]]],
                 issued_on: date) -> int:
    """Record the documents of a batch of events, ``(event, issued, initials,
    notify, announced_too)`` each, as :func:`record_documents` would one event
    at a time, in the caller's transaction; returns how many events were
    recorded (an event claimed meanwhile by another worker is skipped). The
    first document's ``also_issued`` lists the event's other documents, then
    ``announced_too`` (documents of other events told in the same message).

    Why not simply one :func:`record_documents` after the other: per document,
    building the ORM objects and the SQL expressions of the inbox claim and of
    the supersession ``UPDATE`` cost more CPU than the document itself. Here,
    per batch: one claim statement for all the events
    (:func:`carpimko.inbox.claim_many`), one supersession ``UPDATE`` for all
    the (member, kind, year) of the claimed events (:func:`supersede_many`),
    then one multi-row ``INSERT`` of the documents and one of their outbox
    events, in the events' order. A later document of the same key in the
    batch supersedes the earlier one in memory, which is what the ``UPDATE``
    would have done had the earlier one been flushed."""
    claimed = inbox.claim_many(session, Inbox, consumer,
                                 [event.event_id for event, *_ in batch])
    rows: list[dict] = []
    envelopes: list[dict] = []
    latest: dict = {}       # (member, kind, year) -> the batch's current row of that key
    superseding: dict = {}  # (member, kind, year) -> id of the batch's first row of that key
    recorded = 0
    for event, issued, initials, notify, announced_too in batch:
        if event.event_id not in claimed:
            continue
        claimed.discard(event.event_id)  # an event twice in the batch counts once
        recorded += 1
        for position, item in enumerate(issued):
            source = event.event_id if position == 0 else f"{event.event_id}:{item.kind}"
            row = document_row(item, file_number=event.member_id,
                               correlation_id=event.correlation_id, source_key=source,
                               issued_on=issued_on, initials=initials)
            key = (row["file_number"], row["kind"], row["year"])
            previous = latest.get(key)
            if previous is not None:
                previous["superseded_by"] = row["id"]
            else:
                superseding[key] = row["id"]
            latest[key] = row
            rows.append(row)
            envelopes.append(generated(row, notify=notify and position == 0,
                                       also_issued=([i.title for i in issued[1:]] + list(announced_too)
                                                    if position == 0 else []),
                                       cause=event))
    if rows:  # the UPDATE first: the batch's own rows must not be superseded by it
        supersede_many(session, superseding)
        session.execute(insert(Document.__table__), rows)
        outbox.add_many(session, Outbox, envelopes)
    return recorded


def supersede_many(session: Session, superseding: dict) -> None:
    """Mark superseded, in one statement, the current document of each
    ``(file_number, kind, year)`` of ``superseding`` by the id it maps to
    (``year`` None: kinds that are not yearly). The same SQL on PostgreSQL and
    SQLite (3.33 and later: ``UPDATE … FROM``); built once per number of keys,
    so SQLAlchemy's compiled cache serves it."""
    if not superseding:
        return
    params = {}
    for n, ((file_number, kind, year), document_id) in enumerate(superseding.items()):
        params.update({f"f{n}": file_number, f"k{n}": kind, f"y{n}": year, f"d{n}": document_id})
    session.execute(_supersede_statement(len(superseding)), params)


@functools.lru_cache(maxsize=64)
def _supersede_statement(keys: int):
    """Why ``file_number IN (...)`` as well as the join: it bounds the scan of
    ``documents`` to the batch's members whatever the plan. With the join alone,
    statistics taken while the table was small (a fresh deployment, the first
    minute of a campaign) made PostgreSQL hash-join the batch to every current
    document, once per batch (39 ms at 80,000 documents; docs/benchmarks.md)."""
    table = Document.__tablename__
    values = ", ".join(f"(:f{n}, :k{n}, CAST(:y{n} AS INTEGER), :d{n})" for n in range(keys))
    members = ", ".join(f":f{n}" for n in range(keys))
    return text(
        f"WITH current_of (file_number, kind, year, superseded_by) AS (VALUES {values}) "
        f"UPDATE {table} SET superseded_by = current_of.superseded_by FROM current_of "
        f"WHERE {table}.file_number IN ({members}) "
        f"AND {table}.file_number = current_of.file_number AND {table}.kind = current_of.kind "
        f"AND ({table}.year = current_of.year "
        f"OR ({table}.year IS NULL AND current_of.year IS NULL)) "
        f"AND {table}.superseded_by IS NULL")


def document_row(item: Issued, *, file_number: str, correlation_id: str, source_key: str,
                 issued_on: date, initials: str | None) -> dict:
    """The column values of the metadata of an issued document (not superseded)."""
    return {
        "id": item.document_id or str(uuid.uuid4()), "file_number": file_number,
        "kind": item.kind, "title": item.title, "year": item.year,
        "correlation_id": correlation_id, "source_event_id": source_key,
        "sha256": item.sha256, "size": item.size, "media_type": "application/pdf",
        "issued_on": issued_on, "created_at": datetime.now(timezone.utc),
        "superseded_by": None,
        "verification_hash": (verification.code_hash(verification.canonical(item.verification_code))
                              if item.verification_code else None),
        "member_initials": initials, "snapshot": item.snapshot,
        "layout_version": item.layout_version}


def record_documents(session: Session, consumer: str, event: Event, issued: list[Issued],
                     issued_on: date, initials: str | None, *, notify: bool = True) -> list[str] | None:
    """Record the documents issued because of ``event`` (one inbox claim for all).

    The first is the one the member is told about (``notify``), with the titles
    of the others in ``also_issued``; each of the others is announced on the bus
    too, flagged ``notify`` false, so one event never yields two messages.
    Returns the ids, or None when the event was already processed."""
    if not inbox.claim(session, Inbox, consumer, event.event_id):
        return None
    ids = []
    for position, item in enumerate(issued):
        source = event.event_id if position == 0 else f"{event.event_id}:{item.kind}"
        document = insert_document(session, item, file_number=event.member_id,
                                   correlation_id=event.correlation_id, source_key=source,
                                   issued_on=issued_on, initials=initials)
        announce(session, document, notify=notify and position == 0,
                 also_issued=[i.title for i in issued[1:]] if position == 0 else [],
                 cause=event)
        ids.append(document.id)
    return ids


def insert_document(session: Session, item: Issued, *, file_number: str, correlation_id: str,
                    source_key: str, issued_on: date, initials: str | None,
                    supersede: bool = True) -> Document:
    """Insert the metadata of an issued document; the previous current one of the
    same member, kind and year (yearly kinds) is marked superseded by it."""
    document = Document(**document_row(item, file_number=file_number, correlation_id=correlation_id,
                                       source_key=source_key, issued_on=issued_on,
                                       initials=initials))
    if supersede:
        same_year = (Document.year.is_(None) if item.year is None
                     else Document.year == item.year)
        session.execute(update(Document)
                        .where(Document.file_number == file_number,
                               Document.kind == item.kind,
                               same_year, Document.superseded_by.is_(None))
                        .values(superseded_by=document.id))
    session.add(document)
    return document


def announce(session: Session, document: Document, *, notify: bool, also_issued: list[str],
             cause: Event | None = None) -> None:
    """Stage ``document_generated`` for ``document`` in the outbox (see :func:`generated`)."""
    outbox.add(session, Outbox, generated(
        {"id": document.id, "kind": document.kind, "title": document.title,
         "sha256": document.sha256, "issued_on": document.issued_on,
         "file_number": document.file_number, "correlation_id": document.correlation_id},
        notify=notify, also_issued=also_issued, cause=cause))


def generated(row: dict, *, notify: bool, also_issued: list[str], cause: Event | None) -> dict:
    """``document_generated`` (V3) for the document of ``row`` (see
    :func:`document_row`): its ``sha256`` is None when it is rendered on first read."""
    return new_event(
        "document_generated",
        {"document_id": row["id"], "kind": row["kind"], "title": row["title"],
         "sha256": row["sha256"], "issued_on": row["issued_on"],
         "notify": notify, "also_issued": also_issued},
        member_id=row["file_number"], cause=cause,
        correlation_id=None if cause is not None else row["correlation_id"])


def request_key(request_id) -> str:
    """The caller's id of a request for a document (a UUID): asking twice with
    the same id issues one document."""
    try:
        return str(uuid.UUID(str(request_id)))
    except ValueError:
        raise InvalidRequest("invalid request id", {"request_id": ["must be a UUID"]}) from None


def issued_for_request(session: Session, file_number: str, request_id: str) -> dict | None:
    """The document already issued for this request, if any."""
    doc = session.scalars(select(Document).where(
        Document.source_event_id == f"request:{request_id}")).first()
    if doc is None:
        return None
    if doc.file_number != file_number:
        raise Conflict("request id already used", {"request_id": ["already used"]})
    return document_view(doc)


def record_request(session: Session, consumer: str, request_id: str, file_number: str,
                   item: Issued, issued_on: date, initials: str | None) -> dict | None:
    """Record a document the member asked for (claiming the inbox with the
    request id); it is announced on the bus but the member is not told (they
    asked on screen). None when the same request was recorded meanwhile."""
    if not inbox.claim(session, Inbox, consumer, request_id):
        return None
    document = insert_document(session, item, file_number=file_number, correlation_id=request_id,
                               source_key=f"request:{request_id}", issued_on=issued_on,
                               initials=initials)
    announce(session, document, notify=False, also_issued=[])
    session.flush()
    return document_view(document)


def document_view(doc: Document) -> dict:
    created = doc.created_at if doc.created_at.tzinfo else doc.created_at.replace(tzinfo=timezone.utc)
    return {
        "id": doc.id, "kind": doc.kind, "title": doc.title, "year": doc.year,
        "issued_on": doc.issued_on.isoformat(), "created_at": created.isoformat(),
        "sha256": doc.sha256, "size": doc.size, "media_type": doc.media_type,
        "correlation_id": doc.correlation_id, "superseded": doc.superseded_by is not None,
    }


# postal letters of other services (see ``letters``): verifiable, not listed
LETTER_KINDS = ("access_letter", "account_notice", "notification_letter")


# The member's documents as every page lists them (the dashboard, on each view): the
# columns ``document_view`` shows, in one Core statement built once. Through the ORM,
# each call built the statement and its cache key again, made an object per row and
# decoded every document's data snapshot (JSON, 1-2 KiB, drawn on first read), which
# no list shows (profiled, docs/benchmarks.md).
_D = Document.__table__.c
LIST_DOCUMENTS = (select(_D.id, _D.kind, _D.title, _D.year, _D.issued_on, _D.created_at, _D.sha256,
                         _D.size, _D.media_type, _D.correlation_id, _D.superseded_by)
                  .where(_D.file_number == bindparam("file_number"), _D.kind.not_in(LETTER_KINDS))
                  .order_by(_D.created_at.desc()))


def list_documents(session: Session, file_number: str) -> list[dict]:
    return [document_view(d) for d in session.execute(LIST_DOCUMENTS,
                                                      {"file_number": file_number})]


def documents_for_correlation(session: Session, file_number: str, correlation_id: str) -> list[dict]:
    rows = session.scalars(select(Document).where(Document.file_number == file_number,
                                                  Document.correlation_id == correlation_id)
                           .order_by(Document.created_at)).all()
    return [document_view(d) for d in rows]


def get_document(session: Session, file_number: str, document_id: str) -> Document:
    """The member's document, with content (stored, or to render on first
    read); NotFound otherwise (a letter whose content is not kept)."""
    doc = session.get(Document, document_id)
    if doc is None or doc.file_number != file_number or (doc.sha256 is None
                                                         and doc.snapshot is None):
        raise NotFound("unknown document", {})
    return doc


def verify(session: Session, code: str) -> dict:
    """See :func:`verify_document` (without the document)."""
    return verify_document(session, code)[0]


def verify_document(session: Session, code: str) -> tuple[dict, Document | None]:
    """What the public verification page shows for ``code``.

    Always the same work and the same shape, whether the code is genuine,
    unknown or malformed: hash it, look the hash up (unique index), answer
    ``{"found", "kind", "title", "issued_on", "initials", "sha256", "superseded"}``
    (None values when not found). Nothing else about the member. Also the
    document found, if any (its ``sha256`` is None until it is first read:
    the caller renders it first, see ``deferred``).
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
    }, (doc if found else None)


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
                   "rb_points": y["rb_points"], "rc_points": y["rc_points"],
                   "status": y.get("status", "final"), "call": y.get("call")} for y in p["years"]],
        "verification": verification_block,
    }


def record_career_statement(session: Session, event: Event, sha256: str, size: int, issued_on: date,
                            verification_code: str | None = None, initials: str | None = None) -> str | None:
    as_of = event.payload["as_of"]
    return record_document(session, CAREER_CONSUMER, event, kind=CAREER_STATEMENT,
                           title=f"Relevé de carrière au {as_of:%d/%m/%Y}", year=as_of.year, sha256=sha256,
                           size=size, issued_on=issued_on, verification_code=verification_code,
                           initials=initials)
