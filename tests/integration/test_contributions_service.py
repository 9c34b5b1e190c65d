"""The contributions service on real RabbitMQ and a real database."""
from __future__ import annotations

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from sqlalchemy import func, select

from carpimko.db import Database
from carpimko.errors import InvalidRequest
from services.contributions.models import Assessment, Declaration, Inbox, Outbox
from services.contributions.service import ContributionsService
from tests.support import bus, factories
from tests.support.waiting import wait_for


@pytest.fixture
def contributions(container_factory, make_config, databases):
    config = make_config("contributions")
    factories.add_contributor(config["DATABASE_URL"], "1234567", conventionne=True)
    factories.add_contributor(config["DATABASE_URL"], "7654321", conventionne=False)
    container = container_factory(ContributionsService, config)
    container.start()
    db = Database(config["DATABASE_URL"], pool_size=2)
    yield config, db
    db.dispose()


def count(db, model, *where):
    with db.transaction() as session:
        return session.scalar(select(func.count()).select_from(model).where(*where))


def test_declaration_by_rpc_is_assessed_and_emitted_with_its_chain_ids(contributions):
    config, db = contributions
    spy = bus.EventSpy(config["AMQP_URI"], "income_declared", "contributions_recalculated")
    with ServiceRpcProxy("contributions", config) as rpc:
        view = rpc.declare_income("1234567", 2026, "40000", "40000")
        assert view["assessment"] is None
        events = spy.wait(2)
        done = wait_for(lambda: rpc.get_declaration("1234567", view["id"])["assessment"])
    assert done["total"] == "9126.00"
    assert [line["amount"] for line in done["lines"]] == ["3492.00", "748.00", "3480.00", "384.00", "1022.00"]
    declared, recalculated = sorted(events, key=lambda e: e["type"] != "income_declared")
    assert declared["correlation_id"] == view["id"]
    assert recalculated["correlation_id"] == view["id"]
    assert recalculated["causation_id"] == declared["event_id"]
    assert recalculated["payload"]["total"] == "9126.00"
    assert count(db, Outbox, Outbox.status == "pending") == 0
    spy.close()


def test_redelivered_event_is_a_no_op(contributions):
    config, db = contributions
    event = factories.income_declared("7654321", income="30000.00", conventioned=None)
    bus.publish(config["AMQP_URI"], event, event)
    wait_for(lambda: count(db, Assessment) == 1)
    wait_for(lambda: count(db, Inbox) == 1)
    # a third copy, after the first was processed
    bus.publish(config["AMQP_URI"], event)
    spy = bus.EventSpy(config["AMQP_URI"], "contributions_recalculated")
    second = factories.income_declared("7654321", income="31000.00", conventioned=None)
    bus.publish(config["AMQP_URI"], second)
    spy.wait(1)  # the queue moved past the duplicate
    assert count(db, Assessment) == 2
    assert count(db, Declaration) == 2
    assert count(db, Assessment, Assessment.is_current.is_(True)) == 1
    spy.close()


def test_new_declaration_supersedes_and_records_the_difference(contributions):
    config, db = contributions
    bus.publish(config["AMQP_URI"], factories.income_declared("1234567", income="40000.00"))
    wait_for(lambda: count(db, Assessment) == 1)
    bus.publish(config["AMQP_URI"], factories.income_declared("1234567", income="50000.00",
                                                              conventioned="50000.00"))
    wait_for(lambda: count(db, Assessment) == 2)
    with db.transaction() as session:
        current = session.scalar(select(Assessment).where(Assessment.is_current.is_(True)))
    assert current.previous_total == 9126
    assert current.total > current.previous_total


def test_invalid_event_is_dead_lettered_with_its_reason_and_does_not_block(contributions):
    config, db = contributions
    bad = factories.income_declared("1234567")
    bad["payload"]["professional_income"] = "beaucoup"
    bus.publish_raw(config["AMQP_URI"], bad, "income_declared")
    bus.publish_raw(config["AMQP_URI"], ["not", "an", "object"], "income_declared")
    bus.publish(config["AMQP_URI"], factories.income_declared("1234567"))
    wait_for(lambda: count(db, Assessment) == 1)
    dead = []

    def two_dead_letters():
        dead.extend(bus.dead_letters(config["AMQP_URI"], "income_declared", "contributions",
                                     "on_income_declared"))
        return len(dead) >= 2

    wait_for(two_dead_letters)
    reasons = [m.headers["x-carpimko-error"] for m in dead]
    assert any("professional_income" in r for r in reasons)
    assert any("JSON object" in r for r in reasons)


def test_unknown_member_is_dead_lettered_at_once(contributions):
    config, db = contributions
    bus.publish(config["AMQP_URI"], factories.income_declared("1111111"))
    dead = wait_for(lambda: bus.dead_letters(config["AMQP_URI"], "income_declared",
                                             "contributions", "on_income_declared") or None)
    assert "unknown member 1111111" in dead[0].headers["x-carpimko-error"]
    assert dead[0].headers["x-carpimko-attempts"] == 1
    assert count(db, Declaration) == 0  # nothing half-done
    assert count(db, Inbox) == 0


def test_declare_income_rejects_bad_input_with_field_errors(contributions):
    config, _ = contributions
    with ServiceRpcProxy("contributions", config) as rpc:
        with pytest.raises(InvalidRequest) as err:
            rpc.declare_income("1234567", 1999, "-5", "10")
    fields = err.value.fields
    assert "year" in fields and "professional_income" in fields
    with ServiceRpcProxy("contributions", config) as rpc:
        with pytest.raises(InvalidRequest) as err:
            rpc.declare_income("1234567", 2026, "1000", "2000")
    assert "conventioned_income" in err.value.fields


