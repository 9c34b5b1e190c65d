"""The career record in the contributions service, on real RabbitMQ and a real database: the record from the
assessments, credited periods, the flag -> career_year_flagged -> career_review_resolved round trip, the estimate
and the career statement request."""
from __future__ import annotations

import uuid
from datetime import datetime, timezone

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import func, select

from carpimko.db import Database
from carpimko.errors import Conflict, InvalidRequest
from carpimko.events import new_event
from services.contributions.models import Assessment, CareerFlag
from services.contributions.service import ContributionsService
from tests.support import bus, factories
from tests.support.waiting import wait_for

TODAY = "2026-11-28"


@pytest.fixture
def contributions(container_factory, make_config, databases):
    config = make_config("contributions", CONTRIBUTIONS_TODAY=TODAY)
    factories.add_contributor(config["DATABASE_URL"], "1234567", conventionne=False)
    container = container_factory(ContributionsService, config)
    container.start()
    db = Database(config["DATABASE_URL"], pool_size=2)
    for year, income in ((2024, "40000.00"), (2025, "46000.00"), (2026, "40000.00")):
        bus.publish(config["AMQP_URI"], factories.income_declared("1234567", year=year, income=income,
                                                                  conventioned=None))
    # every year regularised (declaring 2025 in 2026 also adjusts 2026 first: more than 3 calls)
    wait_for(lambda: _count(db, Assessment, Assessment.status == "regularised",
                            Assessment.is_current.is_(True)) == 3)
    yield config, db
    db.dispose()


def _count(db, model, *where):
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_record_per_year_from_assessments_and_credits(contributions):
    config, _ = contributions
    with ServiceRpcProxy("contributions", config) as rpc:
        rpc.record_career_credit("1234567", "incapacity", year=2025, months=7, recorded_by="advisor.durand")
        rpc.record_career_credit("1234567", "maternity", childbirth_date="2024-03-14", recorded_by="advisor.durand")
        with pytest.raises(InvalidRequest) as short:
            rpc.record_career_credit("1234567", "incapacity", year=2024, months=5, recorded_by="advisor.durand")
        with pytest.raises(Conflict):
            rpc.record_career_credit("1234567", "incapacity", year=2025, months=8, recorded_by="advisor.durand")
        record = rpc.career_record("1234567")
    assert "months" in short.value.fields
    years = {y["year"]: y for y in record["years"]}
    assert sorted(years) == [2024, 2025, 2026]
    # 2024, 40 000: 525 x 40000/46368 + 25 x 40000/231840 = 452.89 + 4.31; + 100 for the childbirth
    assert years[2024]["rb_points"] == "557.21" and years[2024]["income_rb_points"] == "457.21"
    assert years[2024]["quarters"] == 4 and years[2024]["status"] == "final"
    # 2024 RC: 8 + 3 % x (40000 - 25246) / 205 = 8 + 442.62 / 205 = 10.16
    assert years[2024]["rc_points"] == "10.16"
    assert years[2024]["contributions_called"] is not None and years[2024]["contributions_paid"] == "0.00"
    # 2025: incapacity >= 6 months keeps at least 400 points; the income earned more:
    # 525 x 46000/47100 + 25 x 46000/235500 = 512.74 + 4.88 = 517.62
    assert years[2025]["rb_points"] == "517.62" and years[2025]["quarters"] == 4
    assert years[2025]["credits"][0]["kind"] == "incapacity"
    assert years[2026]["status"] == "provisional" and "year_not_over" in years[2026]["provisional_reasons"]
    # 2026 is regularised but not over: provisional, kept apart from the final totals (2024 + 2025)
    assert record["totals"] == {"years": [2024, 2025], "quarters": 8, "rb_points": "1074.83",
                                "rc_points": "21.20", "asv_points": "0.00"}
    assert record["provisional_totals"]["years"] == [2026] and record["provisional_totals"]["quarters"] == 4
    assert years[2026]["call"] is None and years[2026]["income"] == "40000.00"


