"""Retirement: legal age and quarters needed from the date of birth, the full-rate date, and the monthly pension
estimated at a start date, from the career record and a projection of the years to come. Plain Python.

Rules (docs/domain.md §4) and the choices made where the reference is silent [A]:

- Legal age and quarters needed: the cohort table of ``parameters/career/retirement.toml``.
- A pension starts on the first day of a month, at the earliest the first day of the month after the legal age is
  reached (the "legal date"); the automatic full rate applies from the first day of the month after the 67th
  birthday [A: the general rule of the French schemes].
- Quarters of a year are validated one per calendar quarter from January, so a start date in a year counts that
  year's quarters of the calendar quarters already over; points likewise pro rata of the months over [A].
- Missing quarters at a start date = quarters needed - quarters acquired, never more than the quarters left until
  67 nor than ``max_missing_quarters``; the base pension is reduced by 1,25 % per missing quarter; complementary
  and ASV are not reduced [A: the reference states the reduction for the base scheme only].
- Amounts: points x the point values of the latest year with a parameter file, in today's euros (no revaluation,
  no tax or social charges) [A]. Future years use the latest year's rules [A].
- The years to come: each calendar year from the first year after the record (at least the current year) up to
  the start date, on the assumed income (by default the last income of the record) [A]; a career break's years
  have no income, hence no quarters nor points; a maternity adds its points in its year.
- Years of the record that are only called provisionally (provisional or adjusted call, not yet regularised on
  their own income: ``pending``) are projected like the years to come, on the assumed income, keeping their
  credited periods: the income a provisional call uses is N-2's or N-1's, not an estimate of N's [A]. The
  default assumed income is therefore the last income *declared* (of a regularised year), never a called one.
"""
from __future__ import annotations

import calendar
from dataclasses import dataclass, field, replace
from collections.abc import Mapping
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from ..parameters import available_years, load_parameters
from .parameters import RetirementRules, career_years, load_career_parameters, load_retirement_rules
from .rights import Credit, YearRights, year_rights

__all__ = ["Entitlement", "Estimate", "Projection", "Scenario", "add_months", "compare", "entitlement",
           "estimate_at", "month_after", "project"]

CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")
TWELVE = Decimal("12")


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months; the 31st becomes the month's last day when the month is shorter."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def month_after(day: date) -> date:
    """The first day of the month after ``day``."""
    return add_months(day.replace(day=1), 1)


@dataclass(frozen=True)
class Entitlement:
    birth_date: date
    legal_age_years: int
    legal_age_months: int
    legal_age_date: date       # the day the legal age is reached
    legal_start: date          # the earliest start of the pension
    quarters_needed: int
    automatic_full_rate_date: date  # the 67th birthday
    automatic_start: date
    source: str                # S or A (the 1965 cut)


def entitlement(birth_date: date, rules: RetirementRules | None = None) -> Entitlement:
    rules = rules or load_retirement_rules()
    cohort = rules.cohort(birth_date)
    legal = add_months(birth_date, cohort.age_years * 12 + cohort.age_months)
    at_67 = add_months(birth_date, int(rules.automatic_full_rate_age_years.value) * 12)
    return Entitlement(birth_date=birth_date, legal_age_years=cohort.age_years,
                       legal_age_months=cohort.age_months, legal_age_date=legal, legal_start=month_after(legal),
                       quarters_needed=cohort.quarters, automatic_full_rate_date=at_67,
                       automatic_start=month_after(at_67), source=cohort.source)


@dataclass(frozen=True)
class Scenario:
    """What the years to come are assumed to be. ``future_income`` None: the last income of the record."""

    future_income: Decimal | None = None
    break_from: int | None = None  # first and last year of a career break (no income at all)
    break_to: int | None = None
    maternity_date: date | None = None
    retirement_date: date | None = None  # another start date to estimate
    conventionne: bool = False


