"""Property tests (hypothesis) of the career rules: more income never lowers quarters, points or the estimate;
quarters stay within 0..4; the full-rate date never comes later with more income."""
from datetime import date
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.contributions.domain.career import parameters, retirement, rights
from services.contributions.domain.career.rights import YearRights

years = st.sampled_from(parameters.career_years())
incomes = st.decimals(min_value=0, max_value=1_500_000, places=2, allow_nan=False, allow_infinity=False)
births = st.dates(min_value=date(1962, 1, 1), max_value=date(1995, 12, 31))
PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(years, incomes, incomes, st.booleans())
def test_more_income_never_lowers_a_years_rights(year, a, b, conventionne):
    low, high = sorted((a, b))
    r_low = rights.year_rights(year, low, conventionne=conventionne)
    r_high = rights.year_rights(year, high, conventionne=conventionne)
    assert 0 <= r_low.quarters <= r_high.quarters <= 4
    assert r_low.rb_points <= r_high.rb_points <= Decimal(550)
    assert r_low.rc_points <= r_high.rc_points <= Decimal(22)
    assert r_low.asv_points <= r_high.asv_points


def _record(income: Decimal) -> tuple:
    return tuple(rights.year_rights(y, income) for y in parameters.career_years())


@settings(max_examples=60, deadline=None)
@given(births, incomes, incomes)
def test_more_future_income_never_lowers_the_estimate(birth, a, b):
    low, high = sorted((a, b))
    assume(retirement.entitlement(birth).legal_start > date(2027, 1, 1))
    record = _record(Decimal("30000"))
    today = date(2026, 11, 28)
    p_low = retirement.project(record, birth, today, retirement.Scenario(future_income=low))
    p_high = retirement.project(record, birth, today, retirement.Scenario(future_income=high))
    assert p_high.full_rate_date <= p_low.full_rate_date
    for label in ("legal", "automatic"):  # estimates at the same dates
        e_low, e_high = p_low.estimate(label), p_high.estimate(label)
        assert e_low.start == e_high.start
        assert e_low.quarters <= e_high.quarters
        assert e_low.monthly <= e_high.monthly


@settings(max_examples=60, deadline=None)
@given(births, incomes, incomes)
def test_more_past_income_never_lowers_the_estimate(birth, a, b):
    low, high = sorted((a, b))
    today = date(2026, 11, 28)
    scenario = retirement.Scenario(future_income=Decimal("30000"))
    p_low = retirement.project(_record(low), birth, today, scenario)
    p_high = retirement.project(_record(high), birth, today, scenario)
    for label in ("legal", "automatic"):
        assert p_low.estimate(label).monthly <= p_high.estimate(label).monthly


@settings(max_examples=60, deadline=None)
@given(births, st.integers(min_value=0, max_value=25))
def test_a_later_start_never_pays_less(birth, months):
    record = tuple(YearRights(y, None, 4, Decimal(500), Decimal(10), Decimal(0), 4, Decimal(500), Decimal(10))
                   for y in range(1990, 2027))
    p = retirement.project(record, birth, date(2026, 11, 28), retirement.Scenario(future_income=Decimal("40000")))
    ent = p.entitlement
    first = retirement.add_months(ent.legal_start, months)
    later = retirement.add_months(first, 1)
    a = retirement.estimate_at(ent, p.years, first, "chosen")
    b = retirement.estimate_at(ent, p.years, later, "chosen")
    assert a.monthly <= b.monthly


@settings(max_examples=60, deadline=None)
@given(births, incomes, incomes, incomes)
def test_more_future_income_never_lowers_the_estimate_with_years_only_called(birth, a, b, called):
    """The years only called (2025, 2026) are projected on the assumed income: more of it never lowers."""
    low, high = sorted((a, b))
    assume(retirement.entitlement(birth).legal_start > date(2027, 1, 1))
    record = tuple(rights.year_rights(y, Decimal("30000")) for y in parameters.career_years() if y < 2025)
    record += tuple(rights.year_rights(y, called) for y in (2025, 2026))
    today = date(2026, 11, 28)
    pending = {2025: (), 2026: ()}
    p_low = retirement.project(record, birth, today, retirement.Scenario(future_income=low), pending=pending)
    p_high = retirement.project(record, birth, today, retirement.Scenario(future_income=high), pending=pending)
    assert p_high.full_rate_date <= p_low.full_rate_date
    for label in ("legal", "automatic"):
        assert p_low.estimate(label).quarters <= p_high.estimate(label).quarters
        assert p_low.estimate(label).monthly <= p_high.estimate(label).monthly
