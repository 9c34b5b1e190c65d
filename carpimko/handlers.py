"""A reliable event handler: validate, retry with back-off, then dead-letter.

nameko's own ``event_handler`` acks a failing message away (or, with
``requeue_on_error``, loops on it thousands of times a second). This one:

- parses the envelope before a worker starts; an invalid event goes straight
  to the dead-letter queue with the reason (it can never succeed);
- on a handler error, republishes the message to the subscription's
  ``.retry`` queue with a per-message TTL of ``RETRY_DELAY * 2**(n-1)``
  seconds (at most 60), from which RabbitMQ dead-letters it back to the main
  queue; after ``MAX_ATTEMPTS`` tries, or at once for a
  :class:`~carpimko.errors.PermanentFailure`, it goes to ``.dlq`` with the
  reason, attempt count and original queue in its headers;
- only then acks the original. A crash in between redelivers it: consumers
  are idempotent (inbox), so that costs nothing.
"""
from __future__ import annotations

import logging
import traceback
from datetime import datetime, timezone

from functools import partial

from eventlet.semaphore import Semaphore
from kombu import Connection
from nameko.exceptions import ContainerBeingKilled
from nameko.events import EventHandler
from nameko.messaging import QueueConsumer

from . import broker
from .errors import PermanentFailure
from .events import InvalidEvent, parse_event

log = logging.getLogger(__name__)

ATTEMPTS_HEADER = "x-carpimko-attempts"
MAX_DELAY = 60.0


class ReliableQueueConsumer(QueueConsumer):
    """nameko's queue consumer, except that a message whose body cannot even be
    decoded (not JSON, a content type we do not accept) goes to the dead-letter
    queue of its subscription with the reason, instead of being acked away with
    only a log line (kombu's default)."""

    def on_decode_error(self, message, exc):
        tag = (message.delivery_info or {}).get("consumer_tag")
        provider = next((p for p, consumer in self._consumers.items()
                         if tag in getattr(consumer, "_active_tags", {}).values()), None)
        reason = f"undecodable message ({message.content_type}): {exc}"
        if provider is None:
            log.error("dropping %s: no subscription found for consumer tag %s", reason, tag)
        else:
            log.error("dead-lettering %s from %s", reason, provider.queue.name)
            provider.dead_letter_raw(message, reason)
        self.ack_message(message)


class ReliableEventHandler(EventHandler):
    queue_consumer = ReliableQueueConsumer()

    def __init__(self, event_type: str, **kwargs):
        super().__init__(broker.SOURCE, event_type, **kwargs)

    def setup(self):
        super().setup()
        config = self.container.config
        arguments = broker.type_arguments(config.get("QUEUE_TYPE"))
        if arguments:  # same declaration as `carpimko broker setup`
            self.queue.queue_arguments = arguments
        self.max_attempts = int(config.get("MAX_ATTEMPTS", 5))
        self.retry_delay = float(config.get("RETRY_DELAY", 1))
        self.retry_queue = broker.retry_queue_name(self.queue.name)
        self.dead_letter_queue = broker.dead_letter_queue_name(self.queue.name)
        with Connection(config["AMQP_URI"], connect_timeout=10) as conn:
            channel = conn.channel()
            broker.declare_subscription(channel, self.event_type, self.container.service_name,
                                        self.method_name, config.get("QUEUE_TYPE"))
            channel.close()
        self._connection = Connection(config["AMQP_URI"],
                                      transport_options={"confirm_publish": True})
        self._publish_lock = Semaphore(1)  # one channel, many greenthreads

    def stop(self):
        super().stop()
        try:
            self._connection.release()
        except Exception:  # noqa: BLE001
            pass

    # -- incoming -----------------------------------------------------------------
    def handle_message(self, body, message):
        event = self._parsed(body, message)
        if event is not None:
            super().handle_message(event, message)

    def _parsed(self, body, message):
        """The event, or None once an invalid one is dead-lettered and acked."""
        try:
            return parse_event(body)
        except InvalidEvent as exc:
            log.error("rejecting invalid event on %s: %s", self.queue.name, exc)
            self._forward(message, body, self.dead_letter_queue, reason=str(exc),
                          attempts=self._attempts(message) + 1)
            self.queue_consumer.ack_message(message)
            return None

    # -- outcome ------------------------------------------------------------------
    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        exc = exc_info[1]
        attempts = self._attempts(message) + 1
        reason = "".join(traceback.format_exception_only(type(exc), exc)).strip()
        permanent = isinstance(exc, PermanentFailure)
        if permanent or attempts >= self.max_attempts:
            log.error("dead-lettering message from %s after %d attempt(s): %s",
                      self.queue.name, attempts, reason)
            self._forward(message, message.payload, self.dead_letter_queue, reason, attempts)
        else:
            delay = min(self.retry_delay * 2 ** (attempts - 1), MAX_DELAY)
            log.warning("retrying message from %s in %.1fs (attempt %d/%d): %s",
                        self.queue.name, delay, attempts, self.max_attempts, reason)
            self._forward(message, message.payload, self.retry_queue, reason, attempts,
                          expiration=delay)
        self.queue_consumer.ack_message(message)

    @staticmethod
    def _attempts(message) -> int:
        try:
            return int((message.headers or {}).get(ATTEMPTS_HEADER, 0))
        except (TypeError, ValueError):
            return 0

    def dead_letter_raw(self, message, reason):
        """Keep an undecodable message's bytes as they came, with the reason."""
        headers = dict(message.headers or {})
        headers.update({ATTEMPTS_HEADER: 1, "x-carpimko-error": reason[:2000],
                        "x-carpimko-queue": self.queue.name,
                        "x-carpimko-failed-at": datetime.now(timezone.utc).isoformat()})
        with self._publish_lock:
            producer = self._connection.Producer()
            producer.publish(message.body, exchange="", routing_key=self.dead_letter_queue,
                             delivery_mode=2, headers=headers,
                             content_type=message.content_type or "application/octet-stream",
                             content_encoding=message.content_encoding or "binary",
                             retry=True, retry_policy={"max_retries": 3, "interval_start": 0.2})

    def _forward(self, message, body, queue, reason, attempts, expiration=None):
        headers = {k: v for k, v in (message.headers or {}).items() if not k.startswith("x-death")}
        headers.update({
            ATTEMPTS_HEADER: attempts,
            "x-carpimko-error": reason[:2000],
            "x-carpimko-queue": self.queue.name,
            "x-carpimko-failed-at": datetime.now(timezone.utc).isoformat(),
        })
        kwargs = {}
        if expiration is not None:
            kwargs["expiration"] = expiration
        if not isinstance(body, (dict, list, str, int, float, bool, type(None))):
            body = repr(body)
        with self._publish_lock:
            producer = self._connection.Producer(serializer="json")
            producer.publish(body, exchange="", routing_key=queue, delivery_mode=2,
                             headers=headers, retry=True,
                             retry_policy={"max_retries": 3, "interval_start": 0.2}, **kwargs)


