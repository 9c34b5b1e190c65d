"""The public contributions simulator (no login), in plain Python.

``simulate`` answers "what will year Y cost me": the contributions of Y on the given income (the regularised
amount, conventionné when a conventioned income is given). With an activity start, the first two calendar years
of affiliation show the provisional call on the start-of-activity flat base instead (see :mod:`.cycle`), since
that is what the member is called for; a year before the affiliation is refused.

``as_json`` gives the one output shape shared by ``carpimko simulate --json`` and
``GET /api/v1/simulations/contributions``::

    {"year": 2026, "base": "40000.00",
     "lines": [{"scheme": "base_t1", "base": "40000.00", "rate": "8.73", "amount": "3492.00"}, ...],
     "total": "9126.00"}

Amounts are decimal strings with two decimals; ``rate`` is the percent as written in the parameter file, or
null for a flat line (invalidity-death).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from . import calculation, cycle
from .calculation import Assessment
from .parameters import YearParameters

__all__ = ["PUBLIC_SCHEMES", "Simulation", "as_json", "simulate"]

PUBLIC_SCHEMES = {
    "rb_t1": "base_t1",
    "rb_t2": "base_t2",
    "rc": "complementary",
    "asv": "asv",
    "rid": "invalidity_death",
}


@dataclass(frozen=True)
class Simulation:
    year: int
    assessment: Assessment
    basis: str  # "income" or "flat_start"
    activity_year: int | None
    quarters: int


def simulate(
    params: YearParameters,
    income: Decimal,
    conventioned_income: Decimal | None = None,
    activity_start: date | None = None,
) -> Simulation:
    """Simulate year ``params.year`` (raises :class:`calculation.InvalidDeclaration` for impossible inputs)."""
    if income is None:
        raise calculation.InvalidDeclaration("The professional income is required.")
    conventionne = conventioned_income is not None
    if activity_start is not None:
        call = cycle.yearly_call(params, "provisional", {}, conventionne, activity_start=activity_start)
        if call.basis == "flat_start":
            return Simulation(params.year, call.assessment, "flat_start", call.activity_year, call.quarters)
    assessment = calculation.assess(params, income, conventioned_income, conventionne)
    return Simulation(params.year, assessment, "income", None, 4)


def _money(value: Decimal) -> str:
    return f"{value:.2f}"


def as_json(simulation: Simulation) -> dict:
    a = simulation.assessment
    return {
        "year": simulation.year,
        "base": _money(a.income_used),
        "lines": [
            {
                "scheme": PUBLIC_SCHEMES[line.scheme],
                "base": _money(line.base),
                "rate": None if line.rate is None else str(line.rate),
                "amount": _money(line.amount),
            }
            for line in a.lines
        ],
        "total": _money(a.total),
    }
