"""The yearly contribution calculation, in plain Python (standard library only).

Every figure comes from the year's parameter file (:mod:`.parameters`); the code only knows the rule *shapes*.
Reference: docs/domain.md §3 (contributions) and §4 (quarters).

Schemes, in the order of the lines of an :class:`Assessment`:

``rb_t1``  Régime de base, tranche 1: rate x min(base income, 1 PASS).
``rb_t2``  Régime de base, tranche 2: rate x min(base income, 5 PASS), from the first euro.
           The base income of both tranches is raised to the minimum base (450 x SMIC hourly) when lower.
``rc``     Régime complémentaire, shape chosen by the file:
           ``band_of_pass``    rate x income clamped between floor and ceiling in PASS (2026: 0.5 and 3 PASS);
           ``fixed_plus_band`` fixed part + rate x the part of income between two bounds in euros (2024, 2025).
``asv``    Avantage social vieillesse, conventionnés only: member's fixed share + rate x conventioned income.
``rid``    Invalidité-décès: flat amount.

Rounding, the one rule: each line's amount (fixed + base x rate / 100) is computed exactly in Decimal and then
rounded once to the cent with ROUND_HALF_UP; the total is the sum of the rounded lines. Nothing else is rounded
(bases are kept exact).

Conventions of an :class:`AssessmentLine`: ``rate`` is in percent, ``fixed`` is the fixed part (0 when none),
and ``amount == round(fixed + base * rate / 100)``. A flat line (RID) has ``rate=None`` and ``base=0``.

Special cases:

- No income declared (``professional_income is None``): every scheme is computed on 5 PASS [S], including the
  ASV, where the conventioned income is also taken as 5 PASS [A]; a conventioned income given without a
  professional income is then ignored (and a note says so).
- Conventionné without a conventioned income: all the professional income is taken as conventioned [A]
  (as in the domain's worked example).
- Minimum base: applies to both base-scheme tranches (T1 and T2) [A: domain.md says "RB minimum base" without
  naming the tranches; the CNAVPL minimum contribution is charged on both], never to RC (which has its own
  floor or fixed part), ASV or RID. It applies to any declared income below it, zero included, and is never
  pro-rated.
- Base reform ("assiette sociale"): when ``base_reform.enabled`` in the file, the declared professional income is
  replaced by :func:`apply_base_reform` before the schemes (RB, RC). It is not applied to the 5 PASS used when no
  income is declared, nor to the conventioned income of the ASV [A].
- Invalid declarations (negative income, conventioned income above professional income) raise
  :class:`InvalidDeclaration`; the service layer translates the message for the member.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .parameters import ComplementaryBandOfPass, ComplementaryFixedPlusBand, YearParameters

__all__ = [
    "LABELS",
    "Assessment",
    "AssessmentLine",
    "InvalidDeclaration",
    "apply_base_reform",
    "assess",
    "base_reform_allowance",
    "quarters_validated",
]

CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")

LABELS = {
    "rb_t1": "Régime de base – tranche 1",
    "rb_t2": "Régime de base – tranche 2",
    "rc": "Régime complémentaire",
    "asv": "Avantage social vieillesse (part praticien)",
    "rid": "Invalidité-décès",
}


class InvalidDeclaration(ValueError):
    """The declared incomes cannot be assessed (negative, or conventioned income above professional income)."""


@dataclass(frozen=True)
class AssessmentLine:
    scheme: str
    label: str
    base: Decimal
    rate: Decimal | None
    fixed: Decimal
    amount: Decimal


@dataclass(frozen=True)
class Assessment:
    year: int
    parameters_version: str
    lines: tuple[AssessmentLine, ...]
    total: Decimal
    income_used: Decimal
    income_declared: bool
    notes: tuple[str, ...]

    def line(self, scheme: str) -> AssessmentLine | None:
        """The line of ``scheme`` (e.g. ``"asv"``), or None when the scheme does not apply."""
        for line in self.lines:
            if line.scheme == scheme:
                return line
        return None


def assess(
    params: YearParameters,
    professional_income: Decimal | None,
    conventioned_income: Decimal | None,
    conventionne: bool,
) -> Assessment:
    """Compute a year's contributions from the declared incomes.

    ``income_used`` is the income the schemes were computed on: the declared professional income (after the base
    reform when the year enables it), or 5 PASS when none is declared; it is before the base scheme's minimum
    base, which shows in the RB lines' ``base``.
    """
    professional = _amount("professional income", professional_income)
    conventioned = _amount("conventioned income", conventioned_income)
    if professional is not None and conventioned is not None and conventioned > professional:
        raise InvalidDeclaration(
            f"Conventioned income ({conventioned}) cannot exceed professional income ({professional})."
        )

    notes: list[str] = []
    declared = professional is not None
    if professional is None:
        income = params.no_income_base
        notes.append(
            f"No income declared: every scheme computed on {params.no_income_base_pass.value} PASS "
            f"({_eur(income)})."
        )
    elif params.base_reform.enabled:
        income = apply_base_reform(params, professional)
        notes.append(
            f"Base reform applied: allowance of {_eur(professional - income)} deducted from declared income "
            f"{_eur(professional)}."
        )
    else:
        income = professional

    lines = [*_base_scheme_lines(params, income, notes), _complementary_line(params, income, notes)]

    if conventionne:
        if professional is None:
            asv_base = params.no_income_base
            if conventioned is not None:
                notes.append("Conventioned income ignored: no professional income declared.")
            notes.append(f"ASV computed on {params.no_income_base_pass.value} PASS of conventioned income "
                         "(assumption).")
        elif conventioned is None:
            asv_base = professional
            notes.append("No conventioned income declared: all professional income taken as conventioned "
                         "(assumption).")
        else:
            asv_base = conventioned
        lines.append(_line("asv", asv_base, params.asv.rate_percent.value, params.asv.member_fixed.value))

    lines.append(_line("rid", ZERO, None, params.disability_death_flat.value))

    return Assessment(
        year=params.year,
        parameters_version=params.version,
        lines=tuple(lines),
        total=sum((line.amount for line in lines), ZERO),
        income_used=income,
        income_declared=declared,
        notes=tuple(notes),
    )


def quarters_validated(params: YearParameters, income: Decimal | None) -> int:
    """Quarters validated for a year: floor(income / (150 x SMIC hourly)), at most 4.

    The income is raised to the minimum base first, since the minimum base validates 3 quarters [S]
    (450 / 150 = 3 SMIC-hour blocks). No income declared (None) counts as 5 PASS, i.e. 4 quarters.
    """
    value = _amount("income", income)
    if value is None:
        value = params.no_income_base
    value = max(value, params.minimum_base)
    quarters = int(value // params.quarter_threshold)
    return min(quarters, int(params.quarters.max_per_year.value))


def base_reform_allowance(params: YearParameters, income: Decimal) -> Decimal:
    """The reform's flat allowance: rate x income, clamped between the floor and the cap (both in PASS).

    Never more than the income itself, so the reformed base is never negative.
    """
    reform = params.base_reform
    allowance = income * reform.allowance_rate_percent.value / HUNDRED
    floor = reform.allowance_floor_pass.value * params.pass_value
    cap = reform.allowance_cap_pass.value * params.pass_value
    return min(max(allowance, floor), cap, income)


def apply_base_reform(params: YearParameters, income: Decimal) -> Decimal:
    """The contribution base under the "assiette sociale" reform: income minus :func:`base_reform_allowance`.

    A plain function of the year's ``base_reform`` figures; it does not look at ``base_reform.enabled``
    (:func:`assess` does).
    """
    return income - base_reform_allowance(params, income)


# ---------------------------------------------------------------------------------------------------------------


def _base_scheme_lines(params: YearParameters, income: Decimal, notes: list[str]) -> list[AssessmentLine]:
    rb = params.base_scheme
    base = income
    if income < params.minimum_base:
        base = params.minimum_base
        notes.append(
            f"Minimum base applied to the base scheme: income {_eur(income)} below "
            f"{rb.minimum_base_smic_hours.value} x SMIC hourly = {_eur(params.minimum_base)}."
        )
    t1_ceiling = rb.t1_ceiling_pass.value * params.pass_value
    t2_ceiling = rb.t2_ceiling_pass.value * params.pass_value
    if base > t1_ceiling:
        notes.append(f"Base scheme tranche 1 capped at {rb.t1_ceiling_pass.value} PASS ({_eur(t1_ceiling)}).")
    if base > t2_ceiling:
        notes.append(f"Base scheme tranche 2 capped at {rb.t2_ceiling_pass.value} PASS ({_eur(t2_ceiling)}).")
    return [
        _line("rb_t1", min(base, t1_ceiling), rb.t1_rate_percent.value, ZERO),
        _line("rb_t2", min(base, t2_ceiling), rb.t2_rate_percent.value, ZERO),
    ]


def _complementary_line(params: YearParameters, income: Decimal, notes: list[str]) -> AssessmentLine:
    rc = params.complementary
    if isinstance(rc, ComplementaryBandOfPass):
        floor = rc.floor_pass.value * params.pass_value
        ceiling = rc.ceiling_pass.value * params.pass_value
        if income < floor:
            notes.append(f"Complementary scheme floor applied: base raised to {rc.floor_pass.value} PASS "
                         f"({_eur(floor)}).")
        elif income > ceiling:
            notes.append(f"Complementary scheme ceiling applied: base capped at {rc.ceiling_pass.value} PASS "
                         f"({_eur(ceiling)}).")
        return _line("rc", min(max(income, floor), ceiling), rc.rate_percent.value, ZERO)
    if isinstance(rc, ComplementaryFixedPlusBand):
        low, high = rc.band_floor.value, rc.band_ceiling.value
        if income <= low:
            notes.append(f"Complementary scheme: income not above {_eur(low)}, fixed part only.")
        elif income > high:
            notes.append(f"Complementary scheme ceiling applied: proportional part stops at income {_eur(high)}.")
        band_part = min(max(income, low), high) - low
        return _line("rc", band_part, rc.rate_percent.value, rc.fixed.value)
    raise TypeError(f"Unknown complementary scheme shape: {type(rc).__name__}")


def _line(scheme: str, base: Decimal, rate: Decimal | None, fixed: Decimal) -> AssessmentLine:
    exact = fixed if rate is None else fixed + base * rate / HUNDRED
    return AssessmentLine(
        scheme=scheme,
        label=LABELS[scheme],
        base=base,
        rate=rate,
        fixed=fixed,
        amount=exact.quantize(CENT, rounding=ROUND_HALF_UP),
    )


def _amount(name: str, value: Decimal | int | None) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise TypeError(f"{name} must be a Decimal (or an int), not {type(value).__name__}")
    value = Decimal(value)
    if not value.is_finite():
        raise InvalidDeclaration(f"The {name} must be a finite amount, got {value}.")
    if value < 0:
        raise InvalidDeclaration(f"The {name} cannot be negative (got {value}).")
    return value


def _eur(value: Decimal) -> str:
    return f"{value:,.2f}"
