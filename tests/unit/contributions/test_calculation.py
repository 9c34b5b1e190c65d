"""The contribution calculation: domain.md §3.2 and §4 (quarters). Every expected figure is exact."""

from dataclasses import replace
from decimal import Decimal

import pytest

from services.contributions.domain.calculation import (
    InvalidDeclaration,
    apply_base_reform,
    assess,
    base_reform_allowance,
    quarters_validated,
)
from services.contributions.domain.parameters import load_parameters

D = Decimal


@pytest.fixture
def p2026():
    return load_parameters(2026)


@pytest.fixture
def p2024():
    return load_parameters(2024)


def amounts(assessment):
    return {line.scheme: line.amount for line in assessment.lines}


def test_worked_example_2026(p2026):
    """domain.md §3.2: 2026, income 40 000, conventionné, all of it conventioned."""
    result = assess(p2026, D("40000"), D("40000"), conventionne=True)
    assert amounts(result) == {
        "rb_t1": D("3492.00"),
        "rb_t2": D("748.00"),
        "rc": D("3480.00"),
        "asv": D("384.00"),
        "rid": D("1022.00"),
    }
    assert result.total == D("9126.00")
    assert [line.scheme for line in result.lines] == ["rb_t1", "rb_t2", "rc", "asv", "rid"]
    assert result.year == 2026
    assert result.parameters_version == "2026.1"
    assert result.income_used == D("40000")
    assert result.income_declared is True
    assert result.notes == ()


def test_lines_carry_labels_bases_rates_and_fixed_parts(p2026):
    result = assess(p2026, D("40000"), D("40000"), conventionne=True)
    rb_t1, rb_t2, rc, asv, rid = result.lines
    assert rb_t1.label == "Régime de base – tranche 1"
    assert rb_t2.label == "Régime de base – tranche 2"
    assert rc.label == "Régime complémentaire"
    assert asv.label == "Avantage social vieillesse (part praticien)"
    assert rid.label == "Invalidité-décès"
    assert (rb_t1.base, rb_t1.rate, rb_t1.fixed) == (D("40000"), D("8.73"), D("0"))
    assert (rc.base, rc.rate, rc.fixed) == (D("40000"), D("8.70"), D("0"))
    assert (asv.base, asv.rate, asv.fixed) == (D("40000"), D("0.40"), D("224"))
    assert (rid.base, rid.rate, rid.fixed) == (D("0"), None, D("1022"))
    assert result.line("asv") is asv


def test_non_conventionne_has_no_asv_line(p2026):
    result = assess(p2026, D("40000"), None, conventionne=False)
    assert result.line("asv") is None
    assert [line.scheme for line in result.lines] == ["rb_t1", "rb_t2", "rc", "rid"]
    assert result.total == D("8742.00")


def test_minimum_base_applies_to_both_base_tranches(p2026):
    result = assess(p2026, D("3000"), None, conventionne=False)
    # RB on 5 346 (450 x 11.88): 8.73 % -> 466.7058, 1.87 % -> 99.9702; RC at its floor (0.5 PASS).
    assert amounts(result) == {
        "rb_t1": D("466.71"),
        "rb_t2": D("99.97"),
        "rc": D("2090.61"),
        "rid": D("1022.00"),
    }
    assert result.line("rb_t1").base == D("5346.00")
    assert result.line("rb_t2").base == D("5346.00")
    assert result.total == D("3679.29")
    assert result.income_used == D("3000")
    assert any(note.startswith("Minimum base applied") for note in result.notes)


def test_zero_income_gets_the_minimum_base(p2026):
    result = assess(p2026, D("0"), None, conventionne=False)
    assert result.line("rb_t1").amount == D("466.71")
    assert result.income_declared is True


def test_income_at_minimum_base_adds_no_note(p2026):
    result = assess(p2026, D("5346"), None, conventionne=False)
    assert result.line("rb_t1").amount == D("466.71")
    assert not any("Minimum base" in note for note in result.notes)


