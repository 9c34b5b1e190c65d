"""RabbitMQ topology and publishing, shared by services, the CLI and tests.

One durable topic exchange, ``carpimko.events``, carries every event with its
type as routing key (``<type>.silent`` for an event nobody is to be told of,
see :func:`routing_key`). Each subscription (service, handler) has:

- its queue ``evt-carpimko-<type>--<service>.<method>`` (nameko's naming),
- a ``.retry`` queue where a failed message waits (per-message TTL, growing
  with each attempt) before it dead-letters back to the main queue through
  the default exchange (not through the events exchange, which would
  redeliver it to every subscriber),
- a ``.dlq`` queue for messages that failed for good, with the reason in
  their headers.

Main queues carry no argument but their type: classic by default, quorum
(replicated, for a RabbitMQ cluster) with ``CARPIMKO_QUEUE_TYPE=quorum``. The
type cannot change once a queue exists (RabbitMQ refuses the redeclaration),
so it is decided before the first deployment. Queues are declared at
deploy/migration time (``carpimko broker setup``) as well as at start,
because events published before a queue exists would be dropped.
"""
from __future__ import annotations

import os
import time

from kombu import Connection, Exchange, Queue

from .events import EXCHANGE

SOURCE = "carpimko"  # nameko's event exchange is "<source>.events"
events_exchange = Exchange(EXCHANGE, type="topic", durable=True)

# (event type, service, handler method): who listens to what.
SUBSCRIPTIONS: list[tuple[str, str, str]] = [
    ("income_declared", "contributions", "on_income_declared"),
    ("contributions_recalculated", "documents", "on_contributions_recalculated"),
    ("document_generated", "notifications", "on_document_generated"),
    ("email_bounced", "accounts", "on_email_bounced"),
    ("payment_received", "contributions", "on_payment_received"),
    ("password_reset_requested", "notifications", "on_password_reset_requested"),
    ("password_changed", "notifications", "on_password_changed"),
    ("account_locked", "notifications", "on_account_locked"),
    ("email_verification_requested", "notifications", "on_email_verification_requested"),
    ("contact_details_changed", "notifications", "on_contact_details_changed"),
    # career record (issue #6)
    ("career_review_resolved", "contributions", "on_career_review_resolved"),
    ("career_statement_requested", "documents", "on_career_statement_requested"),
    # secure messaging (issue #9)
    ("career_year_flagged", "messaging", "on_career_year_flagged"),
    ("message_posted", "notifications", "on_message_posted"),
    ("schedule_changed", "documents", "on_schedule_changed"),
]


def queue_name(event_type: str, service: str, method: str) -> str:
    return f"evt-{SOURCE}-{event_type}--{service}.{method}"


def retry_queue_name(queue: str) -> str:
    return f"{queue}.retry"


def dead_letter_queue_name(queue: str) -> str:
    return f"{queue}.dlq"


def queue_type() -> str:
    value = os.environ.get("CARPIMKO_QUEUE_TYPE", "classic") or "classic"
    if value not in ("classic", "quorum"):
        raise ValueError(f"CARPIMKO_QUEUE_TYPE must be classic or quorum, not {value!r}")
    return value


def type_arguments(kind: str | None = None) -> dict:
    kind = kind or queue_type()
    return {"x-queue-type": "quorum"} if kind == "quorum" else {}


def main_queue(event_type: str, service: str, method: str, kind: str | None = None) -> Queue:
    return Queue(queue_name(event_type, service, method), exchange=events_exchange,
                 routing_key=event_type, durable=True, auto_delete=False, exclusive=False,
                 queue_arguments=type_arguments(kind) or None)


def retry_queue(queue: str, kind: str | None = None) -> Queue:
    return Queue(retry_queue_name(queue), durable=True, queue_arguments={
        **type_arguments(kind),
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": queue,
    })


def dead_letter_queue(queue: str, kind: str | None = None) -> Queue:
    return Queue(dead_letter_queue_name(queue), durable=True,
                 queue_arguments=type_arguments(kind) or None)


def declare_subscription(channel, event_type: str, service: str, method: str,
                         kind: str | None = None) -> None:
    main = main_queue(event_type, service, method, kind)
    events_exchange(channel).declare()
    main(channel).declare()
    retry_queue(main.name, kind)(channel).declare()
    dead_letter_queue(main.name, kind)(channel).declare()


def declare_topology(amqp_uri: str, subscriptions=None, kind: str | None = None) -> list[str]:
    """Declare the exchange and every subscription's queues; return main queue names."""
    names = []
    with Connection(amqp_uri, connect_timeout=5) as conn:
        channel = conn.channel()
        for event_type, service, method in subscriptions or SUBSCRIPTIONS:
            declare_subscription(channel, event_type, service, method, kind)
            names.append(queue_name(event_type, service, method))
        channel.close()
    return names


def check_broker(amqp_uri: str, timeout: float = 3) -> str | None:
    """None when RabbitMQ answers, else a one-line reason."""
    try:
        with Connection(amqp_uri, connect_timeout=timeout) as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"{type(exc).__name__}: {exc}"


