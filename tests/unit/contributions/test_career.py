"""Career rules: golden values derived by hand from docs/domain.md §4 (quarters, points, the age table on both
sides of each boundary, the full-rate date and the estimate), and the rule files' validation."""
from datetime import date
from decimal import Decimal as D

import pytest

from services.contributions.domain.career import parameters, retirement, rights
from services.contributions.domain.career.rights import Credit, YearRights


# -- a year's quarters and points ----------------------------------------------------------------------------------

@pytest.mark.parametrize("year, income, quarters, rb, rc", [
    # 2026: quarter = 150 x 11.88 = 1 782; RB = 525 x min(I, 48 060)/48 060 + 25 x min(I, 240 300)/240 300
    (2026, "40000", 4, "441.12", "6.10"),      # 436.95 + 4.16; RC 8.70 % x 40 000 = 3 480 / 570.17
    (2026, "48060", 4, "530.00", "7.33"),      # 1 PASS: 525 + 5
    (2026, "240300", 4, "550.00", "22.00"),    # 5 PASS: 525 + 25; RC capped at 22
    (2026, "5346", 3, "58.96", "3.67"),        # minimum base: 3 quarters; RC floor 0.5 PASS -> 2 090.61 / 570.17
    (2026, "0", 3, "58.96", "3.67"),           # no income: still the minimum base
    (2026, "7128", 4, "78.61", "3.67"),        # 4 x 1 782 = 7 128: 4 quarters; 77.87 + 0.74
    (2026, "7127.99", 3, "78.61", "3.67"),     # a cent below: 3
    # 2024: quarter = 150 x 11.65 = 1 747.50; RC = 8 + 3 % x (I - 25 246) / 205, at most 22
    (2024, "40000", 4, "457.21", "10.16"),     # 452.89 + 4.31; 8 + 442.62/205
    (2024, "6990", 4, "79.90", "8.00"),        # 4 x 1 747.50; 79.14 + 0.75
    (2024, "6989.99", 3, "79.90", "8.00"),
    (2024, "25246", 4, "288.57", "8.00"),      # 285.85 + 2.72; RC band floor: fixed points only
    (2024, "200000", 4, "546.57", "22.00"),    # RC 8 + 4 796.01/205 = 31.40 -> 22
    # 2025: PASS 47 100, SMIC 11.88 (quarter 1 782)
    (2025, "46000", 4, "517.62", "11.04"),     # 512.74 + 4.88; 8 + 3 % x 20 754 / 205 = 8 + 3.04
])
def test_year_points_and_quarters(year, income, quarters, rb, rc):
    result = rights.year_rights(year, D(income))
    assert (result.quarters, result.rb_points, result.rc_points) == (quarters, D(rb), D(rc))
    assert result.asv_points == 0  # not conventionné


def test_asv_points_for_a_conventionne():
    # (224 member + 447 health insurance + 0.40 % x 40 000) / 8.39 = 831 / 8.39
    result = rights.year_rights(2026, D("40000"), conventionne=True, conventioned_income=D("40000"))
    assert result.asv_points == D("99.05")


def test_no_income_declared_is_five_pass_as_called():
    result = rights.year_rights(2026, None)
    assert result.income == D("240300") and result.rb_points == D("550.00") and result.quarters == 4


def test_maternity_adds_100_points_on_top():
    birth = Credit("maternity", 2026, childbirth_date=date(2026, 3, 14))
    assert rights.year_rights(2026, D("40000"), credits=(birth,)).rb_points == D("541.12")


def test_incapacity_keeps_four_quarters_400_and_8_points():
    sick = Credit("incapacity", 2026, months=6)
    result = rights.year_rights(2026, None, assessed=False, credits=(sick,))
    assert (result.quarters, result.rb_points, result.rc_points) == (4, D("400.00"), D("8.00"))
    # an income that earned more keeps it; maternity comes on top of the floor
    birth = Credit("maternity", 2026, childbirth_date=date(2026, 9, 1))
    both = rights.year_rights(2026, D("0"), credits=(birth, sick))
    assert (both.quarters, both.rb_points) == (4, D("500.00"))
    assert rights.year_rights(2026, D("48060"), credits=(sick,)).rb_points == D("530.00")


