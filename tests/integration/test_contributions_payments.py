"""Payment schedules, payments from a bank file, balance and SEPA mandate: the contributions service on real
RabbitMQ and a real database. The service's day is fixed with ``CONTRIBUTIONS_TODAY`` (2026-01-01) and views
are asked ``as_of`` a given day, so every figure is exact."""
from __future__ import annotations

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import func, select

from carpimko.db import Database
from carpimko.errors import InvalidRequest, NotFound
from ops import payments_import
from services.contributions.models import Payment
from services.contributions.service import ContributionsService
from tests.support import bus, factories
from tests.support.waiting import wait_for

YEARS = (2024, 2025, 2026)


@pytest.fixture
def contributions(container_factory, make_config, databases):
    config = make_config("contributions", CONTRIBUTIONS_TODAY="2026-01-01")
    factories.add_contributor(config["DATABASE_URL"], "1234567", conventionne=True)
    factories.add_contributor(config["DATABASE_URL"], "7654321", conventionne=False)
    container_factory(ContributionsService, config).start()
    db = Database(config["DATABASE_URL"], pool_size=2)
    yield config, db
    db.dispose()


def payments_count(db):
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(Payment))


def test_schedule_payments_balance_change_and_regularisation(contributions, tmp_path):
    config, db = contributions
    spy = bus.EventSpy(config["AMQP_URI"], "schedule_changed")
    with ServiceRpcProxy("contributions", config) as rpc:
        # 1. the assessment of 2026 (9 126,00) creates a monthly schedule: 12 x 760,50 from 5 January
        rpc.declare_income("1234567", 2026, "40000", "40000")
        created = spy.wait(1)[0]
        assert created["member_id"] == "1234567"
        p = created["payload"]
        assert (p["year"], p["frequency"], p["version"], p["reason"], p["total"], p["previous_total"]) == \
            (2026, "monthly", 1, "assessment", "9126.00", None)
        assert [(i["number"], i["due_date"], i["amount"]) for i in p["instalments"]] == \
            [(m, f"2026-{m:02d}-05", "760.50") for m in range(1, 13)]

        # 2. a bank file: two good payments, one bad row; importing it twice records them once
        csv = tmp_path / "bank.csv"
        csv.write_text("reference,file_number,year,amount,paid_on\n"
                       "BNK-0001,1234567,2026,760.50,2026-01-06\n"
                       "BNK-0002,1234567,2026,\"760,50\",05/02/2026\n"
                       "BNK-0003,1234567,2026,-3,2026-02-05\n", encoding="utf-8")
        published, rejected = payments_import.run(str(csv), config["AMQP_URI"], YEARS)
        assert published == 2
        assert [(r.line, r.reason) for r in rejected] == [(4, "amount must be more than 0, got '-3'")]
        wait_for(lambda: payments_count(db) == 2)
        payments_import.run(str(csv), config["AMQP_URI"], YEARS)
        other = tmp_path / "again.csv"  # same references, another file: still nothing new
        other.write_text("reference,file_number,year,amount,paid_on\n"
                         "BNK-0002,1234567,2026,760.50,2026-02-05\n"
                         "BNK-0009,7654321,2026,10.00,2026-02-05\n", encoding="utf-8")
        payments_import.run(str(other), config["AMQP_URI"], YEARS)
        wait_for(lambda: payments_count(db) == 3)
        assert payments_count(db) == 3

        # 3. on 20 March: January and February paid, March (due 5 March) late by one started month:
        #    surcharge 5 % + 0,2 % = 5,2 % x 760,50 = 39,546 -> 39,55
        view = rpc.schedules("1234567", as_of="2026-03-20")
        assert (view["up_to_date"], view["reason"], view["late_years"], view["to_pay_now"]) == \
            (False, "arrears", [2026], "800.05")
        status = view["schedules"][0]["status"]
        assert (status["due_to_date"], status["paid"], status["balance"], status["arrears"], status["surcharge"],
                status["remaining"]) == ("2281.50", "1521.00", "760.50", "760.50", "39.55", "7605.00")
        states = [i["state"] for i in view["schedules"][0]["instalments"]]
        assert states == ["due", "due", "late"] + ["future"] * 9
        assert rpc.schedules("7654321", as_of="2026-03-20") == {
            "as_of": "2026-03-20", "up_to_date": True, "reason": "no_schedule", "late_years": [],
            "to_pay_now": "0.00", "schedules": [], "payment_plans": [], "formal_notices": []}

        # 4. quarterly from 20 March: January-March kept (2 281,50); 6 844,50 over 5 May, 5 Aug, 5 Nov
        changed = rpc.change_schedule("1234567", 2026, "quarterly", as_of="2026-03-20")
        assert [(i["number"], i["due_date"], i["amount"]) for i in changed["instalments"]] == [
            (1, "2026-01-05", "760.50"), (2, "2026-02-05", "760.50"), (3, "2026-03-05", "760.50"),
            (4, "2026-05-05", "2281.50"), (5, "2026-08-05", "2281.50"), (6, "2026-11-05", "2281.50")]
        assert changed["version"] == 2
        event = spy.wait(2)[1]["payload"]
        assert (event["reason"], event["frequency"], event["version"]) == ("frequency_changed", "quarterly", 2)
        again = rpc.change_schedule("1234567", 2026, "quarterly", as_of="2026-03-20")
        assert again["version"] == 2  # idempotent: no new version, no event
        with pytest.raises(InvalidRequest) as caught:
            rpc.change_schedule("1234567", 2026, "weekly")
        assert "frequency" in caught.value.fields
        with pytest.raises(NotFound):
            rpc.change_schedule("1234567", 2025, "monthly")

        # 5. a new declaration (50 000, all conventioned) regularises the year on the service's day (1 January):
        #    4 195,64 + 935,00 + 4 350,00 + 424,00 + 1 022,00 = 10 926,64 over the 4 quarterly instalments
        rpc.declare_income("1234567", 2026, "50000", "50000")
        regularised = spy.wait(3)[2]["payload"]
        assert (regularised["reason"], regularised["version"], regularised["total"],
                regularised["previous_total"]) == ("assessment", 3, "10926.64", "9126.00")
        assert [i["amount"] for i in regularised["instalments"]] == ["2731.66"] * 4

        # 6. Mes cotisations: what changed since the last call, and why
        overview = rpc.contributions_overview("1234567")
        year = overview[0]
        assert (year["year"], year["total"], year["final"], year["calls"]) == (2026, "10926.64", True, 2)
        changes = year["changes"]
        assert changes["difference"] == "1800.64"
        assert [(l["scheme"], l["previous"], l["current"]) for l in changes["lines"]] == [
            ("rb_t1", "3492.00", "4195.64"), ("rb_t2", "748.00", "935.00"), ("rc", "3480.00", "4350.00"),
            ("asv", "384.00", "424.00")]
        assert [r["code"] for r in changes["reasons"]] == ["income_changed", "conventioned_income_changed"]
    spy.close()