def test_flag_publishes_the_event_and_the_resolution_closes_it(contributions):
    config, db = contributions
    spy = bus.EventSpy(config["AMQP_URI"], "career_year_flagged")
    with ServiceRpcProxy("contributions", config) as rpc:
        flag = rpc.flag_career_year("1234567", 2025, "  Mon revenu 2025 est de 43 000 €, pas 46 000 €.  ")
        [event] = spy.wait(1)
        assert event["member_id"] == "1234567"
        assert event["payload"] == {"flag_id": flag["flag_id"], "year": 2025,
                                    "comment": "Mon revenu 2025 est de 43 000 €, pas 46 000 €.",
                                    "flagged_at": event["payload"]["flagged_at"]}
        with pytest.raises(Conflict):
            rpc.flag_career_year("1234567", 2025, "encore")
        with pytest.raises(InvalidRequest):
            rpc.flag_career_year("1234567", 2019, "pas dans le relevé")
        with pytest.raises(InvalidRequest):
            rpc.flag_career_year("1234567", 2024, "   ")
        year = next(y for y in rpc.career_record("1234567")["years"] if y["year"] == 2025)
        assert year["flag"]["status"] == "under_review" and year["status"] == "provisional"

        resolved = new_event("career_review_resolved", {
            "flag_id": uuid.UUID(flag["flag_id"]), "year": 2025, "thread_id": uuid.uuid4(),
            "outcome": "corrected", "resolved_at": datetime.now(timezone.utc)},
            member_id="1234567", correlation_id=flag["flag_id"])
        bus.publish(config["AMQP_URI"], resolved, resolved)  # delivered twice: handled once
        wait_for(lambda: _count(db, CareerFlag, CareerFlag.status == "resolved") == 1)
        year = next(y for y in rpc.career_record("1234567")["years"] if y["year"] == 2025)
    assert year["flag"]["status"] == "resolved" and year["flag"]["outcome"] == "corrected"
    assert year["status"] == "final"
    spy.close()


def test_estimate_and_what_if(contributions):
    config, _ = contributions
    with ServiceRpcProxy("contributions", config) as rpc:
        view = rpc.retirement_estimate("1234567", "1969-06-15")
        what_if = rpc.retirement_estimate("1234567", "1969-06-15",
                                          {"break_from": "2027", "break_to": "2028", "retirement_date": "2034-01-01"})
        with pytest.raises(InvalidRequest) as bad:
            rpc.retirement_estimate("1234567", "1969-06-15", {"retirement_date": "2030-01-15", "future_income": "-1"})
    assert view["legal_age"] == {"years": 64, "months": 0, "date": "2033-06-15", "source": "S"}
    assert view["legal_start"] == "2033-07-01" and view["quarters_needed"] == 172
    assert [e["label"] for e in view["current"]["estimates"]] == ["legal", "full_rate", "automatic"]
    assert what_if["what_if"]["estimates"][-1]["label"] == "chosen"
    legal_now = view["current"]["estimates"][0]
    legal_then = next(e for e in what_if["what_if"]["estimates"] if e["label"] == "legal")
    assert legal_then["quarters"] == legal_now["quarters"] - 8  # two years without income
    assert any(c["code"] == "quarters" and c["label"] == "legal" for c in what_if["what_if"]["changes"])
    assert set(bad.value.fields) == {"retirement_date", "future_income"}


def test_statement_request_publishes_the_record(contributions):
    config, _ = contributions
    spy = bus.EventSpy(config["AMQP_URI"], "career_statement_requested")
    with ServiceRpcProxy("contributions", config) as rpc:
        answer = rpc.request_career_statement("1234567")
        [event] = spy.wait(1)
    assert event["correlation_id"] == answer["request_id"]
    assert event["payload"]["as_of"] == TODAY
    assert [y["year"] for y in event["payload"]["years"]] == [2024, 2025, 2026]
    assert event["payload"]["years"][0]["rb_points"] == "457.21"
    spy.close()


def test_advisor_command_records_a_credit_and_refuses_bad_input(contributions, capsys):
    from ops import career_ops
    config, _ = contributions
    assert career_ops.credit(config["AMQP_URI"], "1234567", "advisor.durand", incapacity_year=2026, months=8) == 0
    assert "incapacity exemption (8 months) credited in 2026 by advisor.durand" in capsys.readouterr().out
    assert career_ops.credit(config["AMQP_URI"], "1234567", "advisor.durand", incapacity_year=2026, months=4) == 2
    assert "at least 6 months" in capsys.readouterr().err
    assert career_ops.credit(config["AMQP_URI"], "1234567", "advisor.durand", childbirth_date="2026-02-30") == 2
    assert "not a date" in capsys.readouterr().err
    assert career_ops.credit(config["AMQP_URI"], "7777777", "advisor.durand", childbirth_date="2026-02-03") == 2
    with ServiceRpcProxy("contributions", config) as rpc:
        year = next(y for y in rpc.career_record("1234567")["years"] if y["year"] == 2026)
    assert year["quarters"] == 4 and year["rb_points"] == "441.12"  # the income earned more than 400