def test_rc_floor_2026(p2026):
    assert assess(p2026, D("10000"), None, False).line("rc").amount == D("2090.61")
    assert assess(p2026, D("24030"), None, False).line("rc").amount == D("2090.61")
    assert assess(p2026, D("24031"), None, False).line("rc").amount == D("2090.70")


def test_rc_and_rb_ceilings_2026(p2026):
    result = assess(p2026, D("200000"), None, conventionne=False)
    assert amounts(result) == {
        "rb_t1": D("4195.64"),  # 8.73 % x 1 PASS (48 060) = 4 195.638
        "rb_t2": D("3740.00"),  # below 5 PASS: 1.87 % x 200 000
        "rc": D("12543.66"),  # 8.70 % x 3 PASS (144 180)
        "rid": D("1022.00"),
    }
    assert result.line("rc").base == D("144180")
    assert any("ceiling" in note for note in result.notes)


def test_no_income_declared_means_5_pass_everywhere(p2026):
    result = assess(p2026, None, None, conventionne=True)
    assert amounts(result) == {
        "rb_t1": D("4195.64"),
        "rb_t2": D("4493.61"),  # 1.87 % x 240 300
        "rc": D("12543.66"),
        "asv": D("1185.20"),  # 224 + 0.40 % x 240 300 (assumption)
        "rid": D("1022.00"),
    }
    assert result.total == D("23440.11")
    assert result.income_used == D("240300")
    assert result.income_declared is False
    assert result.notes[0].startswith("No income declared")


def test_no_income_declared_ignores_a_lone_conventioned_income(p2026):
    result = assess(p2026, None, D("10000"), conventionne=True)
    assert result.line("asv").base == D("240300")
    assert any("Conventioned income ignored" in note for note in result.notes)


def test_conventioned_income_missing_takes_all_income(p2026):
    result = assess(p2026, D("30000"), None, conventionne=True)
    assert result.line("asv").base == D("30000")
    assert result.line("asv").amount == D("344.00")


def test_asv_on_conventioned_part_only(p2026):
    result = assess(p2026, D("40000"), D("25000"), conventionne=True)
    assert result.line("asv").amount == D("324.00")
    assert result.line("rb_t1").amount == D("3492.00")


def test_2024_rc_fixed_part_plus_band(p2024):
    result = assess(p2024, D("40000"), D("40000"), conventionne=True)
    rc = result.line("rc")
    # 2 176 + 3 % x (40 000 - 25 246)
    assert (rc.base, rc.rate, rc.fixed, rc.amount) == (D("14754"), D("3"), D("2176"), D("2618.62"))
    assert amounts(result) == {
        "rb_t1": D("3292.00"),
        "rb_t2": D("748.00"),
        "rc": D("2618.62"),
        "asv": D("384.00"),
        "rid": D("1022.00"),
    }
    assert result.total == D("8064.62")
    assert result.parameters_version == "2024.1"


def test_2024_rc_below_band_is_fixed_part_only(p2024):
    rc = assess(p2024, D("20000"), None, False).line("rc")
    assert (rc.base, rc.amount) == (D("0"), D("2176.00"))


def test_2024_rc_above_band_is_capped(p2024):
    rc = assess(p2024, D("300000"), None, False).line("rc")
    # 2 176 + 3 % x (185 113 - 25 246)
    assert (rc.base, rc.amount) == (D("159867"), D("6972.01"))


def test_2024_minimum_base(p2024):
    line = assess(p2024, D("1000"), None, False).line("rb_t1")
    # 450 x 11.65 = 5 242.50; 8.23 % -> 431.45775
    assert (line.base, line.amount) == (D("5242.50"), D("431.46"))


def test_2025_rc_fixed_part():
    rc = assess(load_parameters(2025), D("40000"), None, False).line("rc")
    assert rc.amount == D("2754.62")


