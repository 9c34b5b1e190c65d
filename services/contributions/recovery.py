"""Recovery of unpaid contributions (service layer): formal notices and payment plans, domain.md §3.3.

Recorded by the fund's staff (``carpimko contributions notice|plan``, docs/operations.md). They change what the
member sees of the "up to date" status (``payments.schedules``):

- a **formal notice** (mise en demeure) of a year is *unpaid* while that year has arrears on the day considered;
  recording one also sets the schedule's ``notice_date``, so the monthly late surcharge is the reduced one
  (0.1 % instead of 0.2 %) when the arrears are settled within 30 days of it (``domain.schedule``);
- a **payment plan** of a year is *active* from the day it is agreed until the year's arrears are settled or it
  is cancelled. A member with an active plan is **not up to date** even when paying the plan on time: this is the
  trap members miss, so the status says it, with what to do.
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from carpimko.errors import InvalidRequest, NotFound

from .domain import parameters, schedule
from .models import Contributor, FormalNotice, PaymentPlan, PaymentSchedule

MAX_PLAN_INSTALMENTS = 36


def _money(value) -> str | None:
    return None if value is None else f"{value:.2f}"


def _schedule_row(session: Session, file_number: str, year) -> PaymentSchedule:
    if not isinstance(year, int) or isinstance(year, bool):
        raise InvalidRequest("invalid request", {"year": ["must be an integer"]})
    if session.get(Contributor, file_number) is None:
        raise NotFound(f"no contributor {file_number}", {})
    row = session.scalar(select(PaymentSchedule).where(PaymentSchedule.file_number == file_number,
                                                       PaymentSchedule.year == year).with_for_update())
    if row is None:
        raise NotFound(f"no schedule for {year}", {})
    return row


def _day(value, field: str, errors: dict) -> date | None:
    try:
        return value if isinstance(value, date) else date.fromisoformat(str(value))
    except ValueError:
        errors[field] = ["not a date (YYYY-MM-DD)"]
        return None


def _staff(name, errors: dict) -> str:
    text = name.strip() if isinstance(name, str) else ""
    if not text:
        errors["by"] = ["required"]
    elif len(text) > 64:
        errors["by"] = ["too long: at most 64 characters"]
    return text


def year_status(session: Session, row: PaymentSchedule, day: date) -> schedule.AccountStatus:
    from .payments import _domain_schedule, _payments  # late import: payments imports this module
    year = row.year if row.year in parameters.available_years() else max(parameters.available_years())
    return schedule.account_status(parameters.load_parameters(year), _domain_schedule(row),
                                   [p.amount for p in _payments(session, row.file_number, row.year, day)], day,
                                   row.notice_date)


def record_notice(session: Session, file_number: str, year, sent_on, by) -> dict:
    """Record a formal notice sent on ``sent_on`` for the year's arrears as of that day (refused when nothing
    is late then: a notice is only for unpaid instalments)."""
    errors: dict = {}
    day = _day(sent_on, "sent_on", errors)
    by = _staff(by, errors)
    if errors:
        raise InvalidRequest("invalid formal notice", errors)
    row = _schedule_row(session, file_number, year)
    status = year_status(session, row, day)
    if status.arrears <= 0:
        raise InvalidRequest("invalid formal notice",
                             {"sent_on": [f"nothing is late for {year} on {day.isoformat()}"]})
    notice = FormalNotice(id=str(uuid.uuid4()), file_number=file_number, year=row.year, sent_on=day,
                          amount=status.to_pay_now, recorded_by=by, recorded_at=datetime.now(timezone.utc))
    session.add(notice)
    if row.notice_date is None or day > row.notice_date:
        row.notice_date = day
    session.flush()
    return {"id": notice.id, "file_number": file_number, "year": row.year, "sent_on": day.isoformat(),
            "amount": _money(notice.amount), "arrears": _money(status.arrears),
            "surcharge": _money(status.surcharge)}


def record_plan(session: Session, file_number: str, year, instalments, first_due, by, today: date) -> dict:
    """Record a payment plan agreed today for the year's arrears, in ``instalments`` monthly payments."""
    errors: dict = {}
    day = _day(first_due, "first_due", errors)
    by = _staff(by, errors)
    if isinstance(instalments, bool) or not isinstance(instalments, int) \
            or not 1 <= instalments <= MAX_PLAN_INSTALMENTS:
        errors["instalments"] = [f"must be an integer from 1 to {MAX_PLAN_INSTALMENTS}"]
    if day is not None and day < today:
        errors["first_due"] = ["must not be in the past"]
    if errors:
        raise InvalidRequest("invalid payment plan", errors)
    row = _schedule_row(session, file_number, year)
    status = year_status(session, row, today)
    if status.arrears <= 0:
        raise InvalidRequest("invalid payment plan", {"year": [f"nothing is late for {year}"]})
    plan = PaymentPlan(id=str(uuid.uuid4()), file_number=file_number, year=row.year, amount=status.to_pay_now,
                       instalments=instalments, first_due=day, agreed_on=today, agreed_by=by, agreed_at=datetime.now(timezone.utc))
    session.add(plan)
    session.flush()
    return plan_view(plan)


def cancel_plan(session: Session, plan_id: str, by) -> dict:
    errors: dict = {}
    _staff(by, errors)
    if errors:
        raise InvalidRequest("invalid request", errors)
    plan = session.get(PaymentPlan, plan_id)
    if plan is None:
        raise NotFound(f"no payment plan {plan_id}", {})
    if plan.cancelled_at is None:
        plan.cancelled_at = datetime.now(timezone.utc)
        session.flush()
    return plan_view(plan)


def plan_view(plan: PaymentPlan) -> dict:
    per = schedule.split(plan.amount, plan.instalments)
    return {"id": plan.id, "year": plan.year, "amount": _money(plan.amount), "instalments": plan.instalments,
            "instalment_amounts": [_money(a) for a in per], "first_due": plan.first_due.isoformat(),
            "agreed_on": plan.agreed_on.isoformat(), "cancelled": plan.cancelled_at is not None}


def member_recovery(session: Session, file_number: str, late_years: dict[int, bool], day: date) -> dict:
    """The active payment plans and unpaid formal notices of the member on ``day``; ``late_years`` maps each
    scheduled year to whether it has arrears that day.

    Only plans and notices of years in arrears count: when no year is, there
    is nothing to read (most members, on every dashboard)."""
    if not any(late_years.values()):
        return {"payment_plans": [], "formal_notices": []}
    plans = session.scalars(select(PaymentPlan).where(PaymentPlan.file_number == file_number,
                                                      PaymentPlan.cancelled_at.is_(None))
                            .order_by(PaymentPlan.agreed_on, PaymentPlan.agreed_at)).all()
    notices = session.scalars(select(FormalNotice).where(FormalNotice.file_number == file_number,
                                                         FormalNotice.sent_on <= day)
                              .order_by(FormalNotice.sent_on)).all()
    active = [plan_view(p) for p in plans if late_years.get(p.year) and p.agreed_on <= day]
    unpaid = [{"year": n.year, "sent_on": n.sent_on.isoformat(), "amount": _money(n.amount)}
              for n in notices if late_years.get(n.year)]
    return {"payment_plans": active, "formal_notices": unpaid}
