"""A year's rights: quarters and points (base, complementary, ASV) from the year's income, plus the periods
credited without income. Plain Python; figures from the contribution and career parameter files.

Rules (docs/domain.md §4), with the choices made where the reference is silent [A]:

- Quarters = floor(income / (150 x SMIC hourly)), at most 4; the minimum base validates 3
  (``calculation.quarters_validated``, shared with the contribution statements).
- Base points (RB): ``t1_max`` x (tranche 1 base / 1 PASS) + ``t2_max`` x (tranche 2 base / 5 PASS). The bases are
  the assessment's own (minimum base applied, ceilings applied), so the points follow the contributions called.
  [A: "pro rata on T2" read as pro rata of the tranche 2 base, which runs from the first euro to 5 PASS.]
- Complementary points (RC): ``fixed_points`` when the year's rule has a fixed part, plus the proportional
  contribution / ``euros_per_point``, at most ``max_points``.
- ASV points (conventionnés only): (member's ASV contribution + the health insurance's share) / ``euros_per_point``.
- Every point figure is rounded once to 2 decimals (half up) [A].
- Maternity: ``maternity_base_points`` (100) more base points in the year of the childbirth, per childbirth.
- Incapacity exemption of 6 months or more: the year counts at least 4 quarters, 400 base points and 8
  complementary points (rights kept although contributions were exempted) [A: "at least": an income that earned
  more keeps it].
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from .. import calculation
from ..parameters import YearParameters, load_parameters
from .parameters import CareerYearParameters, load_career_parameters

__all__ = ["CREDIT_KINDS", "Credit", "InvalidCredit", "YearRights", "year_rights", "validate_credit"]

POINTS = Decimal("0.01")
ZERO = Decimal("0")
CREDIT_KINDS = ("maternity", "incapacity")


class InvalidCredit(ValueError):
    """A credited period that the rules do not accept (e.g. incapacity shorter than 6 months)."""


@dataclass(frozen=True)
class Credit:
    """A period credited without income: ``maternity`` (the childbirth date) or ``incapacity`` (months in the year)."""

    kind: str
    year: int
    childbirth_date: date | None = None
    months: int | None = None


@dataclass(frozen=True)
class YearRights:
    year: int
    income: Decimal | None  # the income the year was assessed on (None: none at all, e.g. a credited year only)
    quarters: int
    rb_points: Decimal
    rc_points: Decimal
    asv_points: Decimal
    income_quarters: int
    income_rb_points: Decimal
    income_rc_points: Decimal
    credits: tuple[Credit, ...] = field(default=())


def _points(value: Decimal) -> Decimal:
    return value.quantize(POINTS, rounding=ROUND_HALF_UP)


def validate_credit(credit: Credit, career: CareerYearParameters | None = None) -> Credit:
    career = career or load_career_parameters(credit.year)
    if credit.kind not in CREDIT_KINDS:
        raise InvalidCredit(f"kind must be one of {', '.join(CREDIT_KINDS)}")
    if credit.kind == "maternity":
        if credit.childbirth_date is None or credit.childbirth_date.year != credit.year:
            raise InvalidCredit("a maternity credit needs the childbirth date, in its year")
    else:
        months = credit.months
        if not isinstance(months, int) or isinstance(months, bool) or not 1 <= months <= 12:
            raise InvalidCredit("months of incapacity must be a whole number from 1 to 12")
        if months < career.incapacity_min_months.value:
            raise InvalidCredit(f"an incapacity exemption needs at least "
                                f"{career.incapacity_min_months.value} months in the year")
    return credit


def year_rights(year: int, income: Decimal | None, *, conventionne: bool = False,
                conventioned_income: Decimal | None = None, credits: tuple[Credit, ...] = (),
                assessed: bool = True, params: YearParameters | None = None,
                career: CareerYearParameters | None = None) -> YearRights:
    """The rights of ``year``. ``assessed`` False: the year has no contributions at all (a career break, or a
    year known only by a credited period): nothing from income. ``income`` None with ``assessed`` means no
    income declared (contributions on 5 PASS, as called)."""
    params = params or load_parameters(year)
    career = career or load_career_parameters(year)
    if assessed:
        assessment = calculation.assess(params, income, conventioned_income, conventionne)
        t1, t2 = assessment.line("rb_t1"), assessment.line("rb_t2")
        rb = (career.rb_t1_max.value * t1.base / (params.base_scheme.t1_ceiling_pass.value * params.pass_value)
              + career.rb_t2_max.value * t2.base / (params.base_scheme.t2_ceiling_pass.value * params.pass_value))
        rc_line = assessment.line("rc")
        rc = (career.rc_fixed_points.value if rc_line.fixed > 0 else ZERO) \
            + (rc_line.amount - rc_line.fixed) / career.rc_euros_per_point.value
        rc = min(rc, career.rc_max_points.value)
        asv_line = assessment.line("asv")
        asv = ZERO if asv_line is None else \
            (asv_line.amount + params.asv.insurer_fixed.value) / career.asv_euros_per_point.value
        quarters = calculation.quarters_validated(params, assessment.income_used)
        used = assessment.income_used
    else:
        rb = rc = asv = ZERO
        quarters = 0
        used = None
    income_quarters, income_rb, income_rc = quarters, _points(rb), _points(rc)
    # incapacity first: its "at least" floors apply to the income's rights, maternity points come on top
    for credit in sorted(credits, key=lambda c: c.kind != "incapacity"):
        validate_credit(credit, career)
        if credit.kind == "maternity":
            rb += career.maternity_base_points.value
        else:
            quarters = max(quarters, int(career.incapacity_quarters.value))
            rb = max(rb, career.incapacity_base_points.value)
            rc = max(rc, career.incapacity_complementary_points.value)
    quarters = min(quarters, int(params.quarters.max_per_year.value))
    return YearRights(year=year, income=used, quarters=quarters, rb_points=_points(rb), rc_points=_points(rc),
                      asv_points=_points(asv), income_quarters=income_quarters, income_rb_points=income_rb,
                      income_rc_points=income_rc, credits=tuple(credits))
