"""The yearly cycle (domain.md §3.3): golden figures derived by hand, for each year and case."""
from datetime import date
from decimal import Decimal

import pytest

from services.contributions.domain import cycle
from services.contributions.domain.calculation import InvalidDeclaration
from services.contributions.domain.parameters import load_parameters

D = Decimal


def amounts(assessment):
    return {line.scheme: line.amount for line in assessment.lines}


# -- golden figures of each year (regularised on the year's own income) -----------------------------------------

GOLDEN = [
    # year, income, conventionne, expected lines, total
    # 2026 minimum base: 3 000 < 5 346 (450 x 11,88): T1 8,73 % x 5 346 = 466,7058; T2 1,87 % = 99,9702;
    # RC floor 0,5 x 48 060 = 24 030 x 8,70 % = 2 090,61; RID 1 022.
    (2026, D("3000"), False, {"rb_t1": D("466.71"), "rb_t2": D("99.97"), "rc": D("2090.61"), "rid": D("1022.00")},
     D("3679.29")),
    # 2026 ceilings: 300 000: T1 on 48 060 = 4 195,638; T2 on 5 PASS 240 300 = 4 493,61; RC on 3 PASS
    # 144 180 = 12 543,66; RID 1 022.
    (2026, D("300000"), False, {"rb_t1": D("4195.64"), "rb_t2": D("4493.61"), "rc": D("12543.66"),
                                "rid": D("1022.00")}, D("22254.91")),
    # 2026 no declaration, conventionné: everything on 5 PASS = 240 300; ASV 224 + 0,40 % x 240 300 = 1 185,20.
    (2026, None, True, {"rb_t1": D("4195.64"), "rb_t2": D("4493.61"), "rc": D("12543.66"), "asv": D("1185.20"),
                        "rid": D("1022.00")}, D("23440.11")),
    # 2025, 40 000, not conventionné: T1 8,23 % = 3 292; T2 748; RC 2 312 + 3 % x 14 754 = 2 754,62; RID 1 022.
    (2025, D("40000"), False, {"rb_t1": D("3292.00"), "rb_t2": D("748.00"), "rc": D("2754.62"),
                               "rid": D("1022.00")}, D("7816.62")),
    # 2025 minimum base, income 0: 5 346 x 8,23 % = 439,9758; 99,97; RC fixed only 2 312; RID 1 022.
    (2025, D("0"), False, {"rb_t1": D("439.98"), "rb_t2": D("99.97"), "rc": D("2312.00"), "rid": D("1022.00")},
     D("3873.95")),
    # 2024 minimum base: 450 x 11,65 = 5 242,50: 431,45775 -> 431,46; 98,03475 -> 98,03; RC 2 176; RID 1 022.
    (2024, D("1000"), False, {"rb_t1": D("431.46"), "rb_t2": D("98.03"), "rc": D("2176.00"), "rid": D("1022.00")},
     D("3727.49")),
    # 2024 ceilings, 250 000: T1 on 46 368 = 3 816,0864; T2 on 231 840 = 4 335,408;
    # RC 2 176 + 3 % x (185 113 - 25 246) = 2 176 + 4 796,01; RID 1 022.
    (2024, D("250000"), False, {"rb_t1": D("3816.09"), "rb_t2": D("4335.41"), "rc": D("6972.01"),
                                "rid": D("1022.00")}, D("16145.51")),
    # 2024, 40 000 all conventioned: 3 292 + 748 + 2 618,62 + 384 + 1 022.
    (2024, D("40000"), True, {"rb_t1": D("3292.00"), "rb_t2": D("748.00"), "rc": D("2618.62"), "asv": D("384.00"),
                              "rid": D("1022.00")}, D("8064.62")),
]


@pytest.mark.parametrize("year, income, conventionne, lines, total", GOLDEN)
def test_golden_regularisation_of_each_year(year, income, conventionne, lines, total):
    call = cycle.yearly_call(load_parameters(year), "regularised", {year: income}, conventionne)
    assert call.stage == "regularised" and call.income_year == year
    assert call.basis == ("income" if income is not None else "no_income")
    assert amounts(call.assessment) == lines
    assert call.total == total


