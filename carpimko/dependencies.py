"""nameko dependency providers shared by the services.

- :class:`DatabaseProvider` gives a worker the service's :class:`~carpimko.db.Database`
  (engine sized ``max_workers + 2``; transactions via ``db.transaction()``).
- :class:`OutboxRelay` runs the outbox relay in a managed greenthread: it
  publishes pending events with confirms (a batch at a time, one wait for all) as soon as a worker nudges it after
  a commit, and at least every ``OUTBOX_POLL_INTERVAL`` seconds otherwise
  (which also picks up what a crashed copy left behind).
"""
from __future__ import annotations

import logging

import eventlet
from eventlet.event import Event as GreenEvent
from nameko.extensions import DependencyProvider

from . import outbox
from . import rpc as _lean_rpc  # noqa: F401 - transient RPC messages in every service
from .broker import EventPublisher
from .db import Database

log = logging.getLogger(__name__)


class DatabaseProvider(DependencyProvider):
    def setup(self):
        config = self.container.config
        pool_size = int(config.get("max_workers", 10)) + 2
        self.database = Database(config["DATABASE_URL"], pool_size=pool_size)

    def stop(self):
        self.database.dispose()

    def get_dependency(self, worker_ctx):
        return self.database


class _RelayHandle:
    def __init__(self, relay):
        self._relay = relay

    def nudge(self):
        self._relay.nudge()


class OutboxRelay(DependencyProvider):
    """Publishes the service's outbox. Needs a :class:`DatabaseProvider` named ``db``."""

    def __init__(self, outbox_model, database_attr: str = "db", batch_size: int = 200):
        self.outbox_model = outbox_model
        self.database_attr = database_attr
        self.batch_size = batch_size
        self._wakeup = GreenEvent()
        self._running = False
        self._gt = None

    def setup(self):
        config = self.container.config
        self.poll_interval = float(config.get("OUTBOX_POLL_INTERVAL", 1.0))
        self.publisher = EventPublisher(config["AMQP_URI"])

    def start(self):
        self._running = True
        self._gt = self.container.spawn_managed_thread(self._run, identifier="outbox-relay")

    def stop(self):
        self._running = False
        self.nudge()
        if self._gt is not None:
            try:
                with eventlet.Timeout(10):
                    self._gt.wait()
            except (eventlet.Timeout, Exception):  # noqa: BLE001
                self._gt.kill()
        self.publisher.close()

    def kill(self):
        self._running = False
        if self._gt is not None:
            self._gt.kill()
        self.publisher.close()

    def nudge(self):
        if not self._wakeup.ready():
            self._wakeup.send(True)

    def _database(self) -> Database:
        for dep in self.container.dependencies:
            if getattr(dep, "attr_name", None) == self.database_attr:
                return dep.database
        raise RuntimeError(f"OutboxRelay needs a DatabaseProvider named {self.database_attr!r}")

    def _run(self):
        database = self._database()
        while self._running:
            try:
                sent = outbox.relay_batch(database, self.outbox_model, self.publisher.publish,
                                          self.batch_size, publish_many=self.publisher.publish_many)
            except Exception:  # noqa: BLE001 - broker or database down: wait and retry
                log.exception("outbox relay failed; will retry")
                sent = 0
                eventlet.sleep(min(self.poll_interval, 2.0))
            if sent >= self.batch_size:
                continue  # more waiting: keep going
            with eventlet.Timeout(self.poll_interval, False):
                self._wakeup.wait()
            self._wakeup = GreenEvent()

    def get_dependency(self, worker_ctx):
        return _RelayHandle(self)