def test_quorum_queues_when_configured(container_factory, make_config, rabbit_manager):
    """On a RabbitMQ cluster the service queues are quorum queues (decided by config)."""
    config = make_config("contributions", QUEUE_TYPE="quorum")
    factories.add_contributor(config["DATABASE_URL"], "1234567")
    container_factory(ContributionsService, config).start()
    queues = {q["name"]: q for q in rabbit_manager.get_queues(config["vhost"])}
    main = "evt-carpimko-income_declared--contributions.on_income_declared"
    assert queues[main]["type"] == "quorum"
    assert queues[main + ".retry"]["type"] == "quorum"
    db = Database(config["DATABASE_URL"], pool_size=1)
    bus.publish(config["AMQP_URI"], factories.income_declared("1234567"))
    wait_for(lambda: count(db, Assessment) == 1)
    db.dispose()


def test_declaring_last_year_regularises_it_and_adjusts_this_year_exactly_once(container_factory, make_config):
    """In June 2026, 2025 income declared: 2025 regularised and 2026 adjusted on it, two events; the same
    income_declared redelivered (before and after processing) changes nothing."""
    config = make_config("contributions", CONTRIBUTIONS_TODAY="2026-06-01")
    factories.add_contributor(config["DATABASE_URL"], "7654321", conventionne=False)
    container_factory(ContributionsService, config).start()
    db = Database(config["DATABASE_URL"], pool_size=2)
    spy = bus.EventSpy(config["AMQP_URI"], "contributions_recalculated", "schedule_changed")
    event = factories.income_declared("7654321", year=2025, income="40000.00", conventioned=None)
    bus.publish(config["AMQP_URI"], event, event)
    wait_for(lambda: count(db, Assessment) == 2)
    bus.publish(config["AMQP_URI"], event)
    received = spy.wait(4)
    import time
    time.sleep(1)  # a duplicate would show up by now
    received = spy.drain()
    recalculated = sorted((e["payload"] for e in received if e["type"] == "contributions_recalculated"),
                          key=lambda p: p["year"])
    assert [(p["year"], p["status"], p["income_year"], p["total"]) for p in recalculated] == [
        (2025, "regularised", 2025, "7816.62"), (2026, "adjusted", 2025, "8742.00")]
    assert recalculated[0]["declaration_id"] == event["payload"]["declaration_id"]
    assert recalculated[1]["declaration_id"] is None and recalculated[1]["changes"] is None
    assert all(e["correlation_id"] == event["correlation_id"] for e in received)
    assert sorted(e["payload"]["year"] for e in received if e["type"] == "schedule_changed") == [2025, 2026]
    assert count(db, Assessment) == 2
    spy.close()
    db.dispose()


def test_a_batch_with_a_poison_event_assesses_the_others_once_and_dead_letters_it_alone(
        container_factory, make_config, caplog):
    """Declarations published together are assessed in batches (one transaction, a few statements for all,
    see ledger.py); an event of an unknown member fails its batch, whose events are then taken alone: it
    goes to the dead-letter queue at its first attempt and the others are assessed, each once (the same
    event published twice included)."""
    config = make_config("contributions", CONTRIBUTIONS_TODAY="2026-06-01", BATCH_CONCURRENCY=1,
                         BATCH_SIZE=50)
    numbers = [str(2000000 + i) for i in range(20)]
    for number in numbers:
        factories.add_contributor(config["DATABASE_URL"], number, conventionne=int(number) % 2 == 0)
    container_factory(ContributionsService, config).start()
    db = Database(config["DATABASE_URL"], pool_size=2)
    envelopes = [factories.income_declared(n, year=2025, income=f"{30000 + i * 1000}.00", conventioned=None)
                 for i, n in enumerate(numbers)]
    poison = factories.income_declared("1111111", year=2025)
    bus.publish(config["AMQP_URI"], *envelopes[:10], poison, *envelopes[10:], envelopes[3])
    dead = wait_for(lambda: bus.dead_letters(config["AMQP_URI"], "income_declared", "contributions",
                                             "on_income_declared") or None)
    wait_for(lambda: count(db, Assessment) == 40)  # each member: 2025 regularised, 2026 adjusted
    import time
    time.sleep(1)  # a duplicate would show up by now
    assert len(dead) == 1 and dead[0].payload["event_id"] == poison["event_id"]
    assert "unknown member 1111111" in dead[0].headers["x-carpimko-error"]
    assert dead[0].headers["x-carpimko-attempts"] == 1
    assert any("handling each alone" in r.getMessage() for r in caplog.records)  # a batch did fail
    assert count(db, Assessment) == 40
    assert count(db, Assessment, Assessment.is_current.is_(True)) == 40
    assert count(db, Declaration) == 20
    assert count(db, Inbox) == 20
    assert count(db, Outbox, Outbox.event_type == "contributions_recalculated") == 40
    assert count(db, Outbox, Outbox.event_type == "schedule_changed") == 40
    with db.transaction() as session:
        mine = session.scalars(select(Assessment).where(Assessment.file_number == numbers[0])
                               .order_by(Assessment.year)).all()
        assert [(a.year, a.status) for a in mine] == [(2025, "regularised"), (2026, "adjusted")]
    db.dispose()
