"""The yearly cycle stored as calls (services/contributions/calls.py, estimates.py, campaigns.py) on a real
database: golden figures derived by hand from domain.md §3, and the events each call stages in the outbox.

Figures of 2026 (PASS 48 060; T1 8,73 % up to 1 PASS; T2 1,87 % up to 5 PASS; RC 8,70 % between 0,5 and 3 PASS,
i.e. floor base 24 030 -> 2 090,61; RID 1 022; member 7654321 not conventionné, no ASV):

- income 30 000: T1 2 619,00; T2 561,00; RC 2 610,00; RID 1 022 -> 6 812,00
- income 40 000: T1 3 492,00; T2 748,00; RC 3 480,00; RID 1 022 -> 8 742,00
- income 50 000: T1 8,73 % x 48 060 = 4 195,638 -> 4 195,64; T2 935,00; RC 4 350,00; RID 1 022 -> 10 502,64
- nothing declared: 5 PASS = 240 300: T1 4 195,64; T2 4 493,61; RC 3 PASS 144 180 -> 12 543,66; RID -> 22 254,91
"""
from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from carpimko.db import Database
from carpimko.errors import Conflict, InvalidRequest
from carpimko.events import parse_event
from services.contributions import calls, campaigns, declarations, estimates, overview
from services.contributions.models import (Assessment, Contributor, Declaration, Outbox, PaymentSchedule)

D = Decimal
MEMBER = "7654321"


@pytest.fixture
def db(databases):
    database = Database(databases.url("contributions"), pool_size=2)
    with database.transaction() as session:
        session.add(Contributor(file_number=MEMBER, profession="masseur-kinésithérapeute", conventionne=False,
                                affiliation_date=date(2010, 1, 1)))
    yield database
    database.dispose()


_clock = [datetime(2026, 1, 1, tzinfo=timezone.utc)]


def declare(db, year, income, as_of, conventioned=None, file_number=MEMBER):
    """A declaration as the handler gets it (income_declared), handled as of ``as_of``."""
    from tests.support import factories
    _clock[0] += timedelta(minutes=1)
    body = factories.income_declared(file_number, year=year, income=income, conventioned=conventioned)
    body["payload"]["declared_at"] = _clock[0].isoformat()
    event = parse_event(body)
    with db.transaction() as session:
        declarations.assess_declared_income(session, event, as_of=as_of)
    return event


def history(db, year, file_number=MEMBER):
    with db.transaction() as session:
        rows = session.scalars(select(Assessment).where(Assessment.file_number == file_number,
                                                        Assessment.year == year)
                               .order_by(Assessment.computed_at)).all()
        return [(a.status, a.basis, a.income_year, a.trigger, a.total, a.is_current,
                 {l.scheme: l.amount for l in a.lines}) for a in rows]


def events(db, etype="contributions_recalculated"):
    with db.transaction() as session:
        rows = session.scalars(select(Outbox).where(Outbox.event_type == etype).order_by(Outbox.id)).all()
        return [json.loads(r.body) for r in rows]


def instalments(db, year, file_number=MEMBER):
    with db.transaction() as session:
        row = session.scalar(select(PaymentSchedule).where(PaymentSchedule.file_number == file_number,
                                                           PaymentSchedule.year == year))
        return [(i.due_date, i.amount) for i in row.instalments]


def campaign(db, year, as_of):
    with db.transaction() as session:
        view = campaigns.start(session, year)
    outcomes = {}
    for file_number in view["pending"]:
        with db.transaction() as session:
            outcomes[file_number] = campaigns.call_member(session, view["campaign_id"], file_number, as_of)
    return outcomes


