"""Yearly contribution parameters, read from one TOML file per year.

The files live in ``services/contributions/parameters/<year>.toml``; adding a year means adding one file, and
nothing in the code names a year. Each figure is a TOML table::

    [reference.pass]
    value = "48060"     # a string, parsed to Decimal (bare TOML numbers are refused: no float ever)
    source = "S"        # "S" stated by a source, "D" derived, "A" assumption
    note = "PASS 2026, annual social security ceiling"

Rates are written in percent (``"8.73"`` means 8,73 %). Each file carries a ``version`` (e.g. ``"2026.1"``)
stored with every assessment, so a figure corrected later can be told apart from the one that was used.

The complementary scheme (RC) changes its rule shape over the years; the file says which shape applies with
``complementary.shape``: ``"fixed_plus_band"`` or ``"band_of_pass"`` (see :mod:`.calculation`).

Beyond the four schemes, each file carries the figures of the yearly cycle and of payment: the start-of-activity
flat bases (``start_of_activity``), the estimate surcharge (``estimate``) and the late-payment surcharge
(``late_payment``); see :mod:`.cycle` and :mod:`.schedule`.

Standard library only.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Union

__all__ = [
    "DEFAULT_DIRECTORY",
    "SOURCES",
    "BaseReformParameters",
    "EstimateParameters",
    "LatePaymentParameters",
    "StartOfActivityParameters",
    "BaseSchemeParameters",
    "AsvParameters",
    "ComplementaryBandOfPass",
    "ComplementaryFixedPlusBand",
    "ComplementaryParameters",
    "Figure",
    "ParameterFileError",
    "QuartersParameters",
    "UnknownYear",
    "YearParameters",
    "available_years",
    "clear_parameters_cache",
    "load_parameters",
    "parse_parameters",
]

DEFAULT_DIRECTORY = Path(__file__).resolve().parent.parent / "parameters"

SOURCES = {"S": "sourced", "D": "derived", "A": "assumption"}

_YEAR_FILE = re.compile(r"^(\d{4})\.toml$")


class UnknownYear(LookupError):
    """No parameter file exists for the requested year."""

    def __init__(self, year: int, available: tuple[int, ...]):
        self.year = year
        self.available = available
        listed = ", ".join(str(y) for y in available) or "none"
        super().__init__(f"No contribution parameters for year {year}; available years: {listed}.")


class ParameterFileError(ValueError):
    """A parameter file is malformed (missing figure, bad value, unknown source tag or rule shape)."""


@dataclass(frozen=True)
class Figure:
    """One figure of a parameter file: its value, where it comes from (S/D/A) and a short note."""

    value: Decimal
    source: str
    note: str = ""

    @property
    def is_assumption(self) -> bool:
        return self.source == "A"


@dataclass(frozen=True)
class BaseSchemeParameters:
    """Régime de base (RB). Ceilings are in PASS, rates in percent."""

    t1_rate_percent: Figure
    t1_ceiling_pass: Figure
    t2_rate_percent: Figure
    t2_ceiling_pass: Figure
    minimum_base_smic_hours: Figure


@dataclass(frozen=True)
class ComplementaryFixedPlusBand:
    """RC rule shape ``fixed_plus_band``: fixed + rate x (part of income between band_floor and band_ceiling)."""

    fixed: Figure
    rate_percent: Figure
    band_floor: Figure
    band_ceiling: Figure

    shape = "fixed_plus_band"


@dataclass(frozen=True)
class ComplementaryBandOfPass:
    """RC rule shape ``band_of_pass``: rate x income clamped between floor_pass and ceiling_pass (in PASS)."""

    rate_percent: Figure
    floor_pass: Figure
    ceiling_pass: Figure

    shape = "band_of_pass"


ComplementaryParameters = Union[ComplementaryFixedPlusBand, ComplementaryBandOfPass]

_COMPLEMENTARY_SHAPES: dict[str, type] = {
    ComplementaryFixedPlusBand.shape: ComplementaryFixedPlusBand,
    ComplementaryBandOfPass.shape: ComplementaryBandOfPass,
}


@dataclass(frozen=True)
class AsvParameters:
    """Avantage social vieillesse, conventionnés only. Only ``member_fixed`` is charged to the member."""

    member_fixed: Figure
    insurer_fixed: Figure
    rate_percent: Figure


@dataclass(frozen=True)
class QuartersParameters:
    smic_hours_per_quarter: Figure
    max_per_year: Figure


@dataclass(frozen=True)
class StartOfActivityParameters:
    """Provisional flat bases of the first two years of activity, in percent of PASS (pro-rated by quarters)."""

    year1_base_pass_percent: Figure
    year2_base_pass_percent: Figure


@dataclass(frozen=True)
class EstimateParameters:
    """A member's estimate of the current year: surcharge when the real income exceeds it by more than the
    threshold (in percent of the estimate); the surcharge is a percentage of the contributions avoided."""

    excess_threshold_percent: Figure
    surcharge_percent: Figure


@dataclass(frozen=True)
class LatePaymentParameters:
    """Late-payment surcharge: fixed percent of the amount late, plus a percent per month (or started month)
    late; the reduced monthly percent applies when settled within the notice's grace days."""

    fixed_percent: Figure
    monthly_percent: Figure
    reduced_monthly_percent: Figure
    reduced_within_days: Figure