def test_a_break_year_has_nothing():
    result = rights.year_rights(2026, D("40000"), assessed=False)
    assert (result.quarters, result.rb_points, result.rc_points, result.asv_points) == (0, 0, 0, 0)


@pytest.mark.parametrize("credit, message", [
    (Credit("incapacity", 2026, months=5), "at least 6"),
    (Credit("incapacity", 2026, months=13), "from 1 to 12"),
    (Credit("maternity", 2026, childbirth_date=date(2025, 12, 31)), "in its year"),
    (Credit("sabbatical", 2026), "kind"),
])
def test_invalid_credits(credit, message):
    with pytest.raises(rights.InvalidCredit, match=message):
        rights.validate_credit(credit)


# -- legal age and quarters needed: both sides of every boundary ---------------------------------------------------

@pytest.mark.parametrize("born, age, quarters, legal_date, start", [
    ("1955-01-01", (62, 0), 166, "2017-01-01", "2017-02-01"),
    ("1957-12-31", (62, 0), 166, "2019-12-31", "2020-01-01"),
    ("1958-01-01", (62, 0), 167, "2020-01-01", "2020-02-01"),
    ("1960-12-31", (62, 0), 167, "2022-12-31", "2023-01-01"),
    ("1961-01-01", (62, 0), 168, "2023-01-01", "2023-02-01"),
    ("1961-08-31", (62, 0), 168, "2023-08-31", "2023-09-01"),
    ("1961-09-01", (62, 3), 169, "2023-12-01", "2024-01-01"),
    ("1961-12-31", (62, 3), 169, "2024-03-31", "2024-04-01"),
    ("1962-01-01", (62, 6), 169, "2024-07-01", "2024-08-01"),
    ("1962-08-31", (62, 6), 169, "2025-02-28", "2025-03-01"),   # no 31 February
    ("1962-12-31", (62, 6), 169, "2025-06-30", "2025-07-01"),
    ("1963-01-01", (62, 9), 170, "2025-10-01", "2025-11-01"),
    ("1964-12-31", (62, 9), 170, "2027-09-30", "2027-10-01"),
    ("1965-01-01", (62, 9), 170, "2027-10-01", "2027-11-01"),
    ("1965-03-31", (62, 9), 170, "2027-12-31", "2028-01-01"),
    ("1965-04-01", (63, 0), 171, "2028-04-01", "2028-05-01"),
    ("1965-12-31", (63, 0), 171, "2028-12-31", "2029-01-01"),
    ("1966-01-01", (63, 3), 172, "2029-04-01", "2029-05-01"),
    ("1966-12-31", (63, 3), 172, "2030-03-31", "2030-04-01"),
    ("1967-01-01", (63, 6), 172, "2030-07-01", "2030-08-01"),
    ("1967-12-31", (63, 6), 172, "2031-06-30", "2031-07-01"),
    ("1968-01-01", (63, 9), 172, "2031-10-01", "2031-11-01"),
    ("1968-12-31", (63, 9), 172, "2032-09-30", "2032-10-01"),
    ("1969-01-01", (64, 0), 172, "2033-01-01", "2033-02-01"),
    ("1980-05-10", (64, 0), 172, "2044-05-10", "2044-06-01"),
])
def test_legal_age_table(born, age, quarters, legal_date, start):
    ent = retirement.entitlement(date.fromisoformat(born))
    assert (ent.legal_age_years, ent.legal_age_months) == age
    assert ent.quarters_needed == quarters
    assert ent.legal_age_date == date.fromisoformat(legal_date)
    assert ent.legal_start == date.fromisoformat(start)


def test_automatic_full_rate_at_67_and_the_1965_cut_is_an_assumption():
    ent = retirement.entitlement(date(1965, 4, 1))
    assert ent.automatic_full_rate_date == date(2032, 4, 1) and ent.automatic_start == date(2032, 5, 1)
    assert ent.source == "A"
    assert retirement.entitlement(date(1966, 1, 1)).source == "S"


def test_birth_before_the_table_is_refused():
    with pytest.raises(ValueError, match="before 1955-01-01"):
        retirement.entitlement(date(1954, 12, 31))


# -- full-rate date and estimate -------------------------------------------------------------------------------------