# -- stages: N-2, N-1, N ---------------------------------------------------------------------------------------

INCOMES = {2024: D("30000"), 2025: D("36000"), 2026: D("40000")}


def test_provisional_on_n_minus_2_adjusted_on_n_minus_1_regularised_on_n():
    """2026 rules, not conventionné.
    Provisional on 2024's 30 000: 2 619 + 561 + 2 610 + 1 022 = 6 812,00.
    Adjusted on 2025's 36 000: 3 142,80 + 673,20 + 3 132 + 1 022 = 7 970,00.
    Regularised on 2026's 40 000: 3 492 + 748 + 3 480 + 1 022 = 8 742,00 (regularisation +772,00)."""
    p = load_parameters(2026)
    calls = {stage: cycle.yearly_call(p, stage, INCOMES, False) for stage in cycle.STAGES}
    assert {s: c.income_year for s, c in calls.items()} == {"provisional": 2024, "adjusted": 2025,
                                                           "regularised": 2026}
    assert {s: c.total for s, c in calls.items()} == {"provisional": D("6812.00"), "adjusted": D("7970.00"),
                                                     "regularised": D("8742.00")}
    assert calls["regularised"].total - calls["adjusted"].total == D("772.00")


def test_reference_year_not_declared_counts_as_5_pass():
    call = cycle.yearly_call(load_parameters(2026), "provisional", {2025: D("36000")}, False)
    assert call.basis == "no_income" and call.income_year == 2024
    assert call.total == D("22254.91")  # same as the 2026 ceilings case: 5 PASS hits every ceiling


def test_conventioned_income_of_the_reference_year_feeds_the_asv():
    """Provisional 2026 on 2024: 30 000 of which 10 000 conventioned: ASV 224 + 40 = 264,00."""
    call = cycle.yearly_call(load_parameters(2026), "provisional", INCOMES, True,
                             conventioned_incomes={2024: D("10000")})
    assert amounts(call.assessment)["asv"] == D("264.00")


def test_unknown_stage_is_refused():
    with pytest.raises(ValueError, match="unknown stage 'final'"):
        cycle.yearly_call(load_parameters(2026), "final", INCOMES, False)


# -- start of activity -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("start, affiliation", [
    (date(2026, 1, 1), date(2026, 4, 1)),
    (date(2026, 2, 10), date(2026, 4, 1)),
    (date(2026, 3, 31), date(2026, 4, 1)),
    (date(2026, 4, 1), date(2026, 7, 1)),
    (date(2026, 9, 30), date(2026, 10, 1)),
    (date(2026, 10, 1), date(2027, 1, 1)),
    (date(2026, 12, 31), date(2027, 1, 1)),
])
def test_affiliation_starts_the_quarter_after_the_activity(start, affiliation):
    assert cycle.affiliation_start(start) == affiliation


def test_quarters_and_activity_years():
    aff = date(2026, 7, 1)
    assert [cycle.affiliated_quarters(y, aff) for y in (2025, 2026, 2027)] == [0, 2, 4]
    assert [cycle.activity_year(y, aff) for y in (2026, 2027, 2028)] == [1, 2, None]
    with pytest.raises(InvalidDeclaration, match="Not affiliated in 2025"):
        cycle.activity_year(2025, aff)


