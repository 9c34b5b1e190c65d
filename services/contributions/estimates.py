"""The member's estimate of the current year's income (service layer), domain.md §3.3.

The member (the physiotherapist entering monthly fees) enters an amount per month; the estimate is their sum
(``cycle.estimate_from_monthly``). Saving it adjusts the current year's call on the estimate (a new assessment,
stage ``adjusted``, basis ``estimate``, trigger ``estimate``) unless that would change nothing. Entries stay
editable until the year's income is declared; at regularisation, ``calls`` adds the estimate surcharge when the
real income proves far above the estimate.
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from carpimko.errors import Conflict, InvalidRequest, NotFound

from . import calls
from .domain import cycle, parameters
from .models import Contributor, Declaration, IncomeEstimate

MAX_MONTHLY = Decimal("10000000")


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def validate_months(months) -> dict[int, Decimal]:
    """``{"1": "2000", "2": "2150.50", ...}`` (months as numbers or text, empty values skipped) to
    ``{1: Decimal, ...}``; every error names its month."""
    if not isinstance(months, dict):
        raise InvalidRequest("invalid estimate", {"months": ["must be an object of month: amount"]})
    errors: dict = {}
    entries: dict[int, Decimal] = {}
    for key, value in months.items():
        try:
            month = int(key)
        except (TypeError, ValueError):
            errors[f"months.{key}"] = ["month must be 1 to 12"]
            continue
        if not 1 <= month <= 12 or str(month) != str(key).strip():
            errors[f"months.{key}"] = ["month must be 1 to 12"]
            continue
        if value is None or (isinstance(value, str) and not value.strip()):
            continue
        try:
            amount = Decimal(str(value).strip().replace(" ", "").replace(",", "."))
        except (InvalidOperation, ValueError):
            errors[f"months.{month}"] = ["not a decimal amount"]
            continue
        if not amount.is_finite():
            errors[f"months.{month}"] = ["not a decimal amount"]
        elif amount < 0:
            errors[f"months.{month}"] = ["must not be negative"]
        elif amount >= MAX_MONTHLY:
            errors[f"months.{month}"] = ["too large"]
        elif amount != amount.quantize(Decimal("0.01")):
            errors[f"months.{month}"] = ["at most two decimal places"]
        else:
            entries[month] = amount
    if not errors and not entries:
        errors["months"] = ["enter the fees of at least one month"]
    if errors:
        raise InvalidRequest("invalid estimate", errors)
    return entries


def _declared(session: Session, file_number: str, year: int) -> bool:
    return session.scalar(select(Declaration.id).where(Declaration.file_number == file_number,
                                                       Declaration.year == year).limit(1)) is not None


def estimate_view(session: Session, file_number: str, year: int) -> dict:
    rows = session.scalars(select(IncomeEstimate).where(IncomeEstimate.file_number == file_number,
                                                        IncomeEstimate.year == year)
                           .order_by(IncomeEstimate.month)).all()
    total = cycle.estimate_from_monthly({r.month: r.amount for r in rows}) if rows else None
    current = calls.current_assessment(session, file_number, year)
    return {
        "year": year,
        "months": {str(r.month): _money(r.amount) for r in rows},
        "total": _money(total),
        "locked": _declared(session, file_number, year),
        "updated_at": max(r.updated_at for r in rows).isoformat() if rows else None,
        "call": None if current is None else {
            "assessment_id": current.id, "status": current.status, "basis": current.basis,
            "total": _money(current.total)},
    }


def save_estimate(session: Session, file_number: str, year, months, as_of: date) -> dict:
    """Store the monthly entries of ``year`` (the current year only; they replace the previous ones) and adjust
    the year's call on their sum."""
    if not isinstance(year, int) or isinstance(year, bool):
        raise InvalidRequest("invalid estimate", {"year": ["must be an integer"]})
    if year != as_of.year:
        raise InvalidRequest("invalid estimate", {"year": [f"only the current year ({as_of.year}) can be "
                                                           "estimated"]})
    if year not in parameters.available_years():
        raise InvalidRequest("invalid estimate", {"year": [f"no contribution rules for {year}"]})
    entries = validate_months(months)
    if session.get(Contributor, file_number) is None:
        raise NotFound(f"no contributor {file_number}", {})
    if _declared(session, file_number, year):
        raise Conflict(f"the income of {year} is declared: the estimate can no longer change", {})
    existing = {r.month: r.amount for r in session.scalars(
        select(IncomeEstimate).where(IncomeEstimate.file_number == file_number, IncomeEstimate.year == year))}
    if existing != entries:
        session.execute(delete(IncomeEstimate).where(IncomeEstimate.file_number == file_number,
                                                     IncomeEstimate.year == year))
        now = datetime.now(timezone.utc)
        session.add_all([IncomeEstimate(file_number=file_number, year=year, month=m, amount=a, updated_at=now)
                         for m, a in sorted(entries.items())])
        session.flush()
        current = calls.current_assessment(session, file_number, year)
        if current is None or current.status != "regularised":
            calls.issue_call(session, file_number, year, "adjusted", as_of=as_of, trigger="estimate",
                             only_if_changed=True)
    return estimate_view(session, file_number, year)
