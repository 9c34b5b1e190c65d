"""Yearly parameter files: loading, schema checks, one file per year."""

from dataclasses import fields, is_dataclass
from decimal import Decimal

import pytest

from services.contributions.domain.parameters import (
    DEFAULT_DIRECTORY,
    ComplementaryBandOfPass,
    ComplementaryFixedPlusBand,
    Figure,
    ParameterFileError,
    UnknownYear,
    available_years,
    load_parameters,
)

SHIPPED_YEARS = (2024, 2025, 2026)


def _figures(obj, prefix=""):
    """Every Figure of a parameters object, with its dotted path."""
    for field in fields(obj):
        value = getattr(obj, field.name)
        path = f"{prefix}{field.name}"
        if isinstance(value, Figure):
            yield path, value
        elif is_dataclass(value):
            yield from _figures(value, prefix=f"{path}.")


def _copy_year(tmp_path, source_year, target_year, edit=lambda text: text):
    text = (DEFAULT_DIRECTORY / f"{source_year}.toml").read_text(encoding="utf-8")
    text = text.replace(f"year = {source_year}\n", f"year = {target_year}\n")
    text = text.replace(f'version = "{source_year}.1"', f'version = "{target_year}.1"')
    (tmp_path / f"{target_year}.toml").write_text(edit(text), encoding="utf-8")


def test_shipped_years_are_available():
    assert set(SHIPPED_YEARS) <= set(available_years())
    assert list(available_years()) == sorted(available_years())


@pytest.mark.parametrize("year", SHIPPED_YEARS)
def test_every_figure_is_a_decimal_with_a_source_tag(year):
    params = load_parameters(year)
    assert params.year == year
    assert params.version == f"{year}.1"
    figures = dict(_figures(params))
    assert len(figures) >= 15
    for path, figure in figures.items():
        assert type(figure.value) is Decimal, path
        assert figure.source in {"S", "D", "A"}, path
        assert figure.note, path


def test_2026_reference_values():
    params = load_parameters(2026)
    assert params.pass_value == Decimal("48060")
    assert params.pass_.source == "S"
    assert params.smic_hourly.value == Decimal("11.88")
    assert params.smic_hourly.is_assumption
    assert params.minimum_base == Decimal("5346.00")
    assert params.no_income_base == Decimal("240300")
    assert params.base_scheme.t1_rate_percent.value == Decimal("8.73")
    assert params.base_scheme.t2_rate_percent.value == Decimal("1.87")
    assert params.asv.member_fixed.value == Decimal("224")
    assert params.asv.rate_percent.value == Decimal("0.40")
    assert params.disability_death_flat.value == Decimal("1022")


def test_reference_values_of_2024_and_2025():
    p2024, p2025 = load_parameters(2024), load_parameters(2025)
    assert p2024.pass_value == Decimal("46368")
    assert p2025.pass_value == Decimal("47100")
    assert p2024.minimum_base == Decimal("5242.50")
    assert p2025.minimum_base == Decimal("5346.00")
    assert p2024.base_scheme.t1_rate_percent.value == Decimal("8.23")
    assert p2024.base_scheme.t1_rate_percent.source == "A"
    assert p2025.base_scheme.t1_rate_percent.source == "S"
    assert p2025.disability_death_flat.source == "A"
    assert p2024.asv.member_fixed.source == "A"


def test_rc_rule_shape_is_declared_by_the_file():
    rc2024, rc2025, rc2026 = (load_parameters(y).complementary for y in SHIPPED_YEARS)
    assert isinstance(rc2024, ComplementaryFixedPlusBand)
    assert rc2024.fixed.value == Decimal("2176")
    assert (rc2024.band_floor.value, rc2024.band_ceiling.value) == (Decimal("25246"), Decimal("185113"))
    assert isinstance(rc2025, ComplementaryFixedPlusBand)
    assert rc2025.fixed.value == Decimal("2312")
    assert rc2025.band_floor.source == "A"
    assert isinstance(rc2026, ComplementaryBandOfPass)
    assert rc2026.rate_percent.value == Decimal("8.70")
    assert (rc2026.floor_pass.value, rc2026.ceiling_pass.value) == (Decimal("0.5"), Decimal("3"))


@pytest.mark.parametrize("year", SHIPPED_YEARS)
def test_base_reform_is_off_and_its_figures_are_assumptions(year):
    reform = load_parameters(year).base_reform
    assert reform.enabled is False
    assert reform.allowance_rate_percent.value == Decimal("26")
    for figure in (reform.allowance_rate_percent, reform.allowance_floor_pass, reform.allowance_cap_pass):
        assert figure.source == "A"


def test_parameters_are_cached_and_frozen():
    params = load_parameters(2026)
    assert load_parameters(2026) is params
    with pytest.raises(AttributeError):
        params.version = "x"  # type: ignore[misc]


def test_unknown_year_says_which_years_exist():
    with pytest.raises(UnknownYear) as caught:
        load_parameters(1999)
    message = str(caught.value)
    assert "1999" in message
    assert "2024, 2025, 2026" in message
    assert caught.value.available[:3] == SHIPPED_YEARS
    assert isinstance(caught.value, LookupError)


def test_a_new_year_is_one_new_file(tmp_path):
    _copy_year(tmp_path, 2026, 2027, lambda t: t.replace('value = "48060"', 'value = "50000"'))
    assert available_years(tmp_path) == (2027,)
    params = load_parameters(2027, directory=tmp_path)
    assert params.year == 2027
    assert params.version == "2027.1"
    assert params.pass_value == Decimal("50000")


def test_bare_numbers_are_refused(tmp_path):
    _copy_year(tmp_path, 2026, 2030, lambda t: t.replace('value = "8.73"', "value = 8.73"))
    with pytest.raises(ParameterFileError, match=r"t1_rate_percent\.value must be a string"):
        load_parameters(2030, directory=tmp_path)


def test_unknown_source_tag_is_refused(tmp_path):
    _copy_year(tmp_path, 2026, 2030, lambda t: t.replace('value = "1022"\nsource = "S"', 'value = "1022"\nsource = "X"'))
    with pytest.raises(ParameterFileError, match=r"disability_death\.flat\.source"):
        load_parameters(2030, directory=tmp_path)


def test_unknown_rc_shape_is_refused(tmp_path):
    _copy_year(tmp_path, 2026, 2030, lambda t: t.replace('shape = "band_of_pass"', 'shape = "mystery"'))
    with pytest.raises(ParameterFileError, match="unknown complementary.shape 'mystery'"):
        load_parameters(2030, directory=tmp_path)


def test_missing_figure_is_reported(tmp_path):
    _copy_year(tmp_path, 2024, 2030, lambda t: t.replace("[complementary.fixed]", "[complementary.fixd]"))
    with pytest.raises(ParameterFileError, match="missing 'complementary.fixed'"):
        load_parameters(2030, directory=tmp_path)


def test_year_in_file_must_match_file_name(tmp_path):
    _copy_year(tmp_path, 2026, 2031)
    (tmp_path / "2031.toml").rename(tmp_path / "2032.toml")
    with pytest.raises(ParameterFileError, match="declares year 2031, expected 2032"):
        load_parameters(2032, directory=tmp_path)
