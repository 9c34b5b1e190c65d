"""Use case of the public simulator: validate raw inputs (strings from a query string or a command line),
simulate, answer the shared JSON shape. No database, no login."""
from __future__ import annotations

import re
from datetime import date

from carpimko.errors import InvalidRequest

from .declarations import _money
from .domain import calculation, parameters, schedule, simulation

_YEAR = re.compile(r"^\s*[0-9]{4}\s*$")


def parse_inputs(year, income, conventioned_income=None, activity_start=None):
    """Validate the simulator's inputs; raises InvalidRequest naming every bad field."""
    errors: dict = {}
    known = parameters.available_years()
    parsed_year = None
    if year is None or year == "":
        errors["year"] = ["required"]
    elif isinstance(year, bool) or not (isinstance(year, int) or (isinstance(year, str) and _YEAR.match(year))):
        errors["year"] = ["must be an integer"]
    else:
        parsed_year = int(year)
        if parsed_year not in known:
            errors["year"] = [f"no contribution rules for {parsed_year} (known years: "
                              f"{', '.join(str(y) for y in known)})"]
    amount = _money(income, "income", errors)
    if (income is None or income == "") and "income" not in errors:
        errors["income"] = ["required"]
    conventioned = _money(conventioned_income, "conventioned_income", errors)
    if amount is not None and conventioned is not None and conventioned > amount:
        errors["conventioned_income"] = ["cannot exceed the professional income"]
    start = None
    if activity_start not in (None, ""):
        try:
            start = date.fromisoformat(str(activity_start).strip())
        except ValueError:
            errors["activity_start"] = ["not a date: expected YYYY-MM-DD"]
    if errors:
        raise InvalidRequest("invalid simulation", errors)
    return parsed_year, amount, conventioned, start


def simulate(year, income, conventioned_income=None, activity_start=None) -> dict:
    """``{"year", "base", "lines": [{"scheme", "base", "rate", "amount"}], "total"}``."""
    view = simulate_explained(year, income, conventioned_income, activity_start)
    del view["explanation"]
    return view


def simulate_explained(year, income, conventioned_income=None, activity_start=None) -> dict:
    """The simulation plus what the portal page needs to explain it (basis, quarters, figures used)."""
    parsed_year, amount, conventioned, start = parse_inputs(year, income, conventioned_income,
                                                            activity_start)
    params = parameters.load_parameters(parsed_year)
    try:
        result = simulation.simulate(params, amount, conventioned, start)
    except calculation.InvalidDeclaration as exc:
        field = "activity_start" if start is not None and "affiliated" in str(exc) else "income"
        raise InvalidRequest("invalid simulation", {field: [str(exc)]}) from None
    view = simulation.as_json(result)
    soa = params.start_of_activity
    view["explanation"] = {
        "basis": result.basis,
        "activity_year": result.activity_year,
        "quarters": result.quarters,
        "affiliation_start": None if start is None else
        simulation.cycle.affiliation_start(start).isoformat(),
        "parameters_version": params.version,
        "pass": f"{params.pass_value:.2f}",
        "minimum_base": f"{params.minimum_base:.2f}",
        "flat_percent": None if result.activity_year is None else str(
            (soa.year1_base_pass_percent if result.activity_year == 1 else soa.year2_base_pass_percent).value),
        "conventionne": conventioned is not None,
        "income": f"{amount:.2f}",
        "monthly": f"{schedule.split(result.assessment.total, 12)[0]:.2f}",
        "lines": [{"fixed": f"{line.fixed:.2f}"} for line in result.assessment.lines],
    }
    return view
