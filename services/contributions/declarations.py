"""Use cases of the contributions service (service layer).

Functions take a SQLAlchemy session (the unit of work is the caller's
transaction) and the outbox/inbox models; business rules are in ``domain``.
"""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, selectinload

from carpimko import inbox, outbox
from carpimko.errors import InvalidRequest, NotFound, PermanentFailure
from carpimko.events import Event, new_event

from . import calls, payments
from .domain import calculation, parameters
from .ledger import DeclarationRow, Ledger
from .models import Assessment, Contributor, Declaration, Inbox, Outbox

CONSUMER = "contributions.on_income_declared"


def _money(value, field: str, errors: dict) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors[field] = ["not a decimal amount"]
        return None
    if not amount.is_finite():
        errors[field] = ["not a decimal amount"]
        return None
    if amount < 0:
        errors[field] = ["must not be negative"]
        return None
    if amount >= Decimal("100000000"):
        errors[field] = ["too large: at most 99 999 999.99"]
        return None
    if amount != amount.quantize(Decimal("0.01")):
        errors[field] = ["at most two decimal places"]
        return None
    return amount


def validate_declaration(year, professional_income, conventioned_income) -> tuple[int, Decimal | None, Decimal | None]:
    errors: dict = {}
    if not isinstance(year, int) or isinstance(year, bool):
        errors["year"] = ["must be an integer"]
    elif year not in parameters.available_years():
        years = ", ".join(str(y) for y in parameters.available_years())
        errors["year"] = [f"no contribution rules for {year} (known years: {years})"]
    income = _money(professional_income, "professional_income", errors)
    conventioned = _money(conventioned_income, "conventioned_income", errors)
    if professional_income in (None, "") and "professional_income" not in errors:
        errors["professional_income"] = ["required"]
    if income is not None and conventioned is not None and conventioned > income:
        errors["conventioned_income"] = ["cannot exceed the professional income"]
    if errors:
        raise InvalidRequest("invalid declaration", errors)
    return year, income, conventioned


def record_declaration(session: Session, file_number: str, year, professional_income,
                       conventioned_income, source: str = "portal",
                       declaration_id: str | None = None) -> dict:
    """Record a member's declaration and stage ``income_declared`` (same transaction).

    Idempotent on ``declaration_id``: the gateway may retry after a timeout.
    """
    year, income, conventioned = validate_declaration(year, professional_income, conventioned_income)
    if session.get(Contributor, file_number) is None:
        raise NotFound(f"no contributor {file_number}", {})
    declaration_id = declaration_id or str(uuid.uuid4())
    existing = session.get(Declaration, declaration_id)
    if existing is not None:
        if existing.file_number != file_number:
            raise NotFound("unknown declaration", {})
        return declaration_view(session, existing)
    now = datetime.now(timezone.utc)
    declaration = Declaration(id=declaration_id, file_number=file_number, year=year,
                              professional_income=income, conventioned_income=conventioned,
                              source=source, declared_at=now, recorded_at=now)
    session.add(declaration)
    outbox.add(session, Outbox, new_event(
        "income_declared",
        {"declaration_id": declaration_id, "year": year, "professional_income": income,
         "conventioned_income": conventioned, "source": source, "declared_at": now},
        member_id=file_number, correlation_id=declaration_id))
    session.flush()
    return declaration_view(session, declaration)


def assess_declared_income(session: Session, event: Event, as_of=None) -> str | None:
    """Handle one ``income_declared`` (``assess_declared_incomes`` for a batch of one)."""
    return assess_declared_incomes(session, [event], as_of)[0]