@dataclass(frozen=True)
class BaseReformParameters:
    """The "assiette sociale" reform: base = income - clamp(rate x income, floor, cap). Floor/cap in PASS."""

    enabled: bool
    allowance_rate_percent: Figure
    allowance_floor_pass: Figure
    allowance_cap_pass: Figure


@dataclass(frozen=True)
class YearParameters:
    year: int
    version: str
    pass_: Figure
    smic_hourly: Figure
    base_scheme: BaseSchemeParameters
    complementary: ComplementaryParameters
    asv: AsvParameters
    disability_death_flat: Figure
    no_income_base_pass: Figure
    quarters: QuartersParameters
    base_reform: BaseReformParameters
    start_of_activity: StartOfActivityParameters
    estimate: EstimateParameters
    late_payment: LatePaymentParameters

    @property
    def pass_value(self) -> Decimal:
        """The PASS (annual social security ceiling) in euros."""
        return self.pass_.value

    @property
    def minimum_base(self) -> Decimal:
        """Minimum base of the base scheme: ``minimum_base_smic_hours`` x SMIC hourly (5 346 in 2026)."""
        return self.base_scheme.minimum_base_smic_hours.value * self.smic_hourly.value

    @property
    def no_income_base(self) -> Decimal:
        """The income assumed when none is declared (5 PASS)."""
        return self.no_income_base_pass.value * self.pass_value

    @property
    def quarter_threshold(self) -> Decimal:
        """Income validating one quarter: ``smic_hours_per_quarter`` x SMIC hourly."""
        return self.quarters.smic_hours_per_quarter.value * self.smic_hourly.value


# ---------------------------------------------------------------------------------------------------------------
# Loading


def available_years(directory: Path | None = None) -> tuple[int, ...]:
    """The years that have a parameter file, sorted."""
    directory = Path(directory) if directory is not None else DEFAULT_DIRECTORY
    years = []
    for path in directory.glob("*.toml"):
        match = _YEAR_FILE.match(path.name)
        if match:
            years.append(int(match.group(1)))
    return tuple(sorted(years))


def load_parameters(year: int, directory: Path | None = None) -> YearParameters:
    """The parameters of ``year``, read once from ``<directory>/<year>.toml`` and cached.

    Raises :class:`UnknownYear` when no file exists for that year, :class:`ParameterFileError` when the file is
    malformed.
    """
    # DEFAULT_DIRECTORY is resolved once at import: resolving a path is system calls, and a call of a
    # member's year asks for its parameters several times (profiled)
    directory = Path(directory).resolve() if directory is not None else DEFAULT_DIRECTORY
    return _load_cached(int(year), directory)


@functools.lru_cache(maxsize=None)
def _load_cached(year: int, directory: Path) -> YearParameters:
    path = directory / f"{year}.toml"
    if not path.is_file():
        raise UnknownYear(year, available_years(directory))
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterFileError(f"{path.name}: not valid TOML ({exc})") from exc
    params = parse_parameters(data, origin=path.name)
    if params.year != year:
        raise ParameterFileError(f"{path.name}: declares year {params.year}, expected {year}")
    return params


def clear_parameters_cache() -> None:
    """Forget the files already read (after editing a parameter file in a running process, or in tests)."""
    _load_cached.cache_clear()