@pytest.mark.parametrize("year, start, expected_base, total", [
    # 2026, start 10 Feb 2026: year 1, 3 quarters: 19 % x 48 060 x 3/4 = 6 848,55 -> 3 838,56 (see simulator).
    (2026, date(2026, 2, 10), D("6848.55"), D("3838.56")),
    # 2025, start 15 May 2025 -> affiliated 1 Jul 2025, 2 quarters: 19 % x 47 100 / 2 = 4 474,50 < 5 346:
    # RB on 5 346: 8,23 % = 439,9758 -> 439,98; 1,87 % = 99,97; RC 2025 income <= 25 246: fixed 2 312; RID 1 022.
    (2025, date(2025, 5, 15), D("4474.50"), D("3873.95")),
    # 2024, start 5 Nov 2023 -> affiliated 1 Jan 2024, year 1, 4 quarters: 19 % x 46 368 = 8 809,92:
    # T1 8,23 % = 725,056416 -> 725,06; T2 1,87 % = 164,745504 -> 164,75; RC fixed 2 176; RID 1 022 -> 4 087,81.
    (2024, date(2023, 11, 5), D("8809.92"), D("4087.81")),
])
def test_start_of_activity_flat_base_golden(year, start, expected_base, total):
    call = cycle.yearly_call(load_parameters(year), "provisional", {}, False, activity_start=start)
    assert call.basis == "flat_start" and call.activity_year == 1
    assert call.assessment.income_used == expected_base
    assert call.total == total


def test_start_of_activity_regularisation_is_on_real_income():
    call = cycle.yearly_call(load_parameters(2026), "regularised", {2026: D("40000")}, False,
                             activity_start=date(2026, 2, 10))
    assert call.basis == "income" and call.total == D("8742.00")


# -- estimate of the current year ------------------------------------------------------------------------------

def test_estimate_is_the_sum_of_the_monthly_entries():
    assert cycle.estimate_from_monthly({m: D("2500") for m in range(1, 13)}) == D("30000")
    assert cycle.estimate_from_monthly({1: D("1200.50"), 2: D("0"), 7: 3000}) == D("4200.50")
    with pytest.raises(InvalidDeclaration, match="Month must be 1 to 12"):
        cycle.estimate_from_monthly({13: D("1")})
    with pytest.raises(InvalidDeclaration, match="month 3 cannot be negative"):
        cycle.estimate_from_monthly({3: D("-1")})


def test_estimate_replaces_the_reference_income_of_provisional_calls_only():
    p = load_parameters(2026)
    estimate = cycle.estimate_from_monthly({m: D("2500") for m in range(1, 13)})
    provisional = cycle.yearly_call(p, "provisional", INCOMES, False, estimate=estimate)
    assert provisional.basis == "estimate" and provisional.total == D("6812.00")
    final = cycle.yearly_call(p, "regularised", INCOMES, False, estimate=estimate)
    assert final.basis == "income" and final.total == D("8742.00")


def test_surcharge_when_real_income_far_above_the_estimate():
    """Estimate 30 000: threshold 30 000 + 33,33 % = 39 999. Real 40 000 > 39 999: 10 % x (8 742 - 6 812)
    = 193,00. Real 39 000: no surcharge."""
    p = load_parameters(2026)
    assert cycle.estimate_surcharge(p, D("30000"), D("40000"), D("6812.00"), D("8742.00")) == D("193.00")
    assert cycle.estimate_surcharge(p, D("30000"), D("39999"), D("6812.00"), D("8741.91")) == D("0.00")
    assert cycle.estimate_surcharge(p, D("30000"), D("29000"), D("6812.00"), D("6550.00")) == D("0.00")


def test_base_reform_is_a_per_year_switch():
    """Switched on for 2026 (a copy of the parameters): 40 000 - 26 % = 29 600 on RB and RC."""
    from dataclasses import replace
    p = load_parameters(2026)
    on = replace(p, base_reform=replace(p.base_reform, enabled=True))
    off_call = cycle.yearly_call(p, "regularised", INCOMES, False)
    on_call = cycle.yearly_call(on, "regularised", INCOMES, False)
    assert off_call.assessment.income_used == D("40000")
    assert on_call.assessment.income_used == D("29600")
    # 8,73 % x 29 600 = 2 584,08; 1,87 % = 553,52; RC 8,70 % = 2 575,20; RID 1 022
    assert on_call.total == D("6734.80")