def _record(first, last, quarters=4, rb="500", rc="20"):
    return tuple(YearRights(y, D("40000"), quarters, D(rb), D(rc), D(0), quarters, D(rb), D(rc))
                 for y in range(first, last + 1))


def test_estimate_golden_values():
    """Born 1 January 1969: legal start 2033-02-01, 172 quarters, 67 on 2036-01-01 (start 2036-02-01).
    Record 1991-2030: 160 quarters, 500 RB and 20 RC points a year; then 40 000 a year on 2026 rules
    (4 quarters, 441.12 RB, 6.10 RC). 168 quarters at the end of 2032, then one per calendar quarter: 172 on
    2034-01-01, the full-rate date."""
    projection = retirement.project(_record(1991, 2030), date(1969, 1, 1), date(2026, 11, 28),
                                    retirement.Scenario(future_income=D("40000")))
    assert projection.full_rate_date == date(2034, 1, 1)
    legal = projection.estimate("legal")
    # 168 quarters: 4 missing, 5 % off the base pension
    assert (legal.quarters, legal.missing_quarters, legal.reduction_percent) == (168, 4, D("5.00"))
    # RB points: 20 000 + 2 x 441.12 + 441.12 x 1/12 = 20 919.00; x 0.660 x 0.95 / 12 = 1 093.02
    assert legal.rb_points == D("20919.00") and legal.rb_monthly == D("1093.02")
    # RC points: 800 + 12.20 + 6.10/12 = 812.71; x 21.62 / 12 = 1 464.23
    assert legal.rc_monthly == D("1464.23") and legal.monthly == D("2557.25")
    full = projection.estimate("full_rate")
    # 21 323.36 x 0.660 / 12 = 1 172.78; (800 + 18.30) x 21.62 / 12 = 1 474.30
    assert (full.start, full.quarters, full.missing_quarters) == (date(2034, 1, 1), 172, 0)
    assert (full.rb_monthly, full.rc_monthly, full.monthly) == (D("1172.78"), D("1474.30"), D("2647.08"))
    assert projection.estimate("automatic").start == date(2036, 2, 1)


def test_years_only_called_are_projected_on_the_assumed_income_with_their_credits():
    """2025 and 2026 known only by a provisional call (2025 on 5 PASS, no income declared for 2023; 2026 on
    2025's income): projected like the years to come, on the last declared income (40 000), each on its own
    year's rules, 2026 keeping its incapacity credit. Never on the called income."""
    record = _record(1991, 2024)  # 136 quarters, 17 000 RB and 680 RC points
    called = (rights.year_rights(2025, D("240300")), rights.year_rights(2026, D("46000")))
    incapacity = Credit("incapacity", 2026, months=8)
    projection = retirement.project(record + called, date(1969, 1, 1), date(2026, 11, 28),
                                    pending={2025: (), 2026: (incapacity,)}, default_income=D("40000"))
    by_year = {y.year: y for y in projection.years}
    assert len(projection.years) == len(by_year)  # each called year once, projected
    assert projection.projected_from == 2025 and projection.future_income == D("40000")
    # 2025 rules: 525 x 40 000/47 100 + 25 x 40 000/235 500 = 445.86 + 4.25; RC 8 + 3 % x 14 754/205 = 10.16
    assert (by_year[2025].income, by_year[2025].rb_points, by_year[2025].rc_points) == (
        D("40000"), D("450.11"), D("10.16"))
    # 2026 rules: 441.12 RB (more than the 400 of the incapacity), RC raised to its 8 points (6.10 below)
    assert (by_year[2026].quarters, by_year[2026].rb_points, by_year[2026].rc_points) == (4, D("441.12"), D("8.00"))
    legal = projection.estimate("legal")
    # 42 years x 4 = 168 quarters on 2033-02-01; RB 17 000 + 450.11 + 7 x 441.12 + 441.12/12 = 20 574.71
    assert (legal.quarters, legal.rb_points) == (168, D("20574.71"))
    # a higher assumed income raises the called years too
    what_if = retirement.project(record + called, date(1969, 1, 1), date(2026, 11, 28),
                                 retirement.Scenario(future_income=D("60000")),
                                 pending={2025: (), 2026: (incapacity,)}, default_income=D("40000"))
    assert {y.year: y for y in what_if.years}[2025].income == D("60000")
    assert what_if.estimate("legal").monthly > legal.monthly