reliable_event_handler = ReliableEventHandler.decorator


class BatchQueueConsumer(ReliableQueueConsumer):
    """The queue consumer of batch handlers: a prefetch large enough for a
    batch to gather while the previous ones are handled."""

    @property
    def prefetch_count(self):
        config = self.container.config
        size = int(config.get("BATCH_SIZE", DEFAULT_BATCH_SIZE))
        concurrency = int(config.get("BATCH_CONCURRENCY", DEFAULT_BATCH_CONCURRENCY))
        return max(self.container.max_workers, size * (concurrency + 1))


DEFAULT_BATCH_SIZE = 50
DEFAULT_BATCH_CONCURRENCY = 2


class BatchEventHandler(ReliableEventHandler):
    """Hands the decorated method a *list* of events: one worker, one
    transaction, one RPC per batch instead of one per event.

    Why: on the main chain, a worker per event spent more CPU on the worker,
    its transactions, its inbox check and its RPCs than on the work itself.

    Batches form by themselves (no timer, so no added latency): an event that
    arrives while fewer than ``BATCH_CONCURRENCY`` batches are being handled
    is handed over at once, alone if it is alone; the events that arrive
    meanwhile wait (up to ``BATCH_SIZE`` per batch) for the next free slot.
    At a low rate every batch is one event; under load they grow.

    Reliability is the single handler's, event by event: the messages of a
    batch are acked only once the method returns. When it raises, each event
    of the batch is handled again alone, and only the one that fails again
    goes through retry and dead-lettering with its own attempt count. The
    method must therefore be idempotent per event (inbox), as every handler
    already is, and should commit a batch's effects in one transaction.
    """

    queue_consumer = BatchQueueConsumer()

    def setup(self):
        super().setup()
        config = self.container.config
        self.batch_size = max(1, int(config.get("BATCH_SIZE", DEFAULT_BATCH_SIZE)))
        self.concurrency = max(1, int(config.get("BATCH_CONCURRENCY", DEFAULT_BATCH_CONCURRENCY)))
        self._waiting: list = []  # (event, message) not yet handed to a worker
        self._in_flight = 0

    def handle_message(self, body, message):
        event = self._parsed(body, message)
        if event is None:
            return
        self._waiting.append((event, message))
        if self._in_flight < self.concurrency:
            self._hand_over()

    def _hand_over(self):
        if not self._waiting:
            return
        batch = self._waiting[:self.batch_size]
        del self._waiting[:self.batch_size]
        self._in_flight += 1
        events = [event for event, _ in batch]
        try:
            self.container.spawn_worker(
                self, (events,), {},
                context_data=self.unpack_message_headers(batch[0][1]),
                handle_result=partial(self._batch_handled, batch))
        except ContainerBeingKilled:
            self._in_flight -= 1
            for _, message in batch:
                self.queue_consumer.requeue_message(message)

    def _batch_handled(self, batch, worker_ctx, result=None, exc_info=None):
        self._in_flight -= 1
        if exc_info is None:
            for _, message in batch:
                self.queue_consumer.ack_message(message)
        elif len(batch) == 1:
            self.handle_message_processed(batch[0][1], result, exc_info)
        else:
            exc = exc_info[1]
            log.warning("a batch of %d events from %s failed (%s: %s); handling each alone",
                        len(batch), self.queue.name, type(exc).__name__, exc)
            self.container.spawn_managed_thread(partial(self._one_by_one, batch),
                                                identifier="batch-fallback")
        if self._waiting:
            self.container.spawn_managed_thread(self._hand_over, identifier="batch-hand-over")
        return result, exc_info

    def _one_by_one(self, batch):
        for event, message in batch:
            try:
                self.container.spawn_worker(
                    self, ([event],), {}, context_data=self.unpack_message_headers(message),
                    handle_result=partial(self.handle_result, message))
            except ContainerBeingKilled:
                self.queue_consumer.requeue_message(message)


batch_event_handler = BatchEventHandler.decorator