def parse_parameters(data: dict[str, Any], origin: str = "<parameters>") -> YearParameters:
    """Build :class:`YearParameters` from the content of a parameter file (a parsed TOML mapping)."""
    reader = _Reader(data, origin)
    year = reader.plain("year", int)
    version = reader.plain("version", str)

    shape = reader.plain("complementary.shape", str)
    shape_class = _COMPLEMENTARY_SHAPES.get(shape)
    if shape_class is None:
        raise ParameterFileError(
            f"{origin}: unknown complementary.shape {shape!r}; expected one of {sorted(_COMPLEMENTARY_SHAPES)}"
        )
    complementary = shape_class(
        **{name: reader.figure(f"complementary.{name}") for name in (f.name for f in fields(shape_class))}
    )

    return YearParameters(
        year=year,
        version=version,
        pass_=reader.figure("reference.pass"),
        smic_hourly=reader.figure("reference.smic_hourly"),
        base_scheme=BaseSchemeParameters(
            t1_rate_percent=reader.figure("base_scheme.t1_rate_percent"),
            t1_ceiling_pass=reader.figure("base_scheme.t1_ceiling_pass"),
            t2_rate_percent=reader.figure("base_scheme.t2_rate_percent"),
            t2_ceiling_pass=reader.figure("base_scheme.t2_ceiling_pass"),
            minimum_base_smic_hours=reader.figure("base_scheme.minimum_base_smic_hours"),
        ),
        complementary=complementary,
        asv=AsvParameters(
            member_fixed=reader.figure("asv.member_fixed"),
            insurer_fixed=reader.figure("asv.insurer_fixed"),
            rate_percent=reader.figure("asv.rate_percent"),
        ),
        disability_death_flat=reader.figure("disability_death.flat"),
        no_income_base_pass=reader.figure("no_income.base_pass"),
        quarters=QuartersParameters(
            smic_hours_per_quarter=reader.figure("quarters.smic_hours_per_quarter"),
            max_per_year=reader.figure("quarters.max_per_year"),
        ),
        base_reform=BaseReformParameters(
            enabled=reader.plain("base_reform.enabled", bool),
            allowance_rate_percent=reader.figure("base_reform.allowance_rate_percent"),
            allowance_floor_pass=reader.figure("base_reform.allowance_floor_pass"),
            allowance_cap_pass=reader.figure("base_reform.allowance_cap_pass"),
        ),
        start_of_activity=StartOfActivityParameters(
            year1_base_pass_percent=reader.figure("start_of_activity.year1_base_pass_percent"),
            year2_base_pass_percent=reader.figure("start_of_activity.year2_base_pass_percent"),
        ),
        estimate=EstimateParameters(
            excess_threshold_percent=reader.figure("estimate.excess_threshold_percent"),
            surcharge_percent=reader.figure("estimate.surcharge_percent"),
        ),
        late_payment=LatePaymentParameters(
            fixed_percent=reader.figure("late_payment.fixed_percent"),
            monthly_percent=reader.figure("late_payment.monthly_percent"),
            reduced_monthly_percent=reader.figure("late_payment.reduced_monthly_percent"),
            reduced_within_days=reader.figure("late_payment.reduced_within_days"),
        ),
    )


class _Reader:
    """Reads dotted keys from a parsed TOML mapping, with error messages naming the file and the key."""

    def __init__(self, data: dict[str, Any], origin: str):
        self.data = data
        self.origin = origin

    def _get(self, dotted: str) -> Any:
        node: Any = self.data
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                raise ParameterFileError(f"{self.origin}: missing {dotted!r}")
            node = node[part]
        return node

    def plain(self, dotted: str, kind: type) -> Any:
        value = self._get(dotted)
        # bool is a subclass of int: refuse true/false where a number is expected, and the reverse.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ParameterFileError(f"{self.origin}: {dotted!r} must be a {kind.__name__}, got {value!r}")
        return value

    def figure(self, dotted: str) -> Figure:
        table = self._get(dotted)
        if not isinstance(table, dict):
            raise ParameterFileError(f"{self.origin}: {dotted!r} must be a table with value, source and note")
        unknown = set(table) - {"value", "source", "note"}
        if unknown:
            raise ParameterFileError(f"{self.origin}: {dotted!r} has unknown keys {sorted(unknown)}")
        raw = table.get("value")
        if not isinstance(raw, str):
            raise ParameterFileError(
                f"{self.origin}: {dotted}.value must be a string such as \"8.73\" (got {raw!r}); "
                "numbers are written as strings so they are never read as floats"
            )
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise ParameterFileError(f"{self.origin}: {dotted}.value {raw!r} is not a number") from None
        if not value.is_finite() or value < 0:
            raise ParameterFileError(f"{self.origin}: {dotted}.value {raw!r} must be a finite, non-negative number")
        source = table.get("source")
        if source not in SOURCES:
            raise ParameterFileError(
                f"{self.origin}: {dotted}.source must be one of {sorted(SOURCES)} (got {source!r})"
            )
        note = table.get("note", "")
        if not isinstance(note, str):
            raise ParameterFileError(f"{self.origin}: {dotted}.note must be a string")
        return Figure(value=value, source=source, note=note)