def test_missing_quarters_never_more_than_the_quarters_left_to_67():
    """Record 1995-2032 (152 quarters), then no income: at the legal start 2033-02-01, 20 quarters are missing
    but 67 is 12 quarters away: 12 x 1.25 = 15 %. Never the full rate before 67."""
    projection = retirement.project(_record(1995, 2032), date(1969, 1, 1), date(2026, 11, 28),
                                    retirement.Scenario(break_from=2033, break_to=2040))
    legal = projection.estimate("legal")
    assert (legal.quarters, legal.missing_quarters, legal.reduction_percent) == (152, 12, D("15.00"))
    # 19 000 x 0.660 x 0.85 / 12 = 888.25; 760 x 21.62 / 12 = 1 369.27
    assert (legal.rb_monthly, legal.rc_monthly) == (D("888.25"), D("1369.27"))
    assert projection.full_rate_date == date(2036, 2, 1)
    assert projection.estimate("automatic").rb_monthly == D("1045.00")  # no reduction at 67


def test_what_if_maternity_and_chosen_date_and_the_explanation():
    record = _record(1995, 2032)
    today = date(2026, 11, 28)
    current = retirement.project(record, date(1980, 5, 10), today)
    what_if = retirement.project(record, date(1980, 5, 10), today,
                                 retirement.Scenario(maternity_date=date(2033, 6, 1),
                                                     retirement_date=date(2045, 1, 1)))
    # the record ends in 2032: 2033 onward on the last income (40 000) -> +100 points in 2033
    assert what_if.years[38].year == 2033 and what_if.years[38].rb_points - current.years[38].rb_points == 100
    changes = retirement.compare(current, what_if)
    assert {"code": "rb_points", "label": "legal", "current": current.estimate("legal").rb_points,
            "what_if": what_if.estimate("legal").rb_points, "difference": D("100.00")} in changes
    assert what_if.estimate("chosen").start == date(2045, 1, 1)
    with pytest.raises(ValueError, match="cannot start before"):
        retirement.project(record, date(1980, 5, 10), today, retirement.Scenario(retirement_date=date(2044, 1, 1)))


# -- the rule files ------------------------------------------------------------------------------------------------

def test_every_contribution_year_has_career_rules_and_figures_are_tagged():
    from services.contributions.domain.parameters import available_years
    assert set(available_years()) <= set(parameters.career_years())
    for year in parameters.career_years():
        figures = parameters.load_career_parameters(year).figures()
        assert figures and all(f.source in ("S", "D", "A") for f in figures.values())


def test_overlapping_cohorts_are_refused(tmp_path):
    (tmp_path / "retirement.toml").write_text(
        (parameters.CAREER_DIRECTORY / "retirement.toml").read_text().replace(
            'born_from = "1958-01-01"', 'born_from = "1957-06-01"'))
    with pytest.raises(parameters.ParameterFileError, match="overlaps"):
        parameters.load_retirement_rules(tmp_path)


# -- what-if input (service layer) -------------------------------------------------------------------------------

def test_what_if_input_is_validated_all_at_once():
    from carpimko.errors import InvalidRequest
    from services.contributions import career
    today = date(2026, 11, 28)
    assert career.parse_what_if({"future_income": "", "break_from": None}, today) is None
    scenario = career.parse_what_if({"future_income": "35000.50", "break_from": "2027", "break_to": "2028",
                                     "maternity_date": "2027-05-02", "retirement_date": "2045-07-01"}, today)
    assert (scenario.future_income, scenario.break_from, scenario.break_to) == (D("35000.50"), 2027, 2028)
    with pytest.raises(InvalidRequest) as bad:
        career.parse_what_if({"future_income": "1.234", "break_from": "2027", "maternity_date": "2020-01-01",
                              "retirement_date": "9999-01-01", "colour": "red"}, today)
    assert set(bad.value.fields) == {"future_income", "break_to", "maternity_date", "retirement_date", "colour"}
    with pytest.raises(InvalidRequest) as bad:
        career.parse_what_if({"break_from": "2030", "break_to": "2028", "future_income": "abc"}, today)
    assert bad.value.fields == {"break_to": ["must not be before the first year of the break"],
                                "future_income": ["not a decimal amount"]}