def test_a_member_across_2024_to_2026_provisional_adjusted_regularised(db):
    # 2024 and 2025 regularised on their own income (declared in 2025 and early 2026)
    declare(db, 2024, "30000.00", date(2025, 5, 20))
    # January 2026: the campaign calls 2026 provisionally on 2024 income
    assert campaign(db, 2026, date(2026, 1, 1)) == {MEMBER: "issued"}
    # June 2026: 2025 income declared -> 2025 regularised and 2026 adjusted on it
    declare(db, 2025, "40000.00", date(2026, 6, 1))
    # May 2027: 2026 regularised on its own income (no 2027 parameter file: no adjustment of 2027)
    declare(db, 2026, "50000.00", date(2027, 5, 15))

    assert history(db, 2026) == [
        ("provisional", "income", 2024, "campaign", D("6812.00"), False,
         {"rb_t1": D("2619.00"), "rb_t2": D("561.00"), "rc": D("2610.00"), "rid": D("1022.00")}),
        ("adjusted", "income", 2025, "declaration", D("8742.00"), False,
         {"rb_t1": D("3492.00"), "rb_t2": D("748.00"), "rc": D("3480.00"), "rid": D("1022.00")}),
        ("regularised", "income", 2026, "declaration", D("10502.64"), True,
         {"rb_t1": D("4195.64"), "rb_t2": D("935.00"), "rc": D("4350.00"), "rid": D("1022.00")}),
    ]
    # 2025 (2025's scale): adjusted in May 2025 on 2024 income 30 000: T1 8,23 % -> 2 469; T2 561; RC 2 312 +
    # 3 % x 4 754 = 2 454,62; RID -> 6 506,62; regularised on 40 000: T1 3 292; T2 748; RC 2 312 + 3 % x 14 754
    # = 2 754,62; RID -> 7 816,62
    assert [(s, t) for s, _, _, _, t, _, _ in history(db, 2025)] == [("adjusted", D("6506.62")),
                                                                      ("regularised", D("7816.62"))]

    # the schedule follows: 6 812 / 12 -> 8 x 567,67 + 4 x 567,66; from June the 5 paid-so-far (2 838,35) are
    # kept and 8 742 - 2 838,35 = 5 903,65 spread over June-December: 6 x 843,38 + 843,37; in May 2027 no
    # instalment of 2026 is left: 10 502,64 - 8 742,00 = 1 760,64 in one instalment due on the day.
    schedule = instalments(db, 2026)
    assert [a for _, a in schedule[:5]] == [D("567.67")] * 5
    assert [a for _, a in schedule[5:12]] == [D("843.38")] * 6 + [D("843.37")]
    assert schedule[12:] == [(date(2027, 5, 15), D("1760.64"))]
    assert sum(a for _, a in schedule) == D("10502.64")

    recalculated = [e for e in events(db) if e["payload"]["year"] == 2026]
    assert [e["payload"]["status"] for e in recalculated] == ["provisional", "adjusted", "regularised"]
    assert all(e["version"] == 3 for e in recalculated)
    provisional, adjusted, regularised = (e["payload"] for e in recalculated)
    # one decision, one message: the 2025 declaration regularised 2025 and adjusted 2026, and the adjusted
    # call is told in the regularisation's message; the other calls are told on their own
    regularised_2025 = [e["payload"] for e in events(db)
                        if (e["payload"]["year"], e["payload"]["status"]) == (2025, "regularised")]
    assert len(regularised_2025) == 1
    assert adjusted["announced_with"] == regularised_2025[0]["assessment_id"]
    assert regularised_2025[0]["also_announced"] == [
        {"assessment_id": adjusted["assessment_id"], "year": 2026, "status": "adjusted"}]
    assert [(p["announced_with"], p["also_announced"]) for p in (provisional, regularised)] == [(None, [])] * 2
    assert provisional["changes"] is None and provisional["declaration_id"] is None
    assert adjusted["changes"]["previous_status"] == "provisional"
    assert adjusted["changes"]["difference"] == "1930.00"
    assert {"code": "basis_changed", "previous": "income:2024", "current": "income:2025"} \
        in adjusted["changes"]["reasons"]
    assert regularised["changes"]["difference"] == "1760.64" and regularised["declaration_id"]


def test_the_overview_explains_what_changed_since_the_last_call(db):
    declare(db, 2024, "30000.00", date(2025, 5, 20))
    campaign(db, 2026, date(2026, 1, 1))
    declare(db, 2025, "40000.00", date(2026, 6, 1))
    with db.transaction() as session:
        year = next(y for y in overview.contributions(session, MEMBER) if y["year"] == 2026)
    assert (year["status"], year["basis"], year["income_year"], year["final"]) == ("adjusted", "income", 2025,
                                                                                  False)
    assert year["calls"] == 2 and year["previous_status"] == "provisional"
    assert year["changes"]["difference"] == "1930.00"
    assert {line["scheme"]: line["difference"] for line in year["changes"]["lines"]} == {
        "rb_t1": "873.00", "rb_t2": "187.00", "rc": "870.00"}


