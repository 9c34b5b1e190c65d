"""Use cases of payment schedules, payments, the balance and the SEPA mandate (service layer).

Functions take a SQLAlchemy session (the caller's transaction); the rules are in ``domain.schedule``. The day
(``as_of``) is a parameter so that every rule can be tested on a fixed date; the service passes today's date
(Europe/Paris).
"""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from carpimko import inbox, outbox
from carpimko.errors import InvalidRequest, NotFound, PermanentFailure
from carpimko.events import Event, new_event

from .domain import parameters, schedule
from .models import Contributor, Inbox, Mandate, Outbox, Payment, PaymentSchedule, ScheduledInstalment

PAYMENT_CONSUMER = "contributions.on_payment_received"
DEFAULT_FREQUENCY = "monthly"
PARIS = ZoneInfo("Europe/Paris")


def today() -> date:
    return datetime.now(PARIS).date()


def _money(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


# -- schedules ---------------------------------------------------------------------------------------------------

def _domain_schedule(row: PaymentSchedule) -> schedule.Schedule:
    return schedule.Schedule(
        row.year, row.frequency, row.total,
        tuple(schedule.Instalment(i.number, i.due_date, i.amount) for i in row.instalments), row.credit)


def _store(session: Session, row: PaymentSchedule, old: schedule.Schedule, new: schedule.Schedule,
           as_of: date) -> None:
    """Replace the future instalments of ``row`` by those of ``new`` (the past ones are left untouched)."""
    kept = sum(1 for i in old.instalments if i.due_date < as_of)
    if len(old.instalments) > kept:
        session.execute(delete(ScheduledInstalment).where(ScheduledInstalment.schedule_id == row.id,
                                                          ScheduledInstalment.due_date >= as_of))
    session.add_all([ScheduledInstalment(schedule_id=row.id, number=inst.number, due_date=inst.due_date,
                                         amount=inst.amount) for inst in new.instalments[kept:]])
    row.frequency = new.frequency
    row.total = new.total
    row.credit = new.credit
    row.updated_at = datetime.now(timezone.utc)
    session.flush()
    session.expire(row, ["instalments"])


def _emit_changed(session: Session, row: PaymentSchedule, new: schedule.Schedule, reason: str,
                  previous_total: Decimal | None, cause: Event | None = None) -> None:
    outbox.add(session, Outbox, schedule_changed_event(row, new, reason, previous_total, cause))


def schedule_changed_event(row, new: schedule.Schedule, reason: str, previous_total: Decimal | None,
                           cause: Event | None = None) -> dict:
    """``schedule_changed`` for ``row`` (a ``PaymentSchedule``, or a ``ledger.Schedule``) changed to ``new``."""
    return new_event(
        "schedule_changed",
        {"schedule_id": row.id, "year": row.year, "frequency": new.frequency, "version": row.version,
         "reason": reason, "total": new.total, "previous_total": previous_total, "credit": new.credit,
         "assessment_id": row.assessment_id,
         "instalments": [{"number": i.number, "due_date": i.due_date, "amount": i.amount}
                         for i in new.instalments]},
        member_id=row.file_number, cause=cause,
        correlation_id=None if cause is not None else row.id)


def change_frequency(session: Session, file_number: str, year, frequency, as_of: date) -> dict:
    """The member changes the frequency of a year's schedule: the future instalments only are recomputed.
    Idempotent: the same frequency again changes nothing."""
    errors = {}
    if frequency not in schedule.FREQUENCIES:
        errors["frequency"] = [f"must be one of {', '.join(sorted(schedule.FREQUENCIES))}"]
    if not isinstance(year, int) or isinstance(year, bool):
        errors["year"] = ["must be an integer"]
    if errors:
        raise InvalidRequest("invalid schedule change", errors)
    row = session.scalar(select(PaymentSchedule).where(PaymentSchedule.file_number == file_number,
                                                       PaymentSchedule.year == year).with_for_update())
    if row is None:
        raise NotFound(f"no schedule for {year}", {})
    if row.frequency != frequency:
        old = _domain_schedule(row)
        new = schedule.respread(old, row.total, as_of, frequency)
        row.version += 1
        _store(session, row, old, new, as_of)
        _emit_changed(session, row, new, "frequency_changed", row.total)
    return schedule_view(session, row, as_of)


# -- payments ----------------------------------------------------------------------------------------------------

def record_payment(session: Session, event: Event) -> str | None:
    """Handle ``payment_received``: store it once (inbox + unique bank reference)."""
    if not inbox.claim(session, Inbox, PAYMENT_CONSUMER, event.event_id):
        return None
    p = event.payload
    if session.get(Contributor, event.member_id) is None:
        raise PermanentFailure(f"unknown member {event.member_id}")
    if session.get(Payment, p["reference"]) is not None:
        return None  # same bank reference under another event id: already recorded
    session.add(Payment(reference=p["reference"], file_number=event.member_id, year=p["year"],
                        amount=p["amount"], paid_on=p["paid_on"], source=p["source"],
                        recorded_at=datetime.now(timezone.utc)))
    return p["reference"]


def _payments(session: Session, file_number: str, year: int, as_of: date) -> list[Payment]:
    return list(session.scalars(select(Payment).where(Payment.file_number == file_number, Payment.year == year,
                                                      Payment.paid_on <= as_of)
                                .order_by(Payment.paid_on, Payment.reference)))


# What ``schedules`` reads (the dashboard asks it on every view), as plain rows of the
# columns ``schedule_view`` uses, in statements built once: through the ORM, each call
# built its statements and their cache keys again and made an object per schedule,
# instalment and payment (profiled, docs/benchmarks.md).
_S, _I, _P = PaymentSchedule.__table__.c, ScheduledInstalment.__table__.c, Payment.__table__.c
SCHEDULES = (select(_S.id, _S.file_number, _S.year, _S.frequency, _S.total, _S.credit, _S.version,
                    _S.notice_date, _S.updated_at)
             .where(_S.file_number == bindparam("file_number")).order_by(_S.year.desc()))
INSTALMENTS = (select(_I.schedule_id, _I.number, _I.due_date, _I.amount)
               .where(_I.schedule_id.in_(bindparam("ids", expanding=True)))
               .order_by(_I.schedule_id, _I.number))
PAYMENTS_BY_YEAR = (select(_P.reference, _P.year, _P.amount, _P.paid_on, _P.source)
                    .where(_P.file_number == bindparam("file_number"),
                           _P.year.in_(bindparam("years", expanding=True)),
                           _P.paid_on <= bindparam("as_of"))
                    .order_by(_P.paid_on, _P.reference))


def _schedule_rows(session: Session, file_number: str) -> list[SimpleNamespace]:
    """The member's schedules, latest year first, each with its ``instalments``
    in order (what ``schedule_view`` reads of a ``PaymentSchedule``): two queries."""
    rows = [SimpleNamespace(**row._mapping, instalments=[])
            for row in session.execute(SCHEDULES, {"file_number": file_number})]
    if rows:
        by_id = {row.id: row for row in rows}
        for instalment in session.execute(INSTALMENTS, {"ids": list(by_id)}):
            by_id[instalment.schedule_id].instalments.append(instalment)
    return rows


def _payments_by_year(session: Session, file_number: str, years: list[int],
                      as_of: date) -> dict[int, list]:
    """The payments of several years in one query (same order as ``_payments``)."""
    by_year: dict[int, list] = {year: [] for year in years}
    if years:
        for payment in session.execute(PAYMENTS_BY_YEAR, {"file_number": file_number,
                                                          "years": years, "as_of": as_of}):
            by_year[payment.year].append(payment)
    return by_year


def _parameters_for(year: int):
    """The year's parameters, or the latest year's when it has no file. Read
    from the cache first: listing the parameter folder (``available_years``)
    twice per schedule was a good share of a dashboard's calls (profiled)."""
    try:
        return parameters.load_parameters(year)
    except parameters.UnknownYear:
        return parameters.load_parameters(max(parameters.available_years()))


def schedule_view(session: Session, row: PaymentSchedule, as_of: date,
                  payments: list[Payment] | None = None) -> dict:
    """One year's schedule and status; ``payments`` are that year's payments
    up to ``as_of`` when the caller already read them."""
    params = _parameters_for(row.year)
    if payments is None:
        payments = _payments(session, row.file_number, row.year, as_of)
    status = schedule.account_status(params, _domain_schedule(row), [p.amount for p in payments], as_of,
                                     row.notice_date)
    late = {l.number: l for l in status.late}
    return {
        "year": row.year,
        "frequency": row.frequency,
        "version": row.version,
        "total": _money(row.total),
        "credit": _money(row.credit),
        "updated_at": row.updated_at.isoformat() if row.updated_at else None,
        "instalments": [
            {"number": i.number, "due_date": i.due_date.isoformat(), "amount": _money(i.amount),
             "state": "late" if i.number in late else ("due" if i.due_date <= as_of else "future"),
             "unpaid": _money(late[i.number].unpaid) if i.number in late else None,
             "surcharge": _money(late[i.number].surcharge) if i.number in late else None}
            for i in row.instalments],
        "payments": [{"reference": p.reference, "paid_on": p.paid_on.isoformat(), "amount": _money(p.amount),
                      "source": p.source} for p in payments],
        "status": {
            "up_to_date": status.up_to_date,
            "reason": status.reason,
            "due_to_date": _money(status.due_to_date),
            "paid": _money(status.paid),
            "balance": _money(status.balance),
            "arrears": _money(status.arrears),
            "surcharge": _money(status.surcharge),
            "to_pay_now": _money(status.to_pay_now),
            "remaining": _money(status.remaining),
            "notice_date": row.notice_date.isoformat() if row.notice_date else None,
        },
    }


def schedules(session: Session, file_number: str, as_of: date) -> dict:
    """Every year's schedule with its status, and the member's overall "up to date" status."""
    rows = _schedule_rows(session, file_number)
    # every year's payments in one query, not one per year (the dashboard asks this on every page)
    paid = _payments_by_year(session, file_number, [row.year for row in rows], as_of)
    years = [schedule_view(session, row, as_of, paid[row.year]) for row in rows]
    late_years = [y["year"] for y in years if not y["status"]["up_to_date"]]
    to_pay = sum((Decimal(y["status"]["to_pay_now"]) for y in years), Decimal("0.00"))
    from . import recovery  # formal notices and payment plans (recovery imports this module)
    recovered = recovery.member_recovery(session, file_number,
                                         {y["year"]: not y["status"]["up_to_date"] for y in years}, as_of)
    if not years:
        reason = "no_schedule"
    elif recovered["payment_plans"]:
        reason = "payment_plan"
    elif any(y["status"]["reason"] == "formal_notice" for y in years):
        reason = "formal_notice"
    elif late_years:
        reason = "arrears"
    else:
        reason = "up_to_date"
    return {
        "as_of": as_of.isoformat(),
        "up_to_date": not late_years,
        "reason": reason,
        "late_years": late_years,
        "to_pay_now": _money(to_pay),
        "schedules": years,
        "payment_plans": recovered["payment_plans"],
        "formal_notices": recovered["formal_notices"],
    }


def get_schedule(session: Session, file_number: str, year: int, as_of: date) -> dict:
    row = session.scalar(select(PaymentSchedule).where(PaymentSchedule.file_number == file_number,
                                                       PaymentSchedule.year == year))
    if row is None:
        raise NotFound(f"no schedule for {year}", {})
    return schedule_view(session, row, as_of)


def payments_paid_in(session: Session, file_number: str, calendar_year) -> list[dict]:
    """Every payment received in ``calendar_year`` (whatever year's contributions
    it paid): what the certificate for the income tax return lists."""
    if not isinstance(calendar_year, int) or isinstance(calendar_year, bool) \
            or not 2000 <= calendar_year <= 2100:
        raise InvalidRequest("invalid year", {"year": ["must be a year from 2000 to 2100"]})
    rows = session.scalars(select(Payment).where(
        Payment.file_number == file_number, Payment.paid_on >= date(calendar_year, 1, 1),
        Payment.paid_on <= date(calendar_year, 12, 31))
        .order_by(Payment.paid_on, Payment.reference))
    return [{"reference": p.reference, "paid_on": p.paid_on.isoformat(), "year": p.year,
             "amount": _money(p.amount), "source": p.source} for p in rows]


# -- SEPA mandate --------------------------------------------------------------------------------------------------

def mask_iban(iban: str) -> str:
    """``FR7630006000011234567890189`` -> ``FR76 **** **** **** **** ***0 189``: country, check digits and the
    last four characters stay visible."""
    masked = iban[:4] + "*" * (len(iban) - 8) + iban[-4:]
    return " ".join(masked[i:i + 4] for i in range(0, len(masked), 4))


def validate_mandate(iban, bic, holder) -> tuple[str, str, str]:
    from schwifty import BIC, IBAN
    from schwifty.exceptions import SchwiftyException

    errors: dict = {}
    iban_text = bic_text = ""
    if not isinstance(iban, str) or not iban.strip():
        errors["iban"] = ["required"]
    else:
        try:
            iban_text = IBAN(iban).compact
        except SchwiftyException as exc:
            errors["iban"] = [f"invalid IBAN: {exc}"]
    if bic in (None, "") and iban_text:
        try:
            derived = IBAN(iban_text).bic
        except SchwiftyException:
            derived = None
        if derived is None:
            errors["bic"] = ["required"]
        else:
            bic_text = str(derived)
    elif bic in (None, ""):
        pass  # the IBAN is wrong: say so first; the BIC may then come from a valid IBAN
    elif not isinstance(bic, str):
        errors["bic"] = ["must be text"]
    else:
        try:
            bic_text = str(BIC(bic.strip()))
        except SchwiftyException as exc:
            errors["bic"] = [f"invalid BIC: {exc}"]
    holder_text = holder.strip() if isinstance(holder, str) else ""
    if not holder_text:
        errors["holder"] = ["required"]
    elif len(holder_text) > 120:
        errors["holder"] = ["too long: at most 120 characters"]
    elif any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in holder_text):
        errors["holder"] = ["invalid characters"]
    if iban_text and bic_text and "iban" not in errors and "bic" not in errors:
        if iban_text[:2] != bic_text[4:6] and not (iban_text[:2] in {"MC", "GP", "RE", "MQ", "GF", "YT", "NC",
                                                                     "PF", "PM", "WF", "BL", "MF"}
                                                   and bic_text[4:6] == "FR"):
            errors["bic"] = ["BIC country does not match the IBAN's country"]
    if errors:
        raise InvalidRequest("invalid mandate", errors)
    return iban_text, bic_text, holder_text


def set_mandate(session: Session, file_number: str, iban, bic, holder) -> dict:
    iban_text, bic_text, holder_text = validate_mandate(iban, bic, holder)
    if session.get(Contributor, file_number) is None:
        raise NotFound(f"no contributor {file_number}", {})
    mandate = session.get(Mandate, file_number)
    if mandate is None:
        mandate = Mandate(file_number=file_number, iban=iban_text, bic=bic_text, holder=holder_text,
                          signed_at=datetime.now(timezone.utc))
        session.add(mandate)
    elif (mandate.iban, mandate.bic, mandate.holder) != (iban_text, bic_text, holder_text):
        mandate.iban, mandate.bic, mandate.holder = iban_text, bic_text, holder_text
        mandate.signed_at = datetime.now(timezone.utc)
    session.flush()
    return mandate_view(mandate)


def mandate_view(mandate: Mandate | None) -> dict | None:
    if mandate is None:
        return None
    return {"iban": mask_iban(mandate.iban), "bic": mandate.bic, "holder": mandate.holder,
            "signed_at": mandate.signed_at.isoformat()}


def get_mandate(session: Session, file_number: str) -> dict | None:
    return mandate_view(session.get(Mandate, file_number))
