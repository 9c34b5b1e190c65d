"""Property tests (hypothesis): never negative, monotonic in income, bounded by the ceilings, instalments summing
to the total to the cent."""
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.contributions.domain import calculation, cycle, schedule
from services.contributions.domain.parameters import available_years, load_parameters

D = Decimal
years = st.sampled_from(available_years())
incomes = st.decimals(min_value=0, max_value=2_000_000, places=2, allow_nan=False, allow_infinity=False)
PROPERTY = settings(max_examples=300, deadline=None)


def upper_bound(p, conventionne):
    """The most a year can cost: every ceiling reached (computed on 5 PASS, i.e. above every ceiling)."""
    return calculation.assess(p, p.no_income_base * 10, p.no_income_base * 10 if conventionne else None,
                              conventionne)


@PROPERTY
@given(years, incomes, st.booleans())
def test_amounts_never_negative_and_total_is_the_sum(year, income, conventionne):
    a = calculation.assess(load_parameters(year), income, None, conventionne)
    assert all(line.amount >= 0 and line.base >= 0 for line in a.lines)
    assert a.total == sum(line.amount for line in a.lines)
    assert all(line.amount == line.amount.quantize(D("0.01")) for line in a.lines)


@PROPERTY
@given(years, incomes, incomes, st.booleans())
def test_monotonic_in_income(year, x, y, conventionne):
    low, high = sorted((x, y))
    p = load_parameters(year)
    a, b = calculation.assess(p, low, None, conventionne), calculation.assess(p, high, None, conventionne)
    assert a.total <= b.total
    for la, lb in zip(a.lines, b.lines):
        assert la.scheme == lb.scheme and la.amount <= lb.amount


@PROPERTY
@given(years, incomes, st.booleans())
def test_bounded_by_the_ceilings(year, income, conventionne):
    p = load_parameters(year)
    a = calculation.assess(p, income, None, conventionne)
    top = upper_bound(p, conventionne)
    if income <= p.no_income_base * 10:
        assert a.total <= top.total
    for line in a.lines:
        if line.scheme == "asv":
            continue  # the ASV has no ceiling (its proportional part follows conventioned income)
        assert line.amount <= top.line(line.scheme).amount
    t1 = a.line("rb_t1")
    assert t1.base <= p.base_scheme.t1_ceiling_pass.value * p.pass_value


@PROPERTY
@given(st.decimals(min_value=0, max_value=1_000_000, places=2), st.sampled_from(sorted(schedule.FREQUENCIES)))
def test_instalments_sum_to_the_total_to_the_cent(total, frequency):
    s = schedule.build_schedule(2026, frequency, total)
    assert s.scheduled == total
    amounts = [i.amount for i in s.instalments]
    assert max(amounts) - min(amounts) <= D("0.01")
    assert all(a >= 0 for a in amounts)


@PROPERTY
@given(st.decimals(min_value=0, max_value=200_000, places=2), st.decimals(min_value=0, max_value=200_000, places=2),
       st.integers(min_value=0, max_value=364), st.sampled_from(sorted(schedule.FREQUENCIES)),
       st.sampled_from(sorted(schedule.FREQUENCIES)))
def test_respread_keeps_past_and_sums_to_the_new_total(first, second, offset, frequency, new_frequency):
    s = schedule.build_schedule(2026, frequency, first)
    as_of = date(2026, 1, 1) + timedelta(days=offset)
    r = schedule.respread(s, second, as_of, new_frequency)
    past = [i for i in s.instalments if i.due_date < as_of]
    assert list(r.instalments[:len(past)]) == past
    assert r.scheduled - r.credit == second
    assert all(i.amount >= 0 for i in r.instalments)
    assert all(i.due_date >= as_of for i in r.instalments[len(past):])


@PROPERTY
@given(years, st.dates(min_value=date(2020, 1, 1), max_value=date(2026, 12, 31)), st.booleans())
def test_start_of_activity_never_costs_more_than_the_second_year(year, start, conventionne):
    p = load_parameters(year)
    affiliation = cycle.affiliation_start(start)
    if affiliation.year != year:
        return
    first = cycle.yearly_call(p, "provisional", {}, conventionne, activity_start=start)
    second_start = date(start.year - 1, start.month, min(start.day, 28))
    second = cycle.yearly_call(p, "provisional", {}, conventionne, activity_start=second_start)
    assert first.activity_year == 1 and second.activity_year == 2
    assert first.total <= second.total
