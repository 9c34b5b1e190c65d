"""The documents service's batch handlers on the real broker and databases:
many events at once give each event's documents and announcements once,
with fewer contact RPCs than events (batches formed); an event delivered
again in a batch is a no-op; an event that cannot be rendered is
dead-lettered alone while the rest of its batch is issued."""
from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from datetime import date, datetime, timezone

import pytest
from nameko.rpc import rpc

from carpimko.db import Database
from services.accounts.domain.passwords import hash_password
from services.accounts.models import Member
from services.accounts.service import AccountsService
from services.documents import rendering
from services.documents.domain import verification
from services.documents.service import DocumentsService
from tests.integration.test_documents_chain import documents
from tests.support import bus, factories
from tests.support.waiting import wait_for

CALLS: Counter = Counter()  # accounts RPCs answered, by method


class CountingAccounts(AccountsService):
    """The accounts service, counting the contact RPCs it answers."""

    @rpc
    def contact_details(self, file_number):
        CALLS["contact_details"] += 1
        return super().contact_details(file_number)

    @rpc
    def contact_details_many(self, file_numbers):
        CALLS["contact_details_many"] += 1
        return super().contact_details_many(file_numbers)


def add_members(url: str, numbers: list[str]) -> None:
    """Members with an address (one password hash for all: argon2 is slow)."""
    password_hash = hash_password(factories.PASSWORD)
    db = Database(url, pool_size=1)
    with db.transaction() as session:
        for number in numbers:
            session.add(Member(
                file_number=number, civility="Mme", first_name="Anne", last_name=f"Durand{number}",
                birth_date=date(1980, 1, 15), profession="orthophoniste", status="active",
                email=None, email_verified=False, address_line1="1 rue de la Paix",
                address_line2=None, postcode="75002", city="Paris", country="France",
                password_hash=password_hash, created_at=datetime.now(timezone.utc)))
    db.dispose()


def contact_rpcs() -> int:
    return CALLS["contact_details"] + CALLS["contact_details_many"]


@pytest.fixture
def start(container_factory, make_config):
    CALLS.clear()

    def build(numbers: list[str]) -> dict:
        accounts = make_config("accounts")
        add_members(accounts["DATABASE_URL"], numbers)
        container_factory(CountingAccounts, accounts).start()
        config = make_config("documents", BATCH_SIZE=20, BATCH_CONCURRENCY=1)
        container_factory(DocumentsService, config).start()
        return config
    return build


def settle_then_drain(spy, seconds: float = 1.5) -> list[dict]:
    time.sleep(seconds)  # nothing else comes
    return spy.drain()


def test_many_declarations_at_once_give_each_document_and_announcement_once(start):
    numbers = [str(2000000 + i) for i in range(30)]
    config = start(numbers)
    spy = bus.EventSpy(config["AMQP_URI"], "document_generated")
    recalculated, schedules = {}, {}
    for i, number in enumerate(numbers):
        chain = str(uuid.uuid4())
        regularised = i % 2 == 0  # half get a regularisation notice too
        recalculated[number] = factories.contributions_recalculated(
            number, chain, previous_total="8000.00" if regularised else None)
        own_change = i % 3 == 0  # a schedule the member changed: announced on its own
        schedules[number] = factories.schedule_changed(
            number, chain, reason="frequency_changed" if own_change else "assessment",
            caused=not own_change)
    bus.publish(config["AMQP_URI"], *recalculated.values(), *schedules.values())

    expected = 30 + 15 + 30
    spy.wait(expected, timeout=60)
    announced = settle_then_drain(spy)
    rows = documents(config)
    assert len(rows) == expected and len(announced) == expected
    assert len({e["payload"]["document_id"] for e in announced}) == expected  # each once
    assert {e["payload"]["document_id"] for e in announced} == {r.id for r in rows}
    assert len({r.verification_hash for r in rows}) == expected  # a code of its own each
    assert contact_rpcs() < 60  # batches formed: fewer contact RPCs than events

    by_event = {}
    for e in announced:
        by_event.setdefault(e["causation_id"], {})[e["payload"]["kind"]] = e
    for i, number in enumerate(numbers):
        statement = by_event[recalculated[number]["event_id"]]
        schedule = by_event[schedules[number]["event_id"]]
        assert {e["member_id"] for e in (*statement.values(), *schedule.values())} == {number}
        assert statement["contribution_statement"]["payload"]["notify"] is True
        if i % 2 == 0:
            assert statement["contribution_statement"]["payload"]["also_issued"] == [
                "Avis de régularisation 2026"]
            assert statement["regularisation_notice"]["payload"]["notify"] is False
        else:
            assert set(statement) == {"contribution_statement"}
            assert statement["contribution_statement"]["payload"]["also_issued"] == []
        assert set(schedule) == {"payment_schedule"}
        assert schedule["payment_schedule"]["payload"]["notify"] is (i % 3 == 0)
        assert all(e["version"] == 3 for e in (*statement.values(), *schedule.values()))
    member = {r.id: r for r in rows}
    key = config["VERIFICATION_KEY"].encode()
    for e in announced:
        row = member[e["payload"]["document_id"]]
        assert row.file_number == e["member_id"] and row.member_initials == "A. D."
        # issued, to be rendered on first read: a snapshot, no content yet
        assert row.sha256 is None is e["payload"]["sha256"] and row.size is None
        assert row.snapshot["data"]["file_number"] == row.file_number
        assert "verification" not in row.snapshot["data"]
        assert row.layout_version == rendering.LAYOUT_VERSION
        assert row.verification_hash == verification.code_hash(
            verification.canonical(verification.derived_code(key, row.id)))
    spy.close()


