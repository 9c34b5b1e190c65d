"""The yearly cycle of a member's contributions, in plain Python (standard library only).

Reference: docs/domain.md §3.3. Every figure comes from the year's parameter file; this module only knows the
order of the steps.

Stages of year N (``STAGES``):

``provisional``  called on the income of N-2 (first call of the year);
``adjusted``     recomputed when the income of N-1 is known;
``regularised``  recomputed on N's own income once declared (final).

Special cases, in order of precedence for the provisional and adjusted stages:

1. Start of activity: affiliation begins on the first day of the calendar quarter *after* the activity starts
   (an activity starting on 1 April is affiliated from 1 July) [S, read literally]. The first two calendar years
   of affiliation are called on a flat base, ``year1_base_pass_percent`` then ``year2_base_pass_percent`` of PASS
   (19 % and 29 %), pro-rated by the quarters of affiliation in that year: base = percent x PASS x quarters / 4,
   then the ordinary rules apply to that base (the base scheme's minimum base is never pro-rated, so it may raise
   the base; the RC floor and the flat RID are not pro-rated either) [A]. The regularisation is on real income.
2. The member's estimate of the current year (monthly entries summed, :func:`estimate_from_monthly`) replaces the
   reference income of the provisional and adjusted stages.
3. Otherwise the reference income (N-2 or N-1); an income not declared counts as 5 PASS (see
   :func:`calculation.assess`).

Estimate surcharge (:func:`estimate_surcharge`): when the real income of N exceeds the estimate by more than
``estimate.excess_threshold_percent`` of it, ``estimate.surcharge_percent`` of the contributions the estimate
avoided (final total minus total on the estimate) is added, rounded once to the cent (ROUND_HALF_UP) [rate A].
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from . import calculation
from .calculation import Assessment, InvalidDeclaration
from .parameters import YearParameters

__all__ = [
    "STAGES",
    "YearlyCall",
    "activity_year",
    "affiliated_quarters",
    "affiliation_start",
    "estimate_from_monthly",
    "estimate_surcharge",
    "flat_base",
    "reference_year",
    "yearly_call",
]

STAGES = ("provisional", "adjusted", "regularised")
CENT = Decimal("0.01")
HUNDRED = Decimal("100")
FOUR = Decimal("4")


@dataclass(frozen=True)
class YearlyCall:
    """One computation of year ``year`` at ``stage``: which income it used and why, and the assessment.

    ``basis`` says where the income came from: ``"income"`` (the declared income of ``income_year``),
    ``"no_income"`` (nothing declared for ``income_year``: 5 PASS), ``"flat_start"`` (start-of-activity flat base)
    or ``"estimate"`` (the member's estimate of the current year).
    """

    year: int
    stage: str
    basis: str
    income_year: int | None
    activity_year: int | None
    quarters: int
    assessment: Assessment

    @property
    def total(self) -> Decimal:
        return self.assessment.total


def affiliation_start(activity_start: date) -> date:
    """The first day of the calendar quarter after ``activity_start``."""
    quarter = (activity_start.month - 1) // 3  # 0..3
    if quarter == 3:
        return date(activity_start.year + 1, 1, 1)
    return date(activity_start.year, 3 * (quarter + 1) + 1, 1)


def affiliated_quarters(year: int, affiliation: date) -> int:
    """The quarters of ``year`` covered by an affiliation starting on ``affiliation`` (0 to 4)."""
    if year < affiliation.year:
        return 0
    if year > affiliation.year:
        return 4
    return 4 - (affiliation.month - 1) // 3


def activity_year(year: int, affiliation: date) -> int | None:
    """1 or 2 for the first two calendar years of affiliation, None afterwards.

    Raises :class:`InvalidDeclaration` for a year before the affiliation starts.
    """
    if year < affiliation.year:
        raise InvalidDeclaration(
            f"Not affiliated in {year}: affiliation starts on {affiliation.isoformat()}."
        )
    index = year - affiliation.year + 1
    return index if index <= 2 else None


def flat_base(params: YearParameters, index: int, quarters: int) -> Decimal:
    """The start-of-activity flat base: percent of PASS for activity year ``index`` (1 or 2) x quarters / 4."""
    soa = params.start_of_activity
    percent = {1: soa.year1_base_pass_percent, 2: soa.year2_base_pass_percent}[index].value
    return params.pass_value * percent / HUNDRED * Decimal(quarters) / FOUR


def reference_year(year: int, stage: str) -> int:
    """The income year a stage is computed on: N-2, N-1 or N."""
    try:
        return year - {"provisional": 2, "adjusted": 1, "regularised": 0}[stage]
    except KeyError:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}") from None


def estimate_from_monthly(entries: Mapping[int, Decimal]) -> Decimal:
    """The estimate of the current year: the sum of the monthly entries (months 1 to 12, each >= 0)."""
    total = Decimal("0")
    for month, amount in entries.items():
        if isinstance(month, bool) or not isinstance(month, int) or not 1 <= month <= 12:
            raise InvalidDeclaration(f"Month must be 1 to 12, got {month!r}.")
        if isinstance(amount, bool) or not isinstance(amount, (Decimal, int)):
            raise TypeError(f"monthly amount must be a Decimal, not {type(amount).__name__}")
        amount = Decimal(amount)
        if not amount.is_finite() or amount < 0:
            raise InvalidDeclaration(f"The amount of month {month} cannot be negative (got {amount}).")
        total += amount
    return total


def yearly_call(
    params: YearParameters,
    stage: str,
    incomes: Mapping[int, Decimal | None],
    conventionne: bool,
    conventioned_incomes: Mapping[int, Decimal | None] | None = None,
    activity_start: date | None = None,
    estimate: Decimal | None = None,
) -> YearlyCall:
    """Compute year ``params.year`` at ``stage`` from the member's declared incomes by year.

    ``incomes[y]`` is the professional income declared for year ``y`` (missing or None: not declared);
    ``conventioned_incomes`` likewise. ``estimate`` applies to the provisional and adjusted stages only.
    """
    year = params.year
    income_year = reference_year(year, stage)
    conventioned_incomes = conventioned_incomes or {}
    index = None
    quarters = 4
    if activity_start is not None:
        affiliation = affiliation_start(activity_start)
        index = activity_year(year, affiliation)
        quarters = affiliated_quarters(year, affiliation)

    if stage != "regularised" and index is not None:
        base = flat_base(params, index, quarters)
        assessment = calculation.assess(params, base, None, conventionne)
        return YearlyCall(year, stage, "flat_start", None, index, quarters, assessment)
    if stage != "regularised" and estimate is not None:
        assessment = calculation.assess(params, estimate, None, conventionne)
        return YearlyCall(year, stage, "estimate", year, index, quarters, assessment)

    income = incomes.get(income_year)
    conventioned = conventioned_incomes.get(income_year) if income is not None else None
    assessment = calculation.assess(params, income, conventioned, conventionne)
    return YearlyCall(year, stage, "income" if income is not None else "no_income", income_year, index,
                      quarters, assessment)


def estimate_surcharge(
    params: YearParameters, estimate: Decimal, real_income: Decimal, total_on_estimate: Decimal,
    final_total: Decimal,
) -> Decimal:
    """The surcharge when the real income proves far above the estimate (0.00 otherwise)."""
    threshold = estimate + estimate * params.estimate.excess_threshold_percent.value / HUNDRED
    avoided = final_total - total_on_estimate
    if real_income <= threshold or avoided <= 0:
        return Decimal("0.00")
    return (avoided * params.estimate.surcharge_percent.value / HUNDRED).quantize(CENT, rounding=ROUND_HALF_UP)