def test_declaring_a_year_already_regularised_next_year_does_not_adjust_it(db):
    declare(db, 2026, "50000.00", date(2026, 6, 1))
    declare(db, 2025, "40000.00", date(2026, 6, 2))
    assert [h[0] for h in history(db, 2026)] == ["regularised"]


def test_adjustment_only_in_the_current_year(db):
    declare(db, 2024, "30000.00", date(2026, 6, 1))  # 2025 is past: regularise 2024 only
    assert history(db, 2025) == []
    assert [h[0] for h in history(db, 2024)] == ["regularised"]


def test_no_declaration_provisional_on_5_pass(db):
    campaign(db, 2026, date(2026, 1, 1))
    [(status, basis, income_year, _, total, _, lines)] = history(db, 2026)
    assert (status, basis, income_year, total) == ("provisional", "no_income", 2024, D("22254.91"))
    assert lines == {"rb_t1": D("4195.64"), "rb_t2": D("4493.61"), "rc": D("12543.66"), "rid": D("1022.00")}


def test_start_of_activity_flat_bases(db):
    # activity started 10 May 2025 -> affiliated 1 July 2025 (2 quarters of 2025)
    with db.transaction() as session:
        session.add(Contributor(file_number="1111111", profession="infirmier", conventionne=False,
                                affiliation_date=date(2025, 7, 1)))
    campaign(db, 2025, date(2025, 7, 1))
    campaign(db, 2026, date(2026, 1, 1))
    # 2025: 19 % x 47 100 x 2/4 = 4 474,50 < minimum base 5 346 (never pro-rated): T1 8,23 % -> 439,98;
    # T2 1,87 % -> 99,97; RC fixed 2 312 (band starts at 25 246); RID 1 022 -> 3 873,95
    [(_, basis, _, _, total, _, _)] = history(db, 2025, "1111111")
    assert (basis, total) == ("flat_start", D("3873.95"))
    # 2026: 29 % x 48 060 = 13 937,40: T1 1 216,735... -> 1 216,74; T2 260,632... -> 260,63; RC floor
    # 2 090,61; RID 1 022 -> 4 589,98
    [(_, basis, _, _, total, _, lines)] = history(db, 2026, "1111111")
    assert (basis, total) == ("flat_start", D("4589.98"))
    assert lines["rb_t1"] == D("1216.74") and lines["rb_t2"] == D("260.63")
    # declaring 2025 income does not adjust 2026: the second year stays on the flat base (nothing sent)
    declare(db, 2025, "20000.00", date(2026, 6, 1), file_number="1111111")
    assert [h[0] for h in history(db, 2026, "1111111")] == ["provisional"]


def test_estimate_adjusts_the_call_then_surcharge_at_regularisation(db):
    declare(db, 2024, "30000.00", date(2025, 5, 20))
    campaign(db, 2026, date(2026, 1, 1))
    with db.transaction() as session:
        view = estimates.save_estimate(session, MEMBER, 2026, {str(m): "2000" for m in range(1, 13)},
                                       date(2026, 3, 1))
    assert view["total"] == "24000.00" and not view["locked"]
    # on 24 000: T1 2 095,20; T2 448,80; RC floor 2 090,61; RID 1 022 -> 5 656,61
    assert view["call"]["status"] == "adjusted" and view["call"]["total"] == "5656.61"
    # saving the same entries again issues nothing
    with db.transaction() as session:
        estimates.save_estimate(session, MEMBER, 2026, {m: "2000.00" for m in range(1, 13)}, date(2026, 3, 2))
    # 2025 income declared: the estimate of 2026 still prevails (cycle rule 2): nothing new for 2026
    declare(db, 2025, "40000.00", date(2026, 6, 1))
    assert [(h[0], h[1], h[3]) for h in history(db, 2026)] == [("provisional", "income", "campaign"),
                                                              ("adjusted", "estimate", "estimate")]
    # real income 50 000 > 24 000 + 33,33 % = 31 999,20: avoided 10 502,64 - 5 656,61 = 4 846,03;
    # surcharge 10 % = 484,603 -> 484,60; total 10 987,24
    declare(db, 2026, "50000.00", date(2027, 5, 15))
    final = history(db, 2026)[-1]
    assert final[0] == "regularised" and final[4] == D("10987.24")
    assert final[6]["surcharge"] == D("484.60")
    payload = events(db)[-1]["payload"]
    assert payload["surcharge"] == "484.60"
    assert {"code": "estimate_surcharge", "previous": None, "current": "484.60"} in payload["changes"]["reasons"]
    # declared: the estimate can no longer change
    with db.transaction() as session, pytest.raises(Conflict):
        estimates.save_estimate(session, MEMBER, 2026, {"1": "1"}, date(2026, 12, 1))


