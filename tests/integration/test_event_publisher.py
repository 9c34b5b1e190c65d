"""The event publisher's batch path on a real RabbitMQ: everything confirmed
arrives, in order, with its trace headers; a message the broker refuses makes
the whole call fail, so the outbox keeps the rows pending
(carpimko/broker.py, EventPublisher.publish_many)."""
from __future__ import annotations

import pytest
from kombu import Connection, Queue

from carpimko import broker
from carpimko.broker import EventPublisher
from tests.support import bus, factories


def _bound_queue(amqp_uri, name, **arguments):
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        broker.events_exchange(channel).declare()
        Queue(name, exchange=broker.events_exchange, routing_key="income_declared",
              queue_arguments=arguments or None)(channel).declare()


def _drain(amqp_uri, name):
    return bus.drain(amqp_uri, Queue(name, no_declare=True), wait=1)


def test_a_batch_arrives_whole_in_order_with_trace_headers(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    _bound_queue(uri, "watch")
    envelopes = [factories.income_declared(str(1000000 + i)) for i in range(500)]
    publisher = EventPublisher(uri)
    try:
        publisher.publish_many(envelopes[:200])
        publisher.publish_many(envelopes[200:])  # the same channel, its counters go on
        publisher.publish_many([])
    finally:
        publisher.close()
    received = _drain(uri, "watch")
    assert [m.payload["event_id"] for m in received] == [e["event_id"] for e in envelopes]
    assert received[7].headers["carpimko.event_id"] == envelopes[7]["event_id"]
    assert received[7].properties["delivery_mode"] == 2


def test_bodies_already_encoded_go_out_as_they_are(rabbit_config):
    """The outbox relay hands the stored JSON along: it is sent as is, and a
    consumer decodes the same envelope."""
    import json
    uri = rabbit_config["AMQP_URI"]
    _bound_queue(uri, "stored")
    envelopes = [factories.income_declared(str(2000000 + i)) for i in range(3)]
    bodies = [json.dumps(e, separators=(",", ":")) for e in envelopes]
    publisher = EventPublisher(uri)
    try:
        with pytest.raises(ValueError, match="one body per envelope"):
            publisher.publish_many(envelopes, bodies=bodies[:2])
        publisher.publish_many(envelopes, bodies=bodies)
    finally:
        publisher.close()
    received = _drain(uri, "stored")
    assert [m.body for m in received] == bodies
    assert [m.payload for m in received] == envelopes
    assert received[0].content_type == "application/json"
    assert received[0].headers["carpimko.event_id"] == envelopes[0]["event_id"]


def test_a_refused_message_fails_the_batch(rabbit_config):
    uri = rabbit_config["AMQP_URI"]
    _bound_queue(uri, "full", **{"x-max-length": 5, "x-overflow": "reject-publish"})
    publisher = EventPublisher(uri)
    try:
        with pytest.raises(RuntimeError, match="nack"):
            publisher.publish_many([factories.income_declared("1234567") for _ in range(10)])
        _drain(uri, "full")
        publisher.publish_many([factories.income_declared("1234567")])  # reconnects afterwards
    finally:
        publisher.close()
    assert len(_drain(uri, "full")) == 1


def test_an_announcement_nobody_is_told_of_reaches_no_subscription(rabbit_config):
    """``notify`` false goes out as ``document_generated.silent``: notifications'
    queue (bound to the type) gets only what it acts on; a ``type.#`` binding
    gets both."""
    uri = rabbit_config["AMQP_URI"]
    with Connection(uri) as conn:
        channel = conn.channel()
        broker.declare_subscription(channel, "document_generated", "notifications",
                                    "on_document_generated")
        Queue("everything", exchange=broker.events_exchange,
              routing_key="document_generated.#")(channel).declare()
    told = factories.document_generated("1234567")
    silent = factories.document_generated("1234567", notify=False)
    publisher = EventPublisher(uri)
    try:
        publisher.publish_many([silent, told])
        publisher.publish(silent)
    finally:
        publisher.close()
    main = broker.queue_name("document_generated", "notifications", "on_document_generated")
    assert [m.payload["event_id"] for m in _drain(uri, main)] == [told["event_id"]]
    assert [m.payload["event_id"] for m in _drain(uri, "everything")] == [
        silent["event_id"], told["event_id"], silent["event_id"]]
    assert broker.routing_key(silent) == "document_generated.silent"
    assert broker.routing_key(told) == "document_generated"
