"""Use cases of the yearly cycle (service layer): issue a call of a member's year as a new assessment.

A call is one stage of ``domain.cycle`` (provisional on N-2, adjusted on N-1, regularised on N), computed from
the member's latest declaration of each year. Issuing a call never edits history: it adds an assessment (lines,
inputs, parameter version), marks the previous one of the year not current, stages ``contributions_recalculated``
with the difference and why (``overview.changes``) in the outbox, and respreads the year's schedule over the
instalments still to come (``payments.schedule_for_assessment``), all in the caller's transaction.

Who issues what:

- a declaration of year Y (``declarations.assess_declared_income``) regularises Y, and adjusts Y+1 when Y+1 is the
  current year and not regularised yet;
- the yearly campaign (``campaigns``) issues the provisional call of Y for every member who has no call of Y yet.

The start of activity: the contributor's ``affiliation_date`` is the affiliation itself (first day of a quarter);
the day before it is passed to ``cycle.yearly_call`` as the activity start, whose next quarter is that date.
"""
from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from carpimko import outbox
from carpimko.events import Event, new_event

from . import overview, payments
from .domain import calculation, cycle, parameters
from .models import Assessment, AssessmentLine, Contributor, Declaration, IncomeEstimate, Outbox

SURCHARGE_SCHEME = "surcharge"  # assessment_lines.scheme is 16 characters at most
SURCHARGE_LABEL = "Majoration pour estimation insuffisante"


def latest_declarations(session: Session, file_number: str) -> dict[int, Declaration]:
    """The member's latest declaration of each year (a later declaration corrects an earlier one)."""
    rows = session.scalars(select(Declaration).where(Declaration.file_number == file_number)
                           .order_by(Declaration.declared_at, Declaration.recorded_at)).all()
    return {row.year: row for row in rows}


def lock_member(session: Session, file_number: str) -> Contributor | None:
    """Lock the member's contributor row for the transaction (PostgreSQL ``FOR UPDATE``): the calls of one
    member (a declaration, the campaign, an estimate handled by concurrent workers) are issued one at a time,
    so a year never gets two current calls."""
    return session.scalar(select(Contributor).where(Contributor.file_number == file_number).with_for_update())


def current_assessment(session: Session, file_number: str, year: int, lock: bool = False) -> Assessment | None:
    query = select(Assessment).where(Assessment.file_number == file_number, Assessment.year == year,
                                     Assessment.is_current.is_(True))
    return session.scalar(query.with_for_update() if lock else query)


def activity_start(contributor: Contributor) -> date | None:
    """The activity start to give ``cycle.yearly_call`` so that its affiliation is ``affiliation_date``."""
    if contributor.affiliation_date is None:
        return None
    return contributor.affiliation_date - timedelta(days=1)


def compute(session: Session, contributor: Contributor, year: int, stage: str,
            estimate: Decimal | None = None, declaration: Declaration | None = None) -> cycle.YearlyCall:
    """The call of ``year`` at ``stage`` from what the member declared (pure computation, nothing stored);
    ``declaration``, when given, is the one used for its year (the declaration being regularised)."""
    params = parameters.load_parameters(year)
    declared = latest_declarations(session, contributor.file_number)
    if declaration is not None:
        declared[declaration.year] = declaration
    incomes = {y: d.professional_income for y, d in declared.items()}
    conventioned = {y: d.conventioned_income for y, d in declared.items()}
    return cycle.yearly_call(params, stage, incomes, contributor.conventionne, conventioned,
                             activity_start(contributor), estimate)


def _estimate_of(session: Session, file_number: str, year: int) -> Decimal | None:
    """The member's estimate of ``year`` (monthly entries summed), or None when they made none."""
    rows = session.scalars(select(IncomeEstimate.amount).where(IncomeEstimate.file_number == file_number,
                                                               IncomeEstimate.year == year)).all()
    if not rows:
        return None
    return cycle.estimate_from_monthly(dict(enumerate(rows, start=1)))


