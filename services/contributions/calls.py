"""Use cases of the yearly cycle (service layer): issue a call of a member's year as a new assessment.

A call is one stage of ``domain.cycle`` (provisional on N-2, adjusted on N-1, regularised on N), computed from
the member's latest declaration of each year. Issuing a call never edits history: it adds an assessment (lines,
inputs, parameter version), marks the previous one of the year not current, stages ``contributions_recalculated``
with the difference and why (``overview.changes``) in the outbox, and respreads the year's schedule over the
instalments still to come, all in the caller's transaction. The calls are computed on a ``ledger.Ledger`` (the
members' books read in a few queries) and stored by its ``write``: a batch of declarations issues all its calls
on one ledger, in a handful of statements.

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

from sqlalchemy import select
from sqlalchemy.orm import Session

from carpimko.events import Event, new_event

from . import overview, payments
from .domain import calculation, cycle, parameters, schedule
from .ledger import Call, DeclarationRow, Ledger, Line, Member, Schedule
from .models import Assessment

SURCHARGE_SCHEME = "surcharge"  # assessment_lines.scheme is 16 characters at most
SURCHARGE_LABEL = "Majoration pour estimation insuffisante"


def current_assessment(session: Session, file_number: str, year: int) -> Assessment | None:
    return session.scalar(select(Assessment).where(Assessment.file_number == file_number, Assessment.year == year,
                                                   Assessment.is_current.is_(True)))


def activity_start(contributor) -> date | None:
    """The activity start to give ``cycle.yearly_call`` so that its affiliation is ``affiliation_date``."""
    if contributor.affiliation_date is None:
        return None
    return contributor.affiliation_date - timedelta(days=1)


def compute(ledger: Ledger, member: Member, year: int, stage: str, estimate: Decimal | None = None,
            declaration: DeclarationRow | None = None) -> cycle.YearlyCall:
    """The call of ``year`` at ``stage`` from what the member declared (pure computation, nothing stored);
    ``declaration``, when given, is the one used for its year (the declaration being regularised)."""
    params = parameters.load_parameters(year)
    declared = ledger.latest_declarations(member.file_number)
    if declaration is not None:
        declared[declaration.year] = declaration
    incomes = {y: d.professional_income for y, d in declared.items()}
    conventioned = {y: d.conventioned_income for y, d in declared.items()}
    return cycle.yearly_call(params, stage, incomes, member.conventionne, conventioned,
                             activity_start(member), estimate)


def _estimate_of(ledger: Ledger, file_number: str, year: int) -> Decimal | None:
    """The member's estimate of ``year`` (monthly entries summed), or None when they made none."""
    rows = ledger.estimate_entries(file_number, year)
    if not rows:
        return None
    return cycle.estimate_from_monthly(dict(enumerate(rows, start=1)))


def issue_call(session: Session, file_number: str, year: int, stage: str, *, as_of: date, trigger: str,
               cause: Event | None = None, campaign_id: str | None = None, correlation_id: str | None = None,
               only_if_changed: bool = False) -> Call | None:
    """``issue`` for one member's year, read and written in the caller's transaction (an estimate)."""
    ledger = Ledger.load(session, [file_number], [year], as_of=as_of)
    call = issue(ledger, file_number, year, stage, trigger=trigger, cause=cause, campaign_id=campaign_id,
                 correlation_id=correlation_id, only_if_changed=only_if_changed)
    ledger.write()
    return call


