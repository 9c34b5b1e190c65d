"""Payment schedules, balance, arrears and the "up to date" status, in plain Python (standard library only).

Reference: docs/domain.md §3.3 (payment, arrears).

Schedules (``FREQUENCIES``): ``monthly`` (12 instalments, the default [A]), ``quarterly`` (4) or ``half_yearly`` (2),
due on the 5th of the months listed in ``DUE_MONTHS`` [A]. A total is split to the cent with :func:`split`: every
instalment gets the total divided by their number rounded down to the cent, and the cents left over go one each
to the *first* instalments, so the instalments always sum exactly to the total.

Recalculation and schedule changes (:func:`respread`): the instalments already due on the day of the change
(due date before it) are kept as they were; what remains (new total minus the instalments kept) is split over the
instalments of the (possibly new) frequency still to come in the year. With none left, it is one instalment due
on the day of the change. When the instalments kept already exceed the new total, the future instalments are 0
and the difference is a credit (``Schedule.credit``) to be refunded.

Arrears (:func:`account_status`): payments settle instalments oldest first. An instalment is late when its due
date has passed and it is not fully paid; the late-payment surcharge on each late amount is
``fixed_percent`` + ``monthly_percent`` x started months late (``reduced_monthly_percent`` when a formal notice was
sent and the day considered is within ``reduced_within_days`` of it), rounded once to the cent (ROUND_HALF_UP).
A member is "up to date" when nothing is late; otherwise the status carries the reason and the amount to pay
(arrears + surcharge) to be back up to date.
"""

from __future__ import annotations

from collections.abc import Iterable
import functools
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import NamedTuple

from .parameters import YearParameters

__all__ = [
    "DUE_DAY",
    "DUE_MONTHS",
    "FREQUENCIES",
    "AccountStatus",
    "Instalment",
    "Schedule",
    "account_status",
    "build_schedule",
    "late_surcharge",
    "months_late",
    "respread",
    "split",
]

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100")
DUE_DAY = 5
DUE_MONTHS = {
    "monthly": tuple(range(1, 13)),
    "quarterly": (2, 5, 8, 11),
    "half_yearly": (5, 11),
}
FREQUENCIES = {name: len(months) for name, months in DUE_MONTHS.items()}


class Instalment(NamedTuple):
    number: int
    due_date: date
    amount: Decimal


@dataclass(frozen=True)
class Schedule:
    year: int
    frequency: str
    total: Decimal
    instalments: tuple[Instalment, ...]
    credit: Decimal = ZERO

    @property
    def scheduled(self) -> Decimal:
        return sum((i.amount for i in self.instalments), ZERO)


def _check_frequency(frequency: str) -> None:
    if frequency not in DUE_MONTHS:
        raise ValueError(f"unknown frequency {frequency!r}; expected one of {sorted(DUE_MONTHS)}")


def split(total: Decimal, count: int) -> list[Decimal]:
    """``total`` in ``count`` amounts to the cent summing exactly to it (leftover cents to the first ones)."""
    if count <= 0:
        raise ValueError("count must be positive")
    total = Decimal(total).quantize(CENT, rounding=ROUND_HALF_UP)
    sign = -1 if total < 0 else 1
    cents = int(abs(total).scaleb(2))
    share, left = divmod(cents, count)
    high = Decimal(sign * (share + 1)).scaleb(-2)
    low = Decimal(sign * share).scaleb(-2)
    return [high] * left + [low] * (count - left)


@functools.lru_cache(maxsize=256)
def _due_dates(year: int, frequency: str) -> tuple[date, ...]:
    _check_frequency(frequency)
    return tuple(date(year, month, DUE_DAY) for month in DUE_MONTHS[frequency])


def build_schedule(year: int, frequency: str, total: Decimal) -> Schedule:
    """A fresh schedule of ``total`` for ``year``."""
    dates = _due_dates(year, frequency)
    amounts = split(total, len(dates))
    return Schedule(year, frequency, Decimal(total).quantize(CENT),
                    tuple(map(Instalment, range(1, len(dates) + 1), dates, amounts)))