def test_rounding_is_half_up_per_line_and_total_sums_rounded_lines(p2026):
    result = assess(p2026, D("10050"), None, conventionne=False)
    # 8.73 % x 10 050 = 877.365 -> 877.37 (half-even would give 877.36)
    # 1.87 % x 10 050 = 187.935 -> 187.94
    assert result.line("rb_t1").amount == D("877.37")
    assert result.line("rb_t2").amount == D("187.94")
    # The exact sum is 4 177.91; the sum of the rounded lines is 4 177.92.
    assert result.total == D("4177.92")
    for line in result.lines:
        assert line.amount.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "professional, conventioned, message",
    [
        (D("-1"), None, "professional income cannot be negative"),
        (D("1000"), D("-5"), "conventioned income cannot be negative"),
        (D("1000"), D("1000.01"), "cannot exceed professional income"),
        (D("NaN"), None, "finite"),
    ],
)
def test_invalid_declaration(p2026, professional, conventioned, message):
    with pytest.raises(InvalidDeclaration, match=message):
        assess(p2026, professional, conventioned, conventionne=True)


def test_invalid_declaration_also_when_not_conventionne(p2026):
    with pytest.raises(InvalidDeclaration):
        assess(p2026, D("1000"), D("2000"), conventionne=False)


def test_floats_are_refused(p2026):
    with pytest.raises(TypeError):
        assess(p2026, 40000.0, None, conventionne=False)


# -- quarters (domain.md §4) ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "income, expected",
    [
        (D("40000"), 4),
        (D("7128"), 4),  # exactly 4 x 150 x 11.88
        (D("7127.99"), 3),
        (D("5346"), 3),  # the minimum base validates 3
        (D("1000"), 3),  # below the minimum base: still 3
        (D("0"), 3),
        (None, 4),  # 5 PASS
    ],
)
def test_quarters_validated_2026(p2026, income, expected):
    assert quarters_validated(p2026, income) == expected


def test_quarters_validated_2024(p2024):
    assert quarters_validated(p2024, D("6990")) == 4  # 4 x 150 x 11.65
    assert quarters_validated(p2024, D("6989.99")) == 3
    assert quarters_validated(p2024, D("100")) == 3


def test_quarters_refuse_negative_income(p2026):
    with pytest.raises(InvalidDeclaration):
        quarters_validated(p2026, D("-1"))


# -- base reform hook ("assiette sociale"), off in every shipped file -------------------------------------------


@pytest.fixture
def reformed(p2026):
    return replace(p2026, base_reform=replace(p2026.base_reform, enabled=True))


def test_base_reform_allowance_floor_rate_and_cap(p2026):
    # 26 % of income, at least 1.76 % PASS (845.856), at most 130 % PASS (62 478), never more than the income.
    assert base_reform_allowance(p2026, D("40000")) == D("10400")
    assert apply_base_reform(p2026, D("40000")) == D("29600")
    assert base_reform_allowance(p2026, D("2000")) == D("845.856")
    assert apply_base_reform(p2026, D("2000")) == D("1154.144")
    assert base_reform_allowance(p2026, D("300000")) == D("62478.00")
    assert apply_base_reform(p2026, D("300000")) == D("237522.00")
    assert apply_base_reform(p2026, D("500")) == D("0")


def test_assess_applies_base_reform_when_enabled(reformed):
    result = assess(reformed, D("40000"), D("40000"), conventionne=True)
    assert amounts(result) == {
        "rb_t1": D("2584.08"),  # 8.73 % x 29 600
        "rb_t2": D("553.52"),  # 1.87 % x 29 600
        "rc": D("2575.20"),  # 8.70 % x 29 600
        "asv": D("384.00"),  # conventioned income is not reformed
        "rid": D("1022.00"),
    }
    assert result.total == D("7118.80")
    assert result.income_used == D("29600")
    assert any(note.startswith("Base reform applied") for note in result.notes)


def test_base_reform_not_applied_to_the_5_pass_default(reformed):
    result = assess(reformed, None, None, conventionne=False)
    assert result.income_used == D("240300")
    assert result.line("rb_t2").amount == D("4493.61")


def test_base_reform_disabled_changes_nothing(p2026):
    assert p2026.base_reform.enabled is False
    assert assess(p2026, D("40000"), D("40000"), True).total == D("9126.00")