def issue(ledger: Ledger, file_number: str, year: int, stage: str, *, trigger: str,
          declaration: DeclarationRow | None = None, cause: Event | None = None, campaign_id: str | None = None,
          correlation_id: str | None = None, only_if_changed: bool = False, assessment_id: str | None = None,
          announced_with: str | None = None, also_announced: tuple[Call, ...] = ()) -> Call | None:
    """Compute ``year`` at ``stage`` for the member and make it the year's new current call in ``ledger`` (see
    module); ``ledger.write()`` stores it.

    ``only_if_changed``: issue nothing (return None) when the call would be the current one again, same basis
    and same lines (an adjustment that adjusts nothing is not sent to the member).
    ``assessment_id``: the new call's id, when the caller needs it beforehand; ``announced_with``: the id of
    the call whose message tells the member of this one too, ``also_announced``: the calls this one's message
    tells them of (one decision, one message: see ``declarations._assess``)."""
    member = ledger.member(file_number)
    if member is None:
        raise calculation.InvalidDeclaration(f"unknown member {file_number}")
    estimate = _estimate_of(ledger, file_number, year) if stage != "regularised" else None
    call = compute(ledger, member, year, stage, estimate, declaration)
    previous = ledger.current(file_number, year)
    if only_if_changed and previous is not None and _same(previous, call):
        return None

    lines = [Line(position=i, scheme=line.scheme, label=line.label, base=line.base,
                  rate=None if line.rate is None else str(line.rate), fixed=line.fixed, amount=line.amount)
             for i, line in enumerate(call.assessment.lines)]
    notes = list(call.assessment.notes)
    total = call.total
    surcharge = None
    if stage == "regularised":
        surcharge = _estimate_surcharge(ledger, member, year, call)
        if surcharge is not None:
            amount, avoided, estimate_used, rate = surcharge
            lines.append(Line(position=len(lines), scheme=SURCHARGE_SCHEME, label=SURCHARGE_LABEL,
                              base=avoided, rate=str(rate), fixed=Decimal("0.00"), amount=amount))
            notes.append(f"Real income {call.assessment.income_used:.2f} far above the estimate "
                         f"{estimate_used:.2f}: surcharge of {rate} % of the {avoided:.2f} the estimate avoided.")
            total += amount
            surcharge = amount

    assessment = Call(
        id=assessment_id or str(uuid.uuid4()), declaration_id=declaration.id if declaration is not None else None,
        file_number=file_number, year=year, status=stage, is_current=True,
        parameters_version=call.assessment.parameters_version, income_used=call.assessment.income_used,
        income_declared=call.assessment.income_declared, conventionne=member.conventionne,
        total=total, previous_total=previous.total if previous is not None else None,
        notes=json.dumps(notes), computed_at=datetime.now(timezone.utc), basis=call.basis,
        income_year=call.income_year, trigger=trigger,
        cause_declaration_id=(declaration.id if declaration is not None
                              else (cause.correlation_id if cause is not None and trigger == "declaration"
                                    else None)),
        campaign_id=campaign_id, surcharge=surcharge, lines=lines)
    ledger.add_call(assessment)

    changes = overview.changes(previous, assessment, declaration,
                               ledger.declaration(previous.declaration_id)
                               if previous is not None and previous.declaration_id else None)
    ledger.stage(new_event(
        "contributions_recalculated",
        {"assessment_id": assessment.id, "declaration_id": assessment.declaration_id, "year": year,
         "status": stage, "basis": call.basis, "income_year": call.income_year, "trigger": trigger,
         "parameters_version": assessment.parameters_version, "income_used": assessment.income_used,
         "income_declared": assessment.income_declared,
         "lines": [{"scheme": l.scheme, "label": l.label, "base": l.base, "rate": l.rate, "fixed": l.fixed,
                    "amount": l.amount} for l in lines],
         "total": total, "previous_total": assessment.previous_total,
         "changes": _wire_changes(changes, previous), "surcharge": surcharge, "notes": notes,
         "announced_with": announced_with,
         "also_announced": [{"assessment_id": c.id, "year": c.year, "status": c.status} for c in also_announced]},
        member_id=file_number, cause=cause, correlation_id=correlation_id))
    _respread(ledger, file_number, year, total, assessment.id, cause)
    return assessment


def _respread(ledger: Ledger, file_number: str, year: int, total: Decimal, assessment_id: str,
              cause: Event | None) -> None:
    """Create the year's schedule for a new call, or spread the difference over the instalments still to come
    (``domain.schedule.respread``: those already due are kept), and stage ``schedule_changed``.

    A schedule is only ever created here, under the member's lock (the ledger's): no other transaction can
    create the same member-year meanwhile. Were it to happen anyway, the unique key refuses the second row
    and the whole transaction is retried, reading the first."""
    row = ledger.schedule(file_number, year)
    as_of = ledger.as_of
    if row is None:
        row = Schedule(id=str(uuid.uuid4()), file_number=file_number, year=year,
                       frequency=payments.DEFAULT_FREQUENCY, total=Decimal("0.00"), credit=Decimal("0.00"),
                       version=0, assessment_id=assessment_id, updated_at=datetime.now(timezone.utc))
        ledger.add_schedule(row)
        previous_total = None
    else:
        previous_total = row.total
    old = schedule.Schedule(row.year, row.frequency, row.total, row.instalments, row.credit)
    new = schedule.respread(old, total, as_of)
    row.version += 1
    row.assessment_id = assessment_id
    row.frequency, row.total, row.credit = new.frequency, new.total, new.credit
    row.instalments = new.instalments
    row.updated_at = datetime.now(timezone.utc)
    ledger.schedule_changed(row)
    ledger.stage(payments.schedule_changed_event(row, new, "assessment", previous_total, cause))


def _same(previous, call: cycle.YearlyCall) -> bool:
    return ((previous.basis, previous.income_year) == (call.basis, call.income_year)
            and [(l.scheme, l.amount) for l in previous.lines]
            == [(l.scheme, l.amount) for l in call.assessment.lines])


def _estimate_surcharge(ledger: Ledger, member: Member, year: int,
                        call: cycle.YearlyCall) -> tuple[Decimal, Decimal, Decimal, Decimal] | None:
    """(surcharge, contributions avoided, estimate, rate) when a call of ``year`` used the member's estimate
    and the real income proves far above it (``cycle.estimate_surcharge``); None otherwise."""
    on_estimate = ledger.latest_on_estimate(member.file_number, year)
    if on_estimate is None or not call.assessment.income_declared:
        return None
    params = parameters.load_parameters(year)
    estimate = on_estimate.income_used
    # compare like with like: the final calculation on the estimate, without the start-of-activity flat base
    total_on_estimate = calculation.assess(params, estimate, None, member.conventionne).total
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
