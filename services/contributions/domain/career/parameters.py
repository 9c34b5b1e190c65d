"""Career rules as data: ``parameters/career/<year>.toml`` (points per year) and ``parameters/career/retirement.toml``
(legal age and quarters by date of birth, the reduction before the full rate).

The PASS, the SMIC hourly and the quarter threshold of a year are the contribution parameters' (one source of
truth, ``parameters/<year>.toml``); a career file only adds what turns a year's contributions into points and what
a point is worth. Every figure is tagged S / D / A like the contribution files, and the tags travel with the
figures to the member ("hypothèses").
"""
from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ..parameters import DEFAULT_DIRECTORY as CONTRIBUTION_DIRECTORY
from ..parameters import Figure, ParameterFileError, _Reader

__all__ = ["CAREER_DIRECTORY", "CareerYearParameters", "Cohort", "RetirementRules", "UnknownCareerYear",
           "career_years", "load_career_parameters", "load_retirement_rules", "clear_career_cache"]

CAREER_DIRECTORY = CONTRIBUTION_DIRECTORY / "career"


class UnknownCareerYear(LookupError):
    """No career rules for that year."""

    def __init__(self, year: int, available: tuple[int, ...]):
        self.year = year
        self.available = available
        super().__init__(f"No career rules for year {year}; available years: "
                         f"{', '.join(str(y) for y in available) or 'none'}.")


@dataclass(frozen=True)
class CareerYearParameters:
    year: int
    version: str
    rb_t1_max: Figure
    rb_t2_max: Figure
    rb_point_value: Figure
    rc_fixed_points: Figure
    rc_euros_per_point: Figure
    rc_max_points: Figure
    rc_point_value: Figure
    asv_euros_per_point: Figure
    asv_point_value: Figure
    maternity_base_points: Figure
    incapacity_min_months: Figure
    incapacity_quarters: Figure
    incapacity_base_points: Figure
    incapacity_complementary_points: Figure

    def figures(self) -> dict[str, Figure]:
        """Every figure by its name, for the assumptions shown to the member."""
        return {name: value for name, value in vars(self).items() if isinstance(value, Figure)}


@dataclass(frozen=True)
class Cohort:
    born_from: date
    born_to: date
    age_years: int
    age_months: int
    quarters: int
    source: str


@dataclass(frozen=True)
class RetirementRules:
    version: str
    reduction_per_missing_quarter_percent: Figure
    max_missing_quarters: Figure
    automatic_full_rate_age_years: Figure
    cohorts: tuple[Cohort, ...]

    def cohort(self, birth_date: date) -> Cohort:
        for cohort in self.cohorts:
            if cohort.born_from <= birth_date <= cohort.born_to:
                return cohort
        first = self.cohorts[0].born_from
        raise ValueError(f"no retirement rules for a birth date before {first.isoformat()}")


def career_years(directory: Path | None = None) -> tuple[int, ...]:
    directory = Path(directory) if directory is not None else CAREER_DIRECTORY
    return tuple(sorted(int(p.stem) for p in directory.glob("*.toml") if p.stem.isdigit()))


def load_career_parameters(year: int, directory: Path | None = None) -> CareerYearParameters:
    directory = Path(directory) if directory is not None else CAREER_DIRECTORY
    return _load_year(int(year), directory.resolve())


def load_retirement_rules(directory: Path | None = None) -> RetirementRules:
    directory = Path(directory) if directory is not None else CAREER_DIRECTORY
    return _load_retirement(directory.resolve())


def clear_career_cache() -> None:
    _load_year.cache_clear()
    _load_retirement.cache_clear()


def _read(path: Path) -> dict:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ParameterFileError(f"career/{path.name}: not valid TOML ({exc})") from exc


@functools.lru_cache(maxsize=None)
def _load_year(year: int, directory: Path) -> CareerYearParameters:
    path = directory / f"{year}.toml"
    if not path.is_file():
        raise UnknownCareerYear(year, career_years(directory))
    reader = _Reader(_read(path), f"career/{path.name}")
    if reader.plain("year", int) != year:
        raise ParameterFileError(f"career/{path.name}: declares another year than {year}")
    f = reader.figure
    return CareerYearParameters(
        year=year, version=reader.plain("version", str),
        rb_t1_max=f("base_points.t1_max"), rb_t2_max=f("base_points.t2_max"),
        rb_point_value=f("base_points.point_value"),
        rc_fixed_points=f("complementary_points.fixed_points"),
        rc_euros_per_point=f("complementary_points.euros_per_point"),
        rc_max_points=f("complementary_points.max_points"),
        rc_point_value=f("complementary_points.point_value"),
        asv_euros_per_point=f("asv_points.euros_per_point"), asv_point_value=f("asv_points.point_value"),
        maternity_base_points=f("credits.maternity_base_points"),
        incapacity_min_months=f("credits.incapacity_min_months"),
        incapacity_quarters=f("credits.incapacity_quarters"),
        incapacity_base_points=f("credits.incapacity_base_points"),
        incapacity_complementary_points=f("credits.incapacity_complementary_points"))


@functools.lru_cache(maxsize=None)
def _load_retirement(directory: Path) -> RetirementRules:
    path = directory / "retirement.toml"
    data = _read(path)
    reader = _Reader(data, "career/retirement.toml")
    cohorts = []
    for index, row in enumerate(data.get("cohorts") or []):
        try:
            cohort = Cohort(date.fromisoformat(row["born_from"]), date.fromisoformat(row["born_to"]),
                            int(row["age_years"]), int(row["age_months"]), int(row["quarters"]), row["source"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ParameterFileError(f"career/retirement.toml: cohorts[{index}] is malformed ({exc})") from exc
        if cohort.born_to < cohort.born_from or not 0 <= cohort.age_months < 12:
            raise ParameterFileError(f"career/retirement.toml: cohorts[{index}] is inconsistent")
        if cohorts and cohort.born_from <= cohorts[-1].born_to:
            raise ParameterFileError(f"career/retirement.toml: cohorts[{index}] overlaps the previous one")
        cohorts.append(cohort)
    if not cohorts:
        raise ParameterFileError("career/retirement.toml: no cohorts")
    return RetirementRules(
        version=reader.plain("version", str),
        reduction_per_missing_quarter_percent=reader.figure("reduction_per_missing_quarter_percent"),
        max_missing_quarters=reader.figure("max_missing_quarters"),
        automatic_full_rate_age_years=reader.figure("automatic_full_rate_age_years"),
        cohorts=tuple(cohorts))
