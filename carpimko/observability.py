"""Seeing what happens: the chain's correlation id on every log line,
Prometheus metrics, and a small HTTP endpoint per service copy.

:class:`Observability` is a nameko dependency provider added to every
service. In each worker it sets the correlation id of the event being
handled (for the logs) and records counts and latencies; in each copy it
serves, on ``METRICS_PORT`` (0: off):

- ``/metrics``: Prometheus text format — events handled and failed per type,
  handler latency, RPC entrypoint latency, outbox backlog, dead letters;
- ``/healthz``: liveness (the process answers);
- ``/readyz``: readiness (its database answers; 503 otherwise).
"""
from __future__ import annotations

import contextvars
import json
import logging
import os
import time

import eventlet
import eventlet.wsgi
from nameko.extensions import DependencyProvider
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from prometheus_client.core import REGISTRY, GaugeMetricFamily

log = logging.getLogger(__name__)

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "correlation_id", default=None)

EVENTS_HANDLED = Counter("carpimko_events_handled_total", "Events handled successfully",
                         ["service", "event_type"])
EVENTS_FAILED = Counter("carpimko_events_failed_total",
                        "Event handler failures (each one is retried or dead-lettered)",
                        ["service", "event_type"])
HANDLER_SECONDS = Histogram("carpimko_event_handler_seconds", "Event handler latency",
                            ["service", "event_type"],
                            buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))
RPC_SECONDS = Histogram("carpimko_rpc_seconds", "RPC and HTTP entrypoint latency",
                        ["service", "method", "outcome"],
                        buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10))


class CorrelationFilter(logging.Filter):
    def filter(self, record):
        record.correlation_id = correlation_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Messages never carry personal figures: the
    code logs ids (file numbers, event ids), not amounts or addresses."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record):
        entry = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": self.service,
            "pid": os.getpid(),
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": getattr(record, "correlation_id", None),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _BacklogCollector:
    """Outbox backlog and dead letters, computed when Prometheus scrapes."""

    def __init__(self, provider):
        self.provider = provider

    def collect(self):
        service = self.provider.container.service_name
        backlog = GaugeMetricFamily("carpimko_outbox_pending", "Events waiting in the outbox",
                                    labels=["service"])
        pending = self.provider.outbox_pending()
        if pending is not None:
            backlog.add_metric([service], pending)
        yield backlog
        dead = GaugeMetricFamily("carpimko_dead_letters", "Messages in dead-letter queues",
                                 labels=["service", "queue"])
        for queue, count in self.provider.dead_letter_counts().items():
            dead.add_metric([service, queue], count)
        yield dead


class Observability(DependencyProvider):
    def setup(self):
        self.port = int(self.container.config.get("METRICS_PORT", 0) or 0)
        self._server = None
        self._collector = None
        self._starts = {}

    def start(self):
        if not self.port:
            return
        self._collector = _BacklogCollector(self)
        REGISTRY.register(self._collector)
        sock = eventlet.listen(("0.0.0.0", self.port))
        self._sock = sock
        self._server = self.container.spawn_managed_thread(
            lambda: eventlet.wsgi.server(sock, self._app, log=_QuietLog(), log_output=False),
            identifier="observability-http")

    def stop(self):
        if self._collector is not None:
            REGISTRY.unregister(self._collector)
            self._collector = None
        if self._server is not None:
            self._server.kill()
            self._sock.close()
            self._server = None

    kill = stop

    # -- workers --------------------------------------------------------------------------
    def worker_setup(self, worker_ctx):
        self._starts[worker_ctx] = time.perf_counter()
        events = _events_of(worker_ctx)
        ids = {getattr(event, "correlation_id", None) for event in events}
        # a batch of one chain's events keeps its id; a mixed batch has none
        correlation_id.set(ids.pop() if len(ids) == 1 else None)

    def worker_result(self, worker_ctx, result=None, exc_info=None):
        started = self._starts.pop(worker_ctx, None)
        elapsed = time.perf_counter() - started if started is not None else 0.0
        service = self.container.service_name
        events = _events_of(worker_ctx)
        event_type = getattr(events[0], "type", None) if events else None
        if event_type is not None:  # a batch: one observation, each event counted
            HANDLER_SECONDS.labels(service, event_type).observe(elapsed)
            (EVENTS_FAILED if exc_info else EVENTS_HANDLED).labels(service, event_type).inc(
                len(events))
        else:
            RPC_SECONDS.labels(service, worker_ctx.entrypoint.method_name,
                               "error" if exc_info else "ok").observe(elapsed)

    # -- what the HTTP endpoint reports ------------------------------------------------------
    def _dependency(self, attr):
        for dep in self.container.dependencies:
            if getattr(dep, "attr_name", None) == attr:
                return dep
        return None

    def outbox_pending(self):
        from . import outbox
        relay = next((d for d in self.container.dependencies
                      if type(d).__name__ == "OutboxRelay"), None)
        db = self._dependency("db")
        if relay is None or db is None:
            return None
        try:
            return outbox.pending_count(db.database, relay.outbox_model)
        except Exception:  # noqa: BLE001 - a scrape must not fail
            return None

    def dead_letter_counts(self) -> dict:
        from kombu import Connection

        from . import broker
        service = self.container.service_name
        names = [broker.dead_letter_queue_name(broker.queue_name(*s))
                 for s in broker.SUBSCRIPTIONS if s[1] == service]
        counts = {}
        if not names:
            return counts
        try:
            with Connection(self.container.config["AMQP_URI"], connect_timeout=2) as conn:
                channel = conn.channel()
                for name in names:
                    try:
                        counts[name] = channel.queue_declare(name, passive=True).message_count
                    except Exception:  # noqa: BLE001 - not declared yet
                        channel = conn.channel()
        except Exception:  # noqa: BLE001
            pass
        return counts

    def ready(self) -> tuple[bool, str]:
        db = self._dependency("db")
        if db is not None:
            try:
                from sqlalchemy import text
                with db.database.transaction() as session:
                    session.execute(text("SELECT 1"))
            except Exception as exc:  # noqa: BLE001
                return False, f"database: {type(exc).__name__}"
        return True, "ready"

    def _app(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            body = generate_latest(REGISTRY)
            start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
            return [body]
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"alive\n"]
        if path == "/readyz":
            ok, reason = self.ready()
            start_response("200 OK" if ok else "503 Service Unavailable",
                           [("Content-Type", "text/plain")])
            return [reason.encode() + b"\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]

    def get_dependency(self, worker_ctx):
        return None


class _QuietLog:
    def write(self, *_args):
        pass


def _events_of(worker_ctx) -> list:
    """The event(s) a worker handles: one for a handler, a list for a batch
    handler, none (an empty list) for an RPC."""
    args = worker_ctx.args or ()
    first = args[0] if args else None
    candidates = first if isinstance(first, list) else [first]
    return [event for event in candidates if getattr(event, "type", None) is not None]