def issue_call(session: Session, file_number: str, year: int, stage: str, *, as_of: date, trigger: str,
               declaration: Declaration | None = None, cause: Event | None = None,
               campaign_id: str | None = None, correlation_id: str | None = None,
               only_if_changed: bool = False) -> Assessment | None:
    """Compute ``year`` at ``stage`` for the member and store it as the year's new current call (see module).

    ``only_if_changed``: issue nothing (return None) when the call would be the current one again, same basis
    and same lines (an adjustment that adjusts nothing is not sent to the member)."""
    contributor = lock_member(session, file_number)
    if contributor is None:
        raise calculation.InvalidDeclaration(f"unknown member {file_number}")
    estimate = _estimate_of(session, file_number, year) if stage != "regularised" else None
    call = compute(session, contributor, year, stage, estimate, declaration)
    previous = current_assessment(session, file_number, year, lock=True)
    if only_if_changed and previous is not None and _same(previous, call):
        return None

    lines = [AssessmentLine(position=i, scheme=line.scheme, label=line.label, base=line.base,
                            rate=None if line.rate is None else str(line.rate), fixed=line.fixed,
                            amount=line.amount)
             for i, line in enumerate(call.assessment.lines)]
    notes = list(call.assessment.notes)
    total = call.total
    surcharge = None
    if stage == "regularised":
        surcharge = _estimate_surcharge(session, contributor, year, call)
        if surcharge is not None:
            amount, avoided, estimate_used, rate = surcharge
            lines.append(AssessmentLine(position=len(lines), scheme=SURCHARGE_SCHEME, label=SURCHARGE_LABEL,
                                        base=avoided, rate=str(rate), fixed=Decimal("0.00"), amount=amount))
            notes.append(f"Real income {call.assessment.income_used:.2f} far above the estimate "
                         f"{estimate_used:.2f}: surcharge of {rate} % of the {avoided:.2f} the estimate avoided.")
            total += amount
            surcharge = amount

    if previous is not None:
        session.execute(update(Assessment).where(Assessment.id == previous.id).values(is_current=False))
    assessment = Assessment(
        id=str(uuid.uuid4()), declaration_id=declaration.id if declaration is not None else None,
        file_number=file_number, year=year, status=stage, is_current=True,
        parameters_version=call.assessment.parameters_version, income_used=call.assessment.income_used,
        income_declared=call.assessment.income_declared, conventionne=contributor.conventionne,
        total=total, previous_total=previous.total if previous is not None else None,
        notes=json.dumps(notes), computed_at=datetime.now(timezone.utc), basis=call.basis,
        income_year=call.income_year, trigger=trigger,
        cause_declaration_id=(declaration.id if declaration is not None
                              else (cause.correlation_id if cause is not None and trigger == "declaration"
                                    else None)),
        campaign_id=campaign_id, surcharge=surcharge)
    assessment.lines = lines
    session.add(assessment)
    session.flush()

    changes = overview.changes(previous, assessment, declaration,
                               session.get(Declaration, previous.declaration_id)
                               if previous is not None and previous.declaration_id else None)
    outbox.add(session, Outbox, new_event(
        "contributions_recalculated",
        {"assessment_id": assessment.id, "declaration_id": assessment.declaration_id, "year": year,
         "status": stage, "basis": call.basis, "income_year": call.income_year, "trigger": trigger,
         "parameters_version": assessment.parameters_version, "income_used": assessment.income_used,
         "income_declared": assessment.income_declared,
         "lines": [{"scheme": l.scheme, "label": l.label, "base": l.base, "rate": l.rate, "fixed": l.fixed,
                    "amount": l.amount} for l in lines],
         "total": total, "previous_total": assessment.previous_total,
         "changes": _wire_changes(changes, previous), "surcharge": surcharge, "notes": notes},
        member_id=file_number, cause=cause, correlation_id=correlation_id))
    payments.schedule_for_assessment(session, file_number, year, total, assessment.id, as_of=as_of, cause=cause)
    return assessment


def _same(previous: Assessment, call: cycle.YearlyCall) -> bool:
    return ((previous.basis, previous.income_year) == (call.basis, call.income_year)
            and [(l.scheme, l.amount) for l in previous.lines]
            == [(l.scheme, l.amount) for l in call.assessment.lines])


def _estimate_surcharge(session: Session, contributor: Contributor, year: int,
                        call: cycle.YearlyCall) -> tuple[Decimal, Decimal, Decimal, Decimal] | None:
    """(surcharge, contributions avoided, estimate, rate) when a call of ``year`` used the member's estimate
    and the real income proves far above it (``cycle.estimate_surcharge``); None otherwise."""
    on_estimate = session.scalar(
        select(Assessment).where(Assessment.file_number == contributor.file_number, Assessment.year == year,
                                 Assessment.basis == "estimate")
        .order_by(Assessment.computed_at.desc()).limit(1))
    if on_estimate is None or not call.assessment.income_declared:
        return None
    params = parameters.load_parameters(year)
    estimate = on_estimate.income_used
    # compare like with like: the final calculation on the estimate, without the start-of-activity flat base
    total_on_estimate = calculation.assess(params, estimate, None, contributor.conventionne).total
    amount = cycle.estimate_surcharge(params, estimate, call.assessment.income_used, total_on_estimate,
                                      call.total)
    if amount <= 0:
        return None
    return amount, call.total - total_on_estimate, estimate, params.estimate.surcharge_percent.value


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _wire_changes(changes: dict | None, previous: Assessment | None) -> dict | None:
    if changes is None or previous is None:
        return None
    return {"previous_assessment_id": previous.id, "previous_status": previous.status,
            "previous_total": changes["previous_total"], "difference": changes["difference"],
            "lines": changes["lines"],
            "reasons": [{"code": r["code"], "previous": _text(r.get("previous")),
                         "current": _text(r.get("current"))} for r in changes["reasons"]]}
