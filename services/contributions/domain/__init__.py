"""Contribution rules in plain Python: yearly parameters and the calculation (no nameko, no database)."""

from .calculation import (
    LABELS,
    Assessment,
    AssessmentLine,
    InvalidDeclaration,
    apply_base_reform,
    assess,
    base_reform_allowance,
    quarters_validated,
)
from .parameters import (
    Figure,
    ParameterFileError,
    UnknownYear,
    YearParameters,
    available_years,
    clear_parameters_cache,
    load_parameters,
    parse_parameters,
)

__all__ = [
    "LABELS",
    "Assessment",
    "AssessmentLine",
    "Figure",
    "InvalidDeclaration",
    "ParameterFileError",
    "UnknownYear",
    "YearParameters",
    "apply_base_reform",
    "assess",
    "available_years",
    "base_reform_allowance",
    "clear_parameters_cache",
    "load_parameters",
    "parse_parameters",
    "quarters_validated",
]