def assess_declared_incomes(session: Session, events: list[Event], as_of=None) -> list[str | None]:
    """Handle a batch of ``income_declared`` in the caller's transaction: each declaration regularises its year
    (and adjusts the next one when it is the current year, see ``calls``), each call staging
    ``contributions_recalculated``. Returns, per event, the regularised assessment id, or None for an event
    already handled (redelivered, or the same declaration under another event id).

    The batch is claimed in the inbox in one statement, the members' books read in a few queries
    (``ledger.Ledger``, members locked in file-number order) and the calls written together at the end; the
    events are handled one after the other in member order, as if each had its transaction. An event that
    cannot be handled raises (``PermanentFailure`` when it never will be): the caller's transaction is rolled
    back, claims included, and the batch handler takes each event alone."""
    today = as_of or payments.today()
    claimed = inbox.claim_many(session, Inbox, CONSUMER, [event.event_id for event in events])
    fresh = []
    for event in events:
        if event.event_id in claimed:
            claimed.discard(event.event_id)  # the same event twice in a batch is handled once
            fresh.append(event)
    assessed = {}
    if fresh:
        years = {year for event in fresh for year in (event.payload["year"], event.payload["year"] + 1)}
        ledger = Ledger.load(session, [event.member_id for event in fresh if event.member_id], years,
                             as_of=today,
                             declaration_ids=[str(event.payload["declaration_id"]) for event in fresh])
        known_years = parameters.available_years()  # a directory listing: once per batch
        for event in sorted(fresh, key=lambda event: event.member_id or ""):
            assessed[event.event_id] = _assess(ledger, event, today, known_years)
        ledger.write()
    return [assessed.get(event.event_id) for event in events]


