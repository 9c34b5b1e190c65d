"""Test helpers on the real broker: publish events, watch what services emit,
read dead-letter queues."""
from __future__ import annotations

import time
import uuid

from kombu import Connection, Queue

from carpimko import broker
from carpimko.broker import EventPublisher


class EventSpy:
    """A private queue bound to the events exchange for some event types."""

    def __init__(self, amqp_uri: str, *event_types: str):
        self.conn = Connection(amqp_uri)
        self.queue = Queue(f"spy-{uuid.uuid4().hex[:8]}", exchange=broker.events_exchange,
                           bindings=None, durable=False, auto_delete=False, exclusive=True)
        channel = self.conn.channel()
        broker.events_exchange(channel).declare()
        self.bound = self.queue(channel)
        self.bound.declare()
        for event_type in event_types:  # every event of the type, silent ones too
            self.bound.bind_to(exchange=broker.EXCHANGE, routing_key=f"{event_type}.#")
        self.received: list[dict] = []

    def drain(self) -> list[dict]:
        while True:
            message = self.bound.get(no_ack=True)
            if message is None:
                return self.received
            self.received.append(message.payload)

    def wait(self, count: int, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.drain()) >= count:
                return self.received
            time.sleep(0.05)
        raise AssertionError(f"expected {count} event(s), got {len(self.received)}: {self.received}")

    def close(self):
        self.conn.release()


def publish(amqp_uri: str, *envelopes: dict) -> None:
    publisher = EventPublisher(amqp_uri)
    try:
        for envelope in envelopes:
            publisher.publish(envelope)
    finally:
        publisher.close()


def publish_raw(amqp_uri: str, body, routing_key: str) -> None:
    with Connection(amqp_uri) as conn:
        conn.Producer(serializer="json").publish(body, exchange=broker.events_exchange,
                                                 routing_key=routing_key,
                                                 declare=[broker.events_exchange])


def dead_letters(amqp_uri: str, event_type: str, service: str, method: str) -> list:
    """Messages in a subscription's .dlq (consumed: the test owns its vhost)."""
    return drain(amqp_uri, broker.dead_letter_queue_name(broker.queue_name(event_type, service, method)))


def drain(amqp_uri: str, queue, wait: float | None = None) -> list:
    """Every message in ``queue`` (a name, or a kombu Queue), consumed and acked;
    ``wait``: how long to wait for one more before stopping (None: not at all)."""
    out = []
    with Connection(amqp_uri) as conn:
        queue = conn.SimpleQueue(queue)
        while True:
            try:
                message = queue.get(block=wait is not None, timeout=wait)
            except queue.Empty:
                break
            out.append(message)
            message.ack()
        queue.close()
    return out