def test_estimate_within_a_third_has_no_surcharge(db):
    campaign(db, 2026, date(2026, 1, 1))
    with db.transaction() as session:
        estimates.save_estimate(session, MEMBER, 2026, {"1": "20000", "2": "10000"}, date(2026, 3, 1))
    declare(db, 2026, "39000.00", date(2027, 5, 1))  # 39 000 <= 30 000 x 1,3333 = 39 999
    final = history(db, 2026)[-1]
    assert "surcharge" not in final[6] and final[4] == D("8549.00")


@pytest.mark.parametrize("year, months, field", [
    (2025, {"1": "100"}, "year"),
    (2026, {"13": "100"}, "months.13"),
    (2026, {"1": "-5"}, "months.1"),
    (2026, {"1": "abc"}, "months.1"),
    (2026, {"1": "1.001"}, "months.1"),
    (2026, {}, "months"),
])
def test_estimate_bad_input_says_what_is_wrong(db, year, months, field):
    with db.transaction() as session, pytest.raises(InvalidRequest) as caught:
        estimates.save_estimate(session, MEMBER, year, months, date(2026, 3, 1))
    assert field in caught.value.fields


def test_campaign_twice_is_idempotent_and_skips_members_already_called(db):
    with db.transaction() as session:
        session.add(Contributor(file_number="1234567", profession="infirmier", conventionne=True,
                                affiliation_date=date(2006, 7, 1)))
    declare(db, 2026, "40000.00", date(2026, 1, 1), conventioned="40000.00", file_number="1234567")
    first = campaign(db, 2026, date(2026, 1, 2))
    assert first == {"1234567": "already_called", MEMBER: "issued"}
    assert campaign(db, 2026, date(2026, 1, 3)) == {}
    with db.transaction() as session:
        done = campaigns.finish(session, campaigns.campaign_id(2026))
        # calling a member again directly changes nothing either
        assert campaigns.call_member(session, campaigns.campaign_id(2026), MEMBER, date(2026, 1, 4)) == "issued"
    assert (done["done"], done["issued"], done["already_called"]) == (2, 1, 1) and done["finished_at"]
    assert len([e for e in events(db) if e["payload"]["trigger"] == "campaign"]) == 1
    assert len(history(db, 2026)) == 1


def test_campaign_skips_a_member_affiliated_from_a_later_year(db):
    with db.transaction() as session:
        session.add(Contributor(file_number="2222222", profession="infirmier", conventionne=False,
                                affiliation_date=date(2027, 1, 1)))
    assert campaign(db, 2026, date(2026, 1, 1)) == {"2222222": "not_affiliated", MEMBER: "issued"}
    assert history(db, 2026, "2222222") == []
    with db.transaction() as session:
        assert campaigns.finish(session, campaigns.campaign_id(2026))["not_affiliated"] == 1


def test_campaign_year_without_rules_is_refused(db):
    with db.transaction() as session, pytest.raises(InvalidRequest):
        campaigns.start(session, 2031)


# -- arrears, formal notice and payment plan ------------------------------------------------------------------------