def _assess(ledger: Ledger, event: Event, today, known_years) -> str | None:
    p = event.payload
    declaration_id = str(p["declaration_id"])
    member = ledger.member(event.member_id)
    if member is None:
        raise PermanentFailure(f"unknown member {event.member_id}")
    try:
        params = parameters.load_parameters(p["year"])
    except parameters.UnknownYear as exc:
        raise PermanentFailure(str(exc)) from None

    declaration = ledger.declaration(declaration_id)
    if declaration is None:  # from a batch: first time we see it
        declaration = DeclarationRow(
            id=declaration_id, file_number=event.member_id, year=p["year"],
            professional_income=p["professional_income"], conventioned_income=p["conventioned_income"],
            source=p["source"], declared_at=p["declared_at"], recorded_at=datetime.now(timezone.utc))
        ledger.add_declaration(declaration)
    elif declaration.file_number != event.member_id:
        raise PermanentFailure(f"declaration {declaration_id} belongs to another member")
    elif ledger.is_assessed(declaration_id):
        return None  # already assessed under another event id (replayed batch)

    try:
        # the income is checked before anything is stored: a declaration that cannot be assessed is refused
        calculation.assess(params, declaration.professional_income, declaration.conventioned_income,
                           member.conventionne)
        # One decision, one message: the adjustment of the following year's call (when there is one) is
        # announced in the regularisation's message, so it is computed first and named in it.
        regularisation_id = str(uuid.uuid4())
        adjusted = None
        following = p["year"] + 1
        if following == today.year and following in known_years:
            current = ledger.current(event.member_id, following)
            if current is None or current.status != "regularised":
                adjusted = calls.issue(ledger, event.member_id, following, "adjusted", trigger="declaration",
                                       cause=event, only_if_changed=True, announced_with=regularisation_id)
        assessment = calls.issue(ledger, event.member_id, p["year"], "regularised", trigger="declaration",
                                 declaration=declaration, cause=event, assessment_id=regularisation_id,
                                 also_announced=(adjusted,) if adjusted is not None else ())
    except calculation.InvalidDeclaration as exc:
        raise PermanentFailure(str(exc)) from None
    return assessment.id


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def _money_str(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# The reads of ``list_declarations`` (the dashboard's, on every view, and the API's
# list), built once: building a statement and its cache key on every call was a good
# part of this service's CPU per page (profiled, docs/benchmarks.md). Without the
# detail (lines and notes), plain rows of the columns ``declaration_view`` shows
# instead of ORM objects.
_DECL, _ASSESS = Declaration.__table__.c, Assessment.__table__.c
DECLARATIONS = (select(Declaration).where(Declaration.file_number == bindparam("file_number"))
                .order_by(Declaration.declared_at.desc()).limit(bindparam("limit")))
DECLARATION_SUMMARIES = (
    select(_DECL.id, _DECL.file_number, _DECL.year, _DECL.professional_income,
           _DECL.conventioned_income, _DECL.source, _DECL.declared_at)
    .where(_DECL.file_number == bindparam("file_number"))
    .order_by(_DECL.declared_at.desc()).limit(bindparam("limit")))
# the lines load with their assessment by default (the model's selectin)
ASSESSMENTS_WITH_LINES = (
    select(Assessment).options(selectinload(Assessment.lines))
    .where(Assessment.declaration_id.in_(bindparam("ids", expanding=True)))
    .order_by(Assessment.computed_at))
ASSESSMENT_SUMMARIES = (
    select(_ASSESS.id, _ASSESS.declaration_id, _ASSESS.year, _ASSESS.status, _ASSESS.is_current,
           _ASSESS.computed_at, _ASSESS.parameters_version, _ASSESS.income_used, _ASSESS.total,
           _ASSESS.previous_total)
    .where(_ASSESS.declaration_id.in_(bindparam("ids", expanding=True)))
    .order_by(_ASSESS.computed_at))


def _own_assessments(session: Session, declarations: list,
                     with_lines: bool = True) -> dict[str, Assessment]:
    """Each declaration's assessment of its own year (a declaration of Y may also
    have adjusted Y+1), with their lines (``with_lines``), in two queries
    whatever the count; without the lines, one query of plain rows (what a
    summary shows)."""
    if not declarations:
        return {}
    years = {d.id: d.year for d in declarations}
    ids = {"ids": list(years)}
    rows = (session.scalars(ASSESSMENTS_WITH_LINES, ids) if with_lines
            else session.execute(ASSESSMENT_SUMMARIES, ids)).all()
    return {a.declaration_id: a for a in rows if a.year == years[a.declaration_id]}


def declaration_view(session: Session, declaration: Declaration,
                     assessments: dict[str, Assessment] | None = None, detail: bool = True) -> dict:
    """The declaration and its assessment; without ``detail``, the assessment
    without its lines and notes (what a summary shows: the total)."""
    if assessments is None:
        assessments = _own_assessments(session, [declaration])
    assessment = assessments.get(declaration.id)
    view = {
        "id": declaration.id,
        "file_number": declaration.file_number,
        "year": declaration.year,
        "professional_income": _money_str(declaration.professional_income),
        "conventioned_income": _money_str(declaration.conventioned_income),
        "source": declaration.source,
        "declared_at": _iso(declaration.declared_at),
        "assessment": None,
    }
    if assessment is not None:
        view["assessment"] = {
            "id": assessment.id,
            "status": assessment.status,
            "is_current": assessment.is_current,
            "computed_at": _iso(assessment.computed_at),
            "parameters_version": assessment.parameters_version,
            "income_used": _money_str(assessment.income_used),
            "total": _money_str(assessment.total),
            "previous_total": _money_str(assessment.previous_total),
        }
        if detail:
            view["assessment"]["lines"] = [
                {"scheme": l.scheme, "label": l.label, "base": _money_str(l.base), "rate": l.rate,
                 "fixed": _money_str(l.fixed), "amount": _money_str(l.amount)}
                for l in assessment.lines]
            view["assessment"]["notes"] = json.loads(assessment.notes)
    return view


def get_declaration(session: Session, file_number: str, declaration_id: str) -> dict:
    declaration = session.get(Declaration, declaration_id)
    if declaration is None or declaration.file_number != file_number:
        raise NotFound("unknown declaration", {})
    return declaration_view(session, declaration)


def list_declarations(session: Session, file_number: str, limit: int = 50,
                      detail: bool = True) -> list[dict]:
    """The member's declarations, newest first. Without ``detail`` (the
    dashboard: it shows each year's total), no assessment lines or notes: a
    query and most of the answer less on every page (profiled)."""
    params = {"file_number": file_number, "limit": limit}
    rows = (session.scalars(DECLARATIONS, params) if detail
            else session.execute(DECLARATION_SUMMARIES, params)).all()
    assessments = _own_assessments(session, rows, detail)  # not a query per declaration (profiled)
    return [declaration_view(session, d, assessments, detail) for d in rows]
