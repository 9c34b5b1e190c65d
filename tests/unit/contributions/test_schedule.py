"""Payment schedules, late-payment surcharge, balance and the "up to date" status (domain.md §3.3)."""
from datetime import date
from decimal import Decimal

import pytest

from services.contributions.domain import schedule
from services.contributions.domain.parameters import load_parameters

D = Decimal


def test_split_gives_leftover_cents_to_the_first_instalments():
    assert schedule.split(D("1000.00"), 12) == [D("83.34")] * 4 + [D("83.33")] * 8
    assert schedule.split(D("9126.00"), 12) == [D("760.50")] * 12
    assert schedule.split(D("0.05"), 12) == [D("0.01")] * 5 + [D("0.00")] * 7
    with pytest.raises(ValueError):
        schedule.split(D("1"), 0)


@pytest.mark.parametrize("frequency, dates", [
    ("monthly", [date(2026, m, 5) for m in range(1, 13)]),
    ("quarterly", [date(2026, 2, 5), date(2026, 5, 5), date(2026, 8, 5), date(2026, 11, 5)]),
    ("half_yearly", [date(2026, 5, 5), date(2026, 11, 5)]),
])
def test_frequencies_and_due_dates(frequency, dates):
    s = schedule.build_schedule(2026, frequency, D("9126.00"))
    assert [i.due_date for i in s.instalments] == dates
    assert [i.number for i in s.instalments] == list(range(1, len(dates) + 1))
    assert s.scheduled == D("9126.00")


def test_unknown_frequency():
    with pytest.raises(ValueError, match="unknown frequency 'weekly'"):
        schedule.build_schedule(2026, "weekly", D("1"))


def test_regularisation_is_spread_over_the_instalments_left():
    """Provisional 6 812,00 monthly: 681 200 cents / 12 = 56 766 r 8 -> 8 x 567,67 then 4 x 567,66.
    Regularised to 8 742,00 on 1 July: January-June kept (6 x 567,67 = 3 406,02); 5 335,98 left over
    July-December: 889,33 each."""
    s = schedule.build_schedule(2026, "monthly", D("6812.00"))
    r = schedule.respread(s, D("8742.00"), date(2026, 7, 1))
    assert r.instalments[:6] == s.instalments[:6]
    assert [i.amount for i in r.instalments[6:]] == [D("889.33")] * 6
    assert r.scheduled == D("8742.00") and r.credit == D("0.00")


def test_changing_the_schedule_recomputes_future_instalments_only():
    """Same as above but switching to quarterly on 1 July: future quarterly dates 5 Aug and 5 Nov: 2 667,99 each."""
    s = schedule.build_schedule(2026, "monthly", D("6812.00"))
    r = schedule.respread(s, D("8742.00"), date(2026, 7, 1), frequency="quarterly")
    assert r.frequency == "quarterly"
    assert r.instalments[:6] == s.instalments[:6]
    assert [(i.number, i.due_date, i.amount) for i in r.instalments[6:]] == [
        (7, date(2026, 8, 5), D("2667.99")), (8, date(2026, 11, 5), D("2667.99"))]


def test_lower_total_than_already_called_gives_a_credit():
    s = schedule.build_schedule(2026, "monthly", D("12000.00"))
    r = schedule.respread(s, D("5000.00"), date(2026, 7, 1))  # 6 x 1 000 kept
    assert [i.amount for i in r.instalments[6:]] == [D("0.00")] * 6
    assert r.credit == D("1000.00")


def test_regularisation_after_the_last_due_date_is_one_instalment_on_the_day():
    s = schedule.build_schedule(2026, "half_yearly", D("2000.00"))
    r = schedule.respread(s, D("2500.00"), date(2026, 12, 1))
    assert [(i.due_date, i.amount) for i in r.instalments] == [
        (date(2026, 5, 5), D("1000.00")), (date(2026, 11, 5), D("1000.00")), (date(2026, 12, 1), D("500.00"))]


@pytest.mark.parametrize("due, day, months", [
    (date(2026, 1, 5), date(2026, 1, 5), 0),
    (date(2026, 1, 5), date(2026, 1, 6), 1),
    (date(2026, 1, 5), date(2026, 2, 5), 1),
    (date(2026, 1, 5), date(2026, 2, 6), 2),
    (date(2026, 1, 5), date(2026, 3, 20), 3),
    (date(2025, 11, 5), date(2026, 1, 4), 2),
])
def test_started_months_late(due, day, months):
    assert schedule.months_late(due, day) == months


def test_late_payment_surcharge():
    """760,50 due 5 Jan, considered 20 Mar: 3 started months: 5 % + 3 x 0,2 % = 5,6 % -> 42,588 -> 42,59.
    With a formal notice on 1 Mar (within 30 days): 5 % + 3 x 0,1 % = 5,3 % -> 40,3065 -> 40,31."""
    p = load_parameters(2026)
    assert schedule.late_surcharge(p, D("760.50"), date(2026, 1, 5), date(2026, 3, 20)) == D("42.59")
    assert schedule.late_surcharge(p, D("760.50"), date(2026, 1, 5), date(2026, 3, 20),
                                   notice_date=date(2026, 3, 1)) == D("40.31")
    assert schedule.late_surcharge(p, D("760.50"), date(2026, 1, 5), date(2026, 1, 5)) == D("0.00")


def test_account_status_with_arrears():
    """9 126 monthly (760,50), one payment, on 20 Mar: due Jan+Feb+Mar = 2 281,50, paid 760,50, balance 1 521.
    February is 2 started months late: 5,4 % x 760,50 = 41,067 -> 41,07; March 1 month: 5,2 % -> 39,546 -> 39,55."""
    p = load_parameters(2026)
    s = schedule.build_schedule(2026, "monthly", D("9126.00"))
    st = schedule.account_status(p, s, [D("760.50")], date(2026, 3, 20))
    assert (st.due_to_date, st.paid, st.balance, st.arrears) == (D("2281.50"), D("760.50"), D("1521.00"),
                                                                 D("1521.00"))
    assert [(l.number, l.months_late, l.surcharge) for l in st.late] == [(2, 2, D("41.07")), (3, 1, D("39.55"))]
    assert st.surcharge == D("80.62") and st.to_pay_now == D("1601.62")
    assert not st.up_to_date and st.reason == "arrears"
    assert st.remaining == D("8365.50")


def test_account_status_up_to_date_and_formal_notice():
    p = load_parameters(2026)
    s = schedule.build_schedule(2026, "monthly", D("9126.00"))
    ok = schedule.account_status(p, s, [D("760.50")] * 3, date(2026, 3, 20))
    assert ok.up_to_date and ok.reason == "up_to_date" and ok.balance == D("0.00") and ok.to_pay_now == 0
    early = schedule.account_status(p, s, [], date(2026, 1, 2))
    assert early.up_to_date and early.reason == "nothing_due_yet"
    due_today = schedule.account_status(p, s, [], date(2026, 1, 5))
    assert due_today.up_to_date and due_today.balance == D("760.50")  # due today is not late yet
    notice = schedule.account_status(p, s, [D("760.50")], date(2026, 3, 20), notice_date=date(2026, 3, 1))
    assert not notice.up_to_date and notice.reason == "formal_notice"
    ahead = schedule.account_status(p, s, [D("2000")], date(2026, 1, 20))
    assert ahead.balance == D("-1239.50") and ahead.up_to_date
