"""The public simulator: domain, input validation and the ``carpimko simulate`` command.

Every expected figure is derived by hand from domain.md §3 (the derivation is in each test's docstring).
"""
import io
import json
from datetime import date
from decimal import Decimal

import pytest

from carpimko.errors import InvalidRequest
from ops import simulate as simulate_command
from services.contributions import simulations
from services.contributions.domain import calculation, parameters, simulation

D = Decimal


def run_cli(*args, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    code = simulate_command.run(*args, out=out, err=err, **kwargs)
    return code, out.getvalue(), err.getvalue()


def test_acceptance_example_json_exactly():
    """domain.md §3.2: 2026, 40 000 all conventioned."""
    code, out, err = run_cli("2026", "40000", "40000", None, as_json=True)
    assert code == 0 and err == ""
    assert json.loads(out) == {
        "year": 2026,
        "base": "40000.00",
        "lines": [
            {"scheme": "base_t1", "base": "40000.00", "rate": "8.73", "amount": "3492.00"},
            {"scheme": "base_t2", "base": "40000.00", "rate": "1.87", "amount": "748.00"},
            {"scheme": "complementary", "base": "40000.00", "rate": "8.70", "amount": "3480.00"},
            {"scheme": "asv", "base": "40000.00", "rate": "0.40", "amount": "384.00"},
            {"scheme": "invalidity_death", "base": "0.00", "rate": None, "amount": "1022.00"},
        ],
        "total": "9126.00",
    }


def test_without_conventioned_income_there_is_no_asv():
    """2026, 40 000, not conventionné: 3 492 + 748 + 3 480 + 1 022 = 8 742,00."""
    view = simulations.simulate(2026, "40000")
    assert [line["scheme"] for line in view["lines"]] == ["base_t1", "base_t2", "complementary",
                                                          "invalidity_death"]
    assert view["total"] == "8742.00"


def test_amounts_with_cents_and_2024_rules():
    """2024, 40 000,50, all conventioned: T1 8,23 % x 40 000,50 = 3 292,04115 -> 3 292,04;
    T2 1,87 % = 748,00935 -> 748,01; RC 2 176 + 3 % x (40 000,50 - 25 246) = 2 176 + 442,635 -> 2 618,64;
    ASV 224 + 0,40 % x 40 000,50 = 384,002 -> 384,00; RID 1 022. Total 8 064,69."""
    view = simulations.simulate("2024", "40000.50", "40000.50")
    assert [line["amount"] for line in view["lines"]] == ["3292.04", "748.01", "2618.64", "384.00", "1022.00"]
    assert view["total"] == "8064.69"
    assert view["lines"][2]["base"] == "14754.50"  # the part of income inside the RC band


def test_first_year_of_activity_is_on_the_flat_base_pro_rated_by_quarters():
    """Activity from 10 Feb 2026 -> affiliation 1 Apr 2026 (next quarter), 3 quarters of 2026, year 1:
    base 19 % x 48 060 x 3/4 = 6 848,55. T1 8,73 % = 597,878415 -> 597,88; T2 1,87 % = 128,067885 -> 128,07;
    RC floor 0,5 PASS = 24 030 x 8,70 % = 2 090,61; RID 1 022. Total 3 838,56 (income ignored: provisional)."""
    view = simulations.simulate(2026, "40000", None, "2026-02-10")
    assert view["base"] == "6848.55"
    assert [line["amount"] for line in view["lines"]] == ["597.88", "128.07", "2090.61", "1022.00"]
    assert view["total"] == "3838.56"


def test_second_year_of_activity_is_29_percent_of_pass():
    """Activity from 10 Feb 2025 -> affiliated 1 Apr 2025; 2026 is year 2, full year: 29 % x 48 060 = 13 937,40.
    T1 1 216,73502 -> 1 216,74; T2 139,374 + 121,25538 = 260,62938 -> 260,63; RC floor 2 090,61; RID 1 022.
    Total 4 589,98."""
    view = simulations.simulate(2026, "40000", None, "2025-02-10")
    assert view["base"] == "13937.40"
    assert view["total"] == "4589.98"


def test_activity_started_in_the_last_quarter_gives_a_full_first_year():
    """20 Nov 2025 -> affiliated 1 Jan 2026: 2026 is year 1 with 4 quarters: 9 131,40.
    T1 797,17122 -> 797,17; T2 170,75718 -> 170,76; RC 2 090,61; RID 1 022. Total 4 080,54."""
    view = simulations.simulate(2026, "40000", None, "2025-11-20")
    assert view["base"] == "9131.40"
    assert view["total"] == "4080.54"


def test_one_quarter_flat_base_is_raised_to_the_minimum_base_which_is_never_pro_rated():
    """1 Aug 2026 -> affiliated 1 Oct 2026, 1 quarter: 9 131,40 / 4 = 2 282,85 < 5 346 (450 x 11,88):
    RB on 5 346: 466,7058 -> 466,71 and 99,9702 -> 99,97; RC 2 090,61; RID 1 022. Total 3 679,29."""
    view = simulations.simulate(2026, "40000", None, "2026-08-01")
    assert view["base"] == "2282.85"
    assert [line["base"] for line in view["lines"][:2]] == ["5346.00", "5346.00"]
    assert view["total"] == "3679.29"


def test_third_year_of_activity_is_on_income():
    view = simulations.simulate(2026, "40000", "40000", "2024-05-01")
    assert view["total"] == "9126.00"


def test_a_year_before_affiliation_is_refused_with_the_field_named():
    with pytest.raises(InvalidRequest) as caught:
        simulations.simulate(2026, "40000", None, "2026-12-01")
    assert list(caught.value.fields) == ["activity_start"]
    assert "2027-01-01" in caught.value.fields["activity_start"][0]


@pytest.mark.parametrize("args, field, text", [
    (("2019", "40000"), "year", "no contribution rules for 2019"),
    (("20x6", "40000"), "year", "must be an integer"),
    ((None, "40000"), "year", "required"),
    (("2026", None), "income", "required"),
    (("2026", "-1"), "income", "must not be negative"),
    (("2026", "abc"), "income", "not a decimal amount"),
    (("2026", "1.234"), "income", "at most two decimal places"),
    (("2026", "NaN"), "income", "not a decimal amount"),
    (("2026", "40000", "50000"), "conventioned_income", "cannot exceed"),
    (("2026", "40000", None, "15/03/2026"), "activity_start", "not a date"),
])
def test_bad_inputs_name_the_field(args, field, text):
    with pytest.raises(InvalidRequest) as caught:
        simulations.simulate(*args)
    assert text in caught.value.fields[field][0]


def test_cli_reports_every_bad_option_and_exits_2():
    code, out, err = run_cli("2019", "abc", None, None, as_json=True)
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "carpimko simulate: --year: no contribution rules for 2019 (known years: 2024, 2025, 2026)",
        "carpimko simulate: --income: not a decimal amount",
    ]


def test_cli_main_entry_point(capsys):
    from ops import cli
    assert cli.main(["simulate", "--year", "2026", "--income", "40000", "--conventioned-income", "40000",
                     "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == "9126.00"


def test_cli_text_output_lists_every_line_and_the_total():
    code, out, _ = run_cli("2026", "40000", None, None)
    assert code == 0
    assert "base_t1" in out and "invalidity_death" in out
    assert out.strip().splitlines()[-1].split()[-1] == "8742.00"


def test_explained_view_carries_the_figures_used():
    view = simulations.simulate_explained(2026, "40000", None, "2026-02-10")
    x = view["explanation"]
    assert (x["basis"], x["activity_year"], x["quarters"], x["affiliation_start"], x["flat_percent"]) == \
        ("flat_start", 1, 3, "2026-04-01", "19")
    assert x["monthly"] == "319.88"  # 3 838,56 / 12 = 319,88
    assert x["pass"] == "48060.00"


def test_domain_simulate_requires_an_income():
    with pytest.raises(calculation.InvalidDeclaration):
        simulation.simulate(parameters.load_parameters(2026), None)
