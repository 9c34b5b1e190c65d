"""Poison messages: whatever arrives on a consumer's queue, the consumer
neither crashes nor blocks; what cannot be processed ends in the dead-letter
queue with its reason, and a replay after the cause is fixed completes the
chain once."""
from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kombu import Connection
from sqlalchemy import func, select

from carpimko import broker
from carpimko.db import Database
from ops import dead_letters
from services.accounts.service import AccountsService
from services.contributions.models import Assessment
from services.contributions.service import ContributionsService
from services.documents.service import DocumentsService
from services.notifications.service import NotificationsService
from tests.support import bus, factories
from tests.support.waiting import wait_for

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10)


@st.composite
def malformed(draw, valid: dict):
    """A valid envelope broken in one way, or any JSON value, or raw bytes."""
    choice = draw(st.integers(min_value=0, max_value=4))
    if choice == 0:
        return ("json", draw(json_values))
    if choice == 1:
        return ("raw", draw(st.binary(min_size=1, max_size=50)))
    envelope = copy.deepcopy(valid)
    if choice == 2:
        del envelope[draw(st.sampled_from(sorted(envelope)))]
    elif choice == 3:
        envelope[draw(st.sampled_from(sorted(envelope)))] = draw(json_values)
    else:
        key = draw(st.sampled_from(sorted(envelope["payload"])))
        envelope["payload"][key] = draw(json_values.filter(lambda v: v != valid["payload"][key]))
    return ("json", envelope)


VALID = {
    "income_declared": factories.income_declared("1234567"),
    "contributions_recalculated": factories.contributions_recalculated("1234567"),
    "document_generated": factories.document_generated("1234567"),
}


def publish_malformed(amqp_uri, event_type, items):
    with Connection(amqp_uri) as conn:
        producer = conn.Producer()
        for kind, body in items:
            if kind == "raw":
                producer.publish(body, exchange=broker.events_exchange, routing_key=event_type,
                                 content_type="application/json", content_encoding="binary")
            else:
                producer.publish(body, exchange=broker.events_exchange, routing_key=event_type,
                                 serializer="json")


@settings(max_examples=1, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_malformed_events_never_crash_or_block_a_consumer(container_factory, make_config,
                                                         smtp_server, data):
    accounts = make_config("accounts")
    contributions = make_config("contributions")
    factories.add_member(accounts["DATABASE_URL"], "1234567", email="anne@example.fr")
    factories.add_contributor(contributions["DATABASE_URL"], "1234567")
    container_factory(AccountsService, accounts).start()
    container_factory(ContributionsService, contributions).start()
    container_factory(DocumentsService, make_config("documents")).start()
    config = make_config("notifications", SMTP_PORT=smtp_server.port)
    container_factory(NotificationsService, config).start()

    counts = {}
    for event_type, valid in VALID.items():
        items = data.draw(st.lists(malformed(valid), min_size=30, max_size=30), label=event_type)
        publish_malformed(config["AMQP_URI"], event_type, items)
        counts[event_type] = len(items)
    # a valid declaration still goes through the whole chain afterwards
    bus.publish(config["AMQP_URI"], factories.income_declared("1234567"))
    wait_for(lambda: len(smtp_server.messages()) >= 1, timeout=60)

    subscriber = {t: (s, m) for t, s, m in broker.SUBSCRIPTIONS}
    for event_type, published in counts.items():
        service, method = subscriber[event_type]
        dead = []

        def all_dead():
            dead.extend(bus.dead_letters(config["AMQP_URI"], event_type, service, method))
            return len(dead) >= published

        wait_for(all_dead, timeout=60, message=f"{published} dead letters for {event_type}")
        assert all(m.headers.get("x-carpimko-error") for m in dead)


def test_replay_after_the_cause_is_fixed_completes_the_chain_once(container_factory, make_config):
    config = make_config("contributions")
    container_factory(ContributionsService, config).start()
    bus.publish(config["AMQP_URI"], factories.income_declared("5555555"))  # unknown member
    wait_for(lambda: dead_letters.counts(config["AMQP_URI"])[
        broker.dead_letter_queue_name(broker.queue_name("income_declared", "contributions",
                                                        "on_income_declared"))] == 1)
    shown = dead_letters.show(config["AMQP_URI"], "contributions")
    assert "unknown member 5555555" in shown[0]["error"]
    factories.add_contributor(config["DATABASE_URL"], "5555555")  # the cause is fixed
    assert dead_letters.replay(config["AMQP_URI"], "contributions") == 1
    db = Database(config["DATABASE_URL"], pool_size=1)

    def assessments():
        with db.transaction() as session:
            return session.scalar(select(func.count()).select_from(Assessment))

    wait_for(lambda: assessments() == 1)
    assert dead_letters.replay(config["AMQP_URI"], "contributions") == 0
    db.dispose()