class EventPublisher:
    """Publishes envelopes to the events exchange with publisher confirms.

    ``publish`` returns once RabbitMQ confirmed the message (persistent,
    routed to durable queues). Trace context travels in message headers.
    """

    def __init__(self, amqp_uri: str):
        self.amqp_uri = amqp_uri
        self._conn = None
        self._producer = None
        self._pipelined = self._pipelined_conn = None

    def _ensure(self):
        if self._producer is None:
            self._conn = Connection(self.amqp_uri, transport_options={"confirm_publish": True},
                                    connect_timeout=5)
            self._producer = self._conn.Producer(serializer="json")
        return self._producer

    def publish(self, envelope: dict) -> None:
        producer = self._ensure()
        try:
            producer.publish(
                envelope,
                exchange=events_exchange,
                routing_key=routing_key(envelope),
                delivery_mode=2,
                declare=[events_exchange],
                headers=trace_headers(envelope),
                retry=True,
                retry_policy={"max_retries": 3, "interval_start": 0.2, "interval_step": 0.5},
            )
        except Exception:
            self.close()
            raise

    def publish_many(self, envelopes, timeout: float = 30.0, bodies=None) -> None:
        """Publish ``envelopes`` in order and return once RabbitMQ confirmed
        every one of them; raise otherwise (a nack, a timeout, a lost
        connection), in which case any of them may or may not have gone out.
        ``bodies``, when given, is each envelope already encoded as JSON (the
        outbox keeps them so): it goes out as it is, not encoded again.

        Why not ``publish`` in a loop: each confirm is a round trip, and the
        outbox relay publishes batches. Here the messages go out back to back
        on a channel in confirm mode, and the broker acknowledges them
        together (``multiple``), as the RabbitMQ documentation advises for
        throughput. The guarantee is the same: nothing is reported sent
        before the broker has it.
        """
        envelopes = list(envelopes)
        if bodies is not None and len(bodies) != len(envelopes):
            raise ValueError("one body per envelope")
        if not envelopes:
            return
        try:
            conn, channel, producer, state = self._ensure_pipelined()
            first = state["published"] + 1
            encoded = {} if bodies is None else {"content_type": "application/json",
                                                  "content_encoding": "utf-8"}
            for i, envelope in enumerate(envelopes):
                producer.publish(envelope if bodies is None else bodies[i], exchange=events_exchange,
                                 routing_key=routing_key(envelope), delivery_mode=2,
                                 headers=trace_headers(envelope), **encoded)
                state["published"] += 1
            last = state["published"]
            deadline = time.monotonic() + timeout
            while state["acked"] < last:
                if state["nacked"] >= first:
                    raise RuntimeError("RabbitMQ refused (nack) a published event")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"no publisher confirm within {timeout:.0f}s")
                conn.drain_events(timeout=left)
            if state["nacked"] >= first:
                raise RuntimeError("RabbitMQ refused (nack) a published event")
        except Exception:
            self.close()
            raise

    def _ensure_pipelined(self):
        if self._pipelined is None:
            conn = Connection(self.amqp_uri, connect_timeout=5)
            conn.ensure_connection(max_retries=3, interval_start=0.2, interval_step=0.5)
            channel = conn.channel()
            events_exchange(channel).declare()
            channel.confirm_select()
            state = {"published": 0, "acked": 0, "nacked": 0}

            def on_ack(delivery_tag, multiple):
                state["acked"] = max(state["acked"], delivery_tag)

            def on_nack(delivery_tag, multiple):
                state["nacked"] = max(state["nacked"], delivery_tag)
                state["acked"] = max(state["acked"], delivery_tag)

            channel.events["basic_ack"].add(on_ack)
            channel.events["basic_nack"].add(on_nack)
            producer = conn.Producer(channel=channel, serializer="json")
            self._pipelined = (conn.connection, channel, producer, state)
            self._pipelined_conn = conn
        return self._pipelined

    def close(self) -> None:
        for conn in (self._conn, self._pipelined_conn):
            if conn is not None:
                try:
                    conn.release()
                except Exception:  # noqa: BLE001
                    pass
        self._conn = self._producer = None
        self._pipelined = self._pipelined_conn = None


def routing_key(envelope: dict) -> str:
    """The event's type; ``<type>.silent`` for an event whose payload says
    nobody is to be told of it (``notify`` false: a document announced in
    another document's message).

    Why: a declaration issues five documents and one message. The four
    silent ``document_generated`` went through the broker to notifications
    only to be claimed and skipped, about a fifth of the chain's messages.
    Subscriptions bind the type alone, which matches exactly the type, so
    they no longer receive the silent ones; whoever wants every event of a
    type binds ``<type>.#`` (the test spies do)."""
    payload = envelope.get("payload")
    if isinstance(payload, dict) and payload.get("notify") is False:
        return f"{envelope['type']}.{SILENT}"
    return envelope["type"]


SILENT = "silent"


def trace_headers(envelope: dict) -> dict:
    return {
        "carpimko.event_id": envelope["event_id"],
        "carpimko.correlation_id": envelope["correlation_id"],
        "carpimko.causation_id": envelope.get("causation_id") or "",
    }