@dataclass(frozen=True)
class Estimate:
    label: str               # legal, full_rate, automatic, chosen
    start: date
    age_years: int
    age_months: int
    quarters: int
    missing_quarters: int
    reduction_percent: Decimal
    rb_points: Decimal
    rc_points: Decimal
    asv_points: Decimal
    rb_monthly: Decimal
    rc_monthly: Decimal
    asv_monthly: Decimal
    monthly: Decimal


@dataclass(frozen=True)
class Projection:
    entitlement: Entitlement
    years: tuple[YearRights, ...]   # the record then the projected years
    projected_from: int | None       # first projected year (None: nothing projected)
    future_income: Decimal | None
    full_rate_date: date
    estimates: tuple[Estimate, ...]
    point_values: dict = field(default_factory=dict)
    values_year: int = 0

    def estimate(self, label: str) -> Estimate | None:
        return next((e for e in self.estimates if e.label == label), None)


def _age(birth: date, day: date) -> tuple[int, int]:
    months = (day.year - birth.year) * 12 + day.month - birth.month - (1 if day.day < birth.day else 0)
    return divmod(months, 12)


def quarters_at(years: tuple[YearRights, ...], start: date) -> int:
    over = (start.month - 1) // 3  # calendar quarters over in the start year
    return sum(y.quarters if y.year < start.year else min(y.quarters, over)
               for y in years if y.year <= start.year)


def _points_at(years, start: date, attribute: str) -> Decimal:
    months = Decimal(start.month - 1)
    total = ZERO
    for y in years:
        if y.year < start.year:
            total += getattr(y, attribute)
        elif y.year == start.year:
            total += getattr(y, attribute) * months / TWELVE
    return total