def respread(schedule: Schedule, new_total: Decimal, as_of: date, frequency: str | None = None) -> Schedule:
    """Recompute the future instalments only (see the module docstring)."""
    frequency = frequency or schedule.frequency
    kept = [i for i in schedule.instalments if i.due_date < as_of]
    kept_total = sum((i.amount for i in kept), ZERO)
    remaining = Decimal(new_total).quantize(CENT, rounding=ROUND_HALF_UP) - kept_total
    credit = ZERO
    if remaining < 0:
        credit, remaining = -remaining, ZERO
    future_dates = [d for d in _due_dates(schedule.year, frequency) if d >= as_of]
    if not future_dates:
        future_dates = [as_of]
    amounts = split(remaining, len(future_dates))
    future = [Instalment(len(kept) + n + 1, d, a) for n, (d, a) in enumerate(zip(future_dates, amounts))]
    return Schedule(schedule.year, frequency, Decimal(new_total).quantize(CENT), tuple(kept + future), credit)


def months_late(due: date, day: date) -> int:
    """Started months between ``due`` and ``day`` (0 when not late)."""
    if day <= due:
        return 0
    months = (day.year - due.year) * 12 + (day.month - due.month)
    if day.day > due.day:
        months += 1
    return max(months, 1)


def late_surcharge(params: YearParameters, amount: Decimal, due: date, day: date,
                   notice_date: date | None = None) -> Decimal:
    """The late-payment surcharge on ``amount`` due on ``due``, as of ``day``."""
    months = months_late(due, day)
    if months == 0 or amount <= 0:
        return ZERO
    lp = params.late_payment
    monthly = lp.monthly_percent.value
    if notice_date is not None and notice_date <= day <= notice_date + timedelta(
            days=int(lp.reduced_within_days.value)):
        monthly = lp.reduced_monthly_percent.value
    percent = lp.fixed_percent.value + monthly * months
    return (amount * percent / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LateInstalment:
    number: int
    due_date: date
    unpaid: Decimal
    months_late: int
    surcharge: Decimal


@dataclass(frozen=True)
class AccountStatus:
    """``reason``: ``up_to_date``, ``nothing_due_yet`` (up to date too), ``arrears`` or ``formal_notice``."""

    scheduled: Decimal          # total of the schedule
    due_to_date: Decimal        # instalments due on or before the day
    paid: Decimal
    balance: Decimal            # due_to_date - paid (negative: paid in advance)
    arrears: Decimal            # unpaid part of the late instalments
    surcharge: Decimal
    late: tuple[LateInstalment, ...]
    up_to_date: bool
    reason: str
    to_pay_now: Decimal         # arrears + surcharge: what brings the member back up to date
    remaining: Decimal          # scheduled - paid (what is left to pay in the year)


def account_status(params: YearParameters, schedule: Schedule, payments: Iterable[Decimal], day: date,
                   notice_date: date | None = None) -> AccountStatus:
    """Balance, arrears and the "up to date" status of a year's schedule as of ``day``."""
    paid = sum((Decimal(p) for p in payments), ZERO)
    left = paid
    due_to_date = ZERO
    late: list[LateInstalment] = []
    for inst in sorted(schedule.instalments, key=lambda i: (i.due_date, i.number)):
        covered = min(left, inst.amount) if left > 0 else ZERO
        left -= covered
        if inst.due_date <= day:
            due_to_date += inst.amount
        unpaid = inst.amount - covered
        if inst.due_date < day and unpaid > 0:
            late.append(LateInstalment(inst.number, inst.due_date, unpaid, months_late(inst.due_date, day),
                                       late_surcharge(params, unpaid, inst.due_date, day, notice_date)))
    arrears = sum((l.unpaid for l in late), ZERO)
    surcharge = sum((l.surcharge for l in late), ZERO)
    if late:
        reason = "formal_notice" if notice_date is not None else "arrears"
    elif due_to_date == 0:
        reason = "nothing_due_yet"
    else:
        reason = "up_to_date"
    return AccountStatus(
        scheduled=schedule.scheduled, due_to_date=due_to_date, paid=paid, balance=due_to_date - paid,
        arrears=arrears, surcharge=surcharge, late=tuple(late), up_to_date=not late, reason=reason,
        to_pay_now=arrears + surcharge, remaining=schedule.scheduled - paid,
    )