def test_an_event_delivered_again_in_a_batch_is_a_no_op(start):
    numbers = [str(3000000 + i) for i in range(20)]
    config = start(numbers)
    spy = bus.EventSpy(config["AMQP_URI"], "document_generated")
    events = [factories.contributions_recalculated(number) for number in numbers]
    bus.publish(config["AMQP_URI"], *events[:5])  # these five are processed first
    spy.wait(5)
    # then all, the first five again (already processed) and five twice in the same burst
    burst = []
    for i, event in enumerate(events):
        burst.append(event)
        if i < 5 or i >= 15:
            burst.append(event)
    bus.publish(config["AMQP_URI"], *burst)

    spy.wait(20, timeout=60)
    announced = settle_then_drain(spy)
    assert sorted(e["causation_id"] for e in announced) == sorted(e["event_id"] for e in events)
    rows = documents(config)
    assert sorted(r.source_event_id for r in rows) == sorted(e["event_id"] for e in events)
    assert bus.dead_letters(config["AMQP_URI"], "contributions_recalculated", "documents",
                            "on_contributions_recalculated") == []
    assert contact_rpcs() < 20
    spy.close()


def test_an_event_that_cannot_be_rendered_is_dead_lettered_alone(start, caplog):
    numbers = [str(4000000 + i) for i in range(20)]
    config = start(numbers)
    spy = bus.EventSpy(config["AMQP_URI"], "document_generated")
    events = [factories.schedule_changed(number, reason="frequency_changed", caused=False)
              for number in numbers]
    broken = events[10]
    broken["payload"]["total"] = "9999.00"  # the instalments no longer add up to it
    caplog.set_level(logging.WARNING, logger="carpimko.handlers")
    bus.publish(config["AMQP_URI"], *events)

    spy.wait(19, timeout=60)
    dead = wait_for(lambda: bus.dead_letters(config["AMQP_URI"], "schedule_changed", "documents",
                                             "on_schedule_changed") or None, timeout=30)
    announced = settle_then_drain(spy)
    assert len(dead) == 1
    assert dead[0].payload["event_id"] == broken["event_id"]
    assert "cannot render the payment_schedule" in dead[0].headers["x-carpimko-error"]
    assert dead[0].headers["x-carpimko-attempts"] == 1  # a permanent failure: no retry
    issued = sorted(e["event_id"] for e in events if e is not broken)
    assert sorted(e["causation_id"] for e in announced) == issued
    assert sorted(r.source_event_id for r in documents(config)) == issued
    # it came in a batch, which failed and was handled again one event at a time
    assert any("failed (PermanentFailure" in r.getMessage() and "handling each alone"
               in r.getMessage() for r in caplog.records)
    spy.close()


def test_schedules_of_one_member_in_one_batch_supersede_each_other_in_order(start):
    config = start(["5000000"])
    spy = bus.EventSpy(config["AMQP_URI"], "document_generated")
    events = [factories.schedule_changed("5000000", reason="frequency_changed", caused=False,
                                         version=v, total=f"{9000 + v}.00")
              for v in range(1, 13)]
    bus.publish(config["AMQP_URI"], *events)

    spy.wait(12, timeout=60)
    rows = documents(config)
    assert len(rows) == 12
    by_id = {r.id: r for r in rows}
    current = [r for r in rows if r.superseded_by is None]
    assert len(current) == 1  # one current schedule of the year
    # every other one is superseded by a later one: a single chain ending at the current
    chain, row = [], rows[0]
    while row is not None:
        chain.append(row.id)
        row = by_id.get(row.superseded_by) if row.superseded_by else None
    assert len(chain) == 12 and chain[-1] == current[0].id
    assert contact_rpcs() < 12
    spy.close()


def test_an_unknown_member_in_a_batch_fails_alone_as_before(start):
    """Missing from contact_details_many: asked alone with contact_details,
    which fails as it always did (retried, then dead-lettered); the rest of
    the batch is issued."""
    numbers = [str(6000000 + i) for i in range(12)]
    config = start(numbers)
    spy = bus.EventSpy(config["AMQP_URI"], "document_generated")
    events = [factories.contributions_recalculated(number) for number in numbers]
    unknown = factories.contributions_recalculated("9999999")
    bus.publish(config["AMQP_URI"], *events[:6], unknown, *events[6:])

    spy.wait(12, timeout=60)
    dead = wait_for(lambda: bus.dead_letters(config["AMQP_URI"], "contributions_recalculated",
                                             "documents", "on_contributions_recalculated") or None,
                    timeout=30)
    announced = settle_then_drain(spy)
    assert [m.payload["event_id"] for m in dead] == [unknown["event_id"]]
    assert "9999999" in dead[0].headers["x-carpimko-error"]
    assert dead[0].headers["x-carpimko-attempts"] == 3  # MAX_ATTEMPTS: retried, not permanent
    assert sorted(e["causation_id"] for e in announced) == sorted(e["event_id"] for e in events)
    assert CALLS["contact_details"] >= 3  # the single call, once per attempt
