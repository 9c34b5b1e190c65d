"""A flagged career year, across the two services that each built one side of
the contract: contributions publishes ``career_year_flagged``, messaging opens
the thread, an advisor closes it with an outcome, messaging publishes
``career_review_resolved`` and contributions marks the year resolved."""
from __future__ import annotations

from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import select

from carpimko.db import Database
from services.contributions.models import Assessment
from services.contributions.service import ContributionsService
from services.messaging.models import Thread
from services.messaging.service import MessagingService
from tests.support import bus, factories
from tests.support.waiting import wait_for

ADVISOR = {"login": "c.dupont", "role": "advisor"}


def _all(url, model):
    db = Database(url, pool_size=1)
    with db.transaction() as session:
        found = session.scalars(select(model)).all()
    db.dispose()
    return found


def test_a_flag_becomes_a_thread_and_closing_it_resolves_the_year(container_factory, make_config):
    contributions = make_config("contributions", CONTRIBUTIONS_TODAY="2026-11-28")
    messaging = make_config("messaging")
    factories.add_contributor(contributions["DATABASE_URL"], "1234567", conventionne=False)
    container_factory(ContributionsService, contributions).start()
    container_factory(MessagingService, messaging).start()
    bus.publish(contributions["AMQP_URI"], factories.income_declared(
        "1234567", year=2024, income="40000.00", conventioned=None))
    wait_for(lambda: _all(contributions["DATABASE_URL"], Assessment))

    with ServiceRpcProxy("contributions", contributions) as rpc:
        flag = rpc.flag_career_year("1234567", 2024, "Il manque mon congé maternité de 2024.")
        [thread] = wait_for(lambda: _all(messaging["DATABASE_URL"], Thread), timeout=20)
        assert thread.file_number == "1234567" and thread.category == "retraite"
        assert thread.flag_id == flag["flag_id"]
        with ServiceRpcProxy("messaging", messaging) as staff:
            assert staff.member_thread("1234567", thread.id)["career_year"] == 2024
            staff.staff_close(ADVISOR, thread.id, "confirmed")

        def resolved():
            year = next(y for y in rpc.career_record("1234567")["years"] if y["year"] == 2024)
            return year if year["flag"]["status"] == "resolved" else None
        year = wait_for(resolved, timeout=20)
    assert year["flag"]["outcome"] == "confirmed"