def test_sepa_mandate_is_validated_and_masked(contributions):
    config, _ = contributions
    with ServiceRpcProxy("contributions", config) as rpc:
        assert rpc.get_mandate("1234567") is None
        view = rpc.set_mandate("1234567", "fr76 3000 6000 0112 3456 7890 189", "AGRIFRPP", "Claire Martin")
        assert view["iban"] == "FR76 **** **** **** **** ***0 189"
        assert view["bic"] == "AGRIFRPP" and view["holder"] == "Claire Martin"
        assert rpc.get_mandate("1234567")["iban"] == view["iban"]
        with pytest.raises(InvalidRequest) as caught:
            rpc.set_mandate("1234567", "FR76 3000 6000 0112 3456 7890 188", "AGRIFRPPXXX", "")
        assert set(caught.value.fields) == {"iban", "holder"}
        with pytest.raises(InvalidRequest) as caught:
            rpc.set_mandate("1234567", "FR76 3000 6000 0112 3456 7890 189", "DEUTDEFF", "Claire Martin")
        assert caught.value.fields == {"bic": ["BIC country does not match the IBAN's country"]}
        with pytest.raises(InvalidRequest) as caught:
            rpc.set_mandate("1234567", "FR76 3000 6000 0112 3456 7890 189", "AGRI!!", "Claire Martin")
        assert "invalid BIC" in caught.value.fields["bic"][0]