def pay(db, reference, amount, paid_on, file_number="1234567", year=2026):
    from services.contributions.models import Payment
    with db.transaction() as session:
        session.add(Payment(reference=reference, file_number=file_number, year=year, amount=D(amount),
                            paid_on=paid_on, source="bank", recorded_at=datetime.now(timezone.utc)))


def status(db, day, file_number="1234567"):
    from services.contributions import payments
    with db.transaction() as session:
        return payments.schedules(session, file_number, day)


def test_arrears_formal_notice_and_payment_plan_keep_the_member_not_up_to_date(db):
    from services.contributions import recovery
    with db.transaction() as session:
        session.add(Contributor(file_number="1234567", profession="infirmier", conventionne=True,
                                affiliation_date=date(2006, 7, 1)))
    # 2026 on 40 000, all conventioned: 9 126,00 = 12 x 760,50 from 5 January
    declare(db, 2026, "40000.00", date(2026, 1, 1), conventioned="40000.00", file_number="1234567")
    pay(db, "B1", "760.50", date(2026, 1, 5))
    pay(db, "B2", "760.50", date(2026, 2, 5))

    # 20 April: March late 2 started months (5 % + 2 x 0,2 % = 5,4 % x 760,50 = 41,067 -> 41,07), April 1
    # (5,2 % -> 39,546 -> 39,55): arrears 1 521,00 + 80,62
    view = status(db, date(2026, 4, 20))
    assert (view["up_to_date"], view["reason"], view["to_pay_now"]) == (False, "arrears", "1601.62")
    with db.transaction() as session:
        notice = recovery.record_notice(session, "1234567", 2026, "2026-04-20", "agent.dupont")
    assert notice["amount"] == "1601.62"

    # 10 May, within 30 days of the notice: the reduced 0,1 % a month: March 3 months 5,3 % -> 40,3065 -> 40,31;
    # April 2 months 5,2 % -> 39,55; May 1 month 5,1 % -> 38,7855 -> 38,79: 2 281,50 + 118,65 = 2 400,15
    view = status(db, date(2026, 5, 10))
    assert (view["up_to_date"], view["reason"], view["to_pay_now"]) == (False, "formal_notice", "2400.15")
    assert view["formal_notices"] == [{"year": 2026, "sent_on": "2026-04-20", "amount": "1601.62"}]

    # a plan agreed on 10 May: 2 400,15 in 3 monthly payments (800,05 each) from 1 June
    with db.transaction() as session:
        plan = recovery.record_plan(session, "1234567", 2026, 3, "2026-06-01", "agent.dupont", date(2026, 5, 10))
    assert (plan["amount"], plan["instalment_amounts"]) == ("2400.15", ["800.05"] * 3)
    view = status(db, date(2026, 5, 10))
    assert (view["up_to_date"], view["reason"]) == (False, "payment_plan")
    assert [p["id"] for p in view["payment_plans"]] == [plan["id"]]

    # paying on time what the plan says is still not up to date while instalments of the year stay unpaid
    pay(db, "P1", "800.05", date(2026, 6, 1))
    assert status(db, date(2026, 6, 2))["reason"] == "payment_plan"
    # everything due settled: up to date again; the plan and the notice are done with
    pay(db, "P2", "3000.00", date(2026, 6, 3))
    view = status(db, date(2026, 6, 4))
    assert (view["up_to_date"], view["reason"], view["payment_plans"], view["formal_notices"]) == (
        True, "up_to_date", [], [])


def test_notice_and_plan_bad_input_is_refused_with_the_reason(db):
    from carpimko.errors import NotFound
    from services.contributions import recovery
    campaign(db, 2026, date(2026, 1, 1))
    with db.transaction() as session, pytest.raises(InvalidRequest) as caught:
        recovery.record_notice(session, MEMBER, 2026, "2026-01-01", "agent")
    assert "nothing is late" in caught.value.fields["sent_on"][0]
    with db.transaction() as session, pytest.raises(InvalidRequest) as caught:
        recovery.record_plan(session, MEMBER, 2026, 0, "2025-01-01", "", date(2026, 3, 1))
    assert set(caught.value.fields) == {"instalments", "first_due", "by"}
    with db.transaction() as session, pytest.raises(NotFound):
        recovery.record_notice(session, MEMBER, 2024, "2026-01-01", "agent")