def estimate_at(ent: Entitlement, years: tuple[YearRights, ...], start: date, label: str,
                rules: RetirementRules | None = None, values_year: int | None = None) -> Estimate:
    rules = rules or load_retirement_rules()
    if start < ent.legal_start:
        raise ValueError(f"a pension cannot start before {ent.legal_start.isoformat()} (legal age)")
    if start.day != 1:
        raise ValueError("a pension starts on the first day of a month")
    career = load_career_parameters(values_year or career_years()[-1])
    quarters = quarters_at(years, start)
    if start >= ent.automatic_start:
        missing = 0
    else:
        to_67 = -(-((ent.automatic_start.year - start.year) * 12 + ent.automatic_start.month - start.month) // 3)
        missing = max(0, min(ent.quarters_needed - quarters, to_67, int(rules.max_missing_quarters.value)))
    reduction = rules.reduction_per_missing_quarter_percent.value * missing
    rb = _points_at(years, start, "rb_points")
    rc = _points_at(years, start, "rc_points")
    asv = _points_at(years, start, "asv_points")

    def monthly(value: Decimal) -> Decimal:
        return (value / TWELVE).quantize(CENT, rounding=ROUND_HALF_UP)

    rb_m = monthly(rb * career.rb_point_value.value * (HUNDRED - reduction) / HUNDRED)
    rc_m = monthly(rc * career.rc_point_value.value)
    asv_m = monthly(asv * career.asv_point_value.value)
    age_years, age_months = _age(ent.birth_date, start)
    return Estimate(label=label, start=start, age_years=age_years, age_months=age_months, quarters=quarters,
                    missing_quarters=missing, reduction_percent=reduction,
                    rb_points=rb.quantize(CENT, rounding=ROUND_HALF_UP),
                    rc_points=rc.quantize(CENT, rounding=ROUND_HALF_UP),
                    asv_points=asv.quantize(CENT, rounding=ROUND_HALF_UP),
                    rb_monthly=rb_m, rc_monthly=rc_m, asv_monthly=asv_m, monthly=rb_m + rc_m + asv_m)


def _future_years(years: list[int], scenario: Scenario, income: Decimal | None,
                  pending: Mapping[int, tuple[Credit, ...]]) -> list[YearRights]:
    rules_year = min(available_years()[-1], career_years()[-1])
    out = []
    for year in years:
        # a pending year of the record keeps its own year's rules when they are known
        own = year in pending and year in career_years() and year in available_years()
        params = load_parameters(year if own else rules_year)
        career = load_career_parameters(year if own else rules_year)
        credits = tuple(pending.get(year, ()))
        if scenario.maternity_date is not None and scenario.maternity_date.year == year:
            credits += (Credit("maternity", year, childbirth_date=scenario.maternity_date),)
        on_break = (scenario.break_from is not None and scenario.break_to is not None
                    and scenario.break_from <= year <= scenario.break_to)
        if income is None or on_break:
            out.append(year_rights(year, None, assessed=False, credits=credits, params=params, career=career))
        else:
            out.append(year_rights(year, income, conventionne=scenario.conventionne, credits=credits,
                                   params=params, career=career))
    return out


def project(record: tuple[YearRights, ...], birth_date: date, today: date,
            scenario: Scenario = Scenario(), rules: RetirementRules | None = None,
            pending: Mapping[int, tuple[Credit, ...]] | None = None,
            default_income: Decimal | None = None) -> Projection:
    """Entitlement, full-rate date and the estimates at the legal date, the full-rate date, 67 (and the chosen
    date), from the record and the scenario for the years to come.

    ``pending``: years known only by a provisional call (year -> its credited periods), projected like the years
    to come instead of being taken from ``record`` (which must not hold them). ``default_income``: the assumed
    income when the scenario gives none (by default the last income of ``record``)."""
    rules = rules or load_retirement_rules()
    ent = entitlement(birth_date, rules)
    pending = dict(pending or {})
    record = tuple(sorted((y for y in record if y.year not in pending), key=lambda y: y.year))
    income = scenario.future_income
    if income is None:
        income = default_income
    if income is None:
        incomes = [y.income for y in record if y.income is not None]
        income = incomes[-1] if incomes else None
    first = max(max([y.year for y in record] + list(pending)) + 1 if record or pending else today.year,
                today.year)
    last_start = max(ent.automatic_start, scenario.retirement_date or ent.automatic_start)
    future = _future_years(sorted(set(pending) | set(range(first, last_start.year + 1))), scenario, income,
                           pending)
    years = tuple(sorted(record + tuple(future), key=lambda y: y.year))
    full_rate = ent.automatic_start
    day = ent.legal_start
    while day < ent.automatic_start:
        if quarters_at(years, day) >= ent.quarters_needed:
            full_rate = day
            break
        day = add_months(day, 1)
    values_year = career_years()[-1]
    estimates = [estimate_at(ent, years, ent.legal_start, "legal", rules, values_year),
                 estimate_at(ent, years, full_rate, "full_rate", rules, values_year),
                 estimate_at(ent, years, ent.automatic_start, "automatic", rules, values_year)]
    if scenario.retirement_date is not None:
        estimates.append(estimate_at(ent, years, scenario.retirement_date, "chosen", rules, values_year))
    career = load_career_parameters(values_year)
    return Projection(entitlement=ent, years=years, projected_from=future[0].year if future else None,
                      future_income=income, full_rate_date=full_rate, estimates=tuple(estimates),
                      point_values={"rb": career.rb_point_value, "rc": career.rc_point_value,
                                    "asv": career.asv_point_value},
                      values_year=values_year)


def compare(current: Projection, what_if: Projection) -> list[dict]:
    """Why the what-if differs from the current estimate: one item per figure that changed, with both values."""
    changes = []
    if current.future_income != what_if.future_income:
        changes.append({"code": "future_income", "current": current.future_income, "what_if": what_if.future_income})
    if current.full_rate_date != what_if.full_rate_date:
        changes.append({"code": "full_rate_date", "current": current.full_rate_date,
                        "what_if": what_if.full_rate_date})
    for estimate in what_if.estimates:
        before = current.estimate(estimate.label)
        if before is None:
            before = estimate_at(current.entitlement, current.years, estimate.start, estimate.label,
                                 values_year=current.values_year)
        for attribute in ("quarters", "missing_quarters", "rb_points", "rc_points", "asv_points", "monthly"):
            old, new = getattr(before, attribute), getattr(estimate, attribute)
            if old != new:
                changes.append({"code": attribute, "label": estimate.label, "current": old, "what_if": new,
                                "difference": new - old})
    return changes
