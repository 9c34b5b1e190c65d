"""Sessions that ended in accounts, told at once to every gateway copy.

Each gateway copy keeps the sessions it resolved for a few seconds
(``gateway/sessions.py``) instead of asking accounts on every page. So that a
logout, "log out everywhere" or a new password still ends a session on every
copy at once, accounts publishes ``sessions_ended`` (``{"file_number"}``)
after the commit of any transaction that ended sessions, and each gateway
copy forgets every session of that member it kept.

How a transaction says so: the service layer calls :func:`note_ended` on its
database session whenever it deletes sessions (``accounts/authentication.py``);
:class:`SessionEndingsBroadcast` publishes what was noted once the commit is
done (SQLAlchemy's ``after_commit``), so no code path that ends sessions can
forget to tell the gateways.

This is a signal to caches, not one of the fund's events (``events.py``):
transient, on nameko's ``accounts.events`` exchange, to one exclusive queue
per gateway copy; a copy that is not listening does not use its cache at all.
"""
from __future__ import annotations

import logging

from nameko.amqp.publish import Publisher
from nameko.constants import NON_PERSISTENT
from nameko.extensions import DependencyProvider
from nameko.standalone.events import get_event_exchange
from sqlalchemy import event

log = logging.getLogger(__name__)

SOURCE = "accounts"  # nameko's exchange "accounts.events"
SESSIONS_ENDED = "sessions_ended"
_NOTE = "carpimko.sessions_ended"


def exchange(config: dict):
    return get_event_exchange(SOURCE, config)


def note_ended(db_session, file_number: str) -> None:
    """Record, on the database session, that sessions of ``file_number`` end
    when this transaction commits."""
    db_session.info.setdefault(_NOTE, set()).add(file_number)


def noted(db_session) -> set[str]:
    """The file numbers noted so far in this transaction (tests, the broadcast)."""
    return set(db_session.info.get(_NOTE, ()))


class SessionEndingsBroadcast(DependencyProvider):
    """Publishes ``sessions_ended`` after each commit that ended sessions.
    Needs a :class:`~carpimko.dependencies.DatabaseProvider` named ``db``.

    The publish is confirmed by RabbitMQ before the commit call returns, so
    the message is in every listening gateway's queue before the RPC that
    ended the sessions answers. A failure to publish is raised to the caller
    (the sessions did end; the gateway that asked forgets them itself)."""

    def __init__(self, database_attr: str = "db"):
        self.database_attr = database_attr
        self._sessionmaker = None

    def setup(self):
        config = self.container.config
        self.exchange = exchange(config)
        self.publisher = Publisher(config["AMQP_URI"], use_confirms=True, serializer="json",
                                   delivery_mode=NON_PERSISTENT, declare=[self.exchange])

    def start(self):
        for dep in self.container.dependencies:
            if getattr(dep, "attr_name", None) == self.database_attr:
                self._sessionmaker = dep.database.sessionmaker
                break
        else:
            raise RuntimeError(f"SessionEndingsBroadcast needs a DatabaseProvider named "
                               f"{self.database_attr!r}")
        event.listen(self._sessionmaker, "after_commit", self._after_commit)
        event.listen(self._sessionmaker, "after_rollback", self._after_rollback)

    def stop(self):
        if self._sessionmaker is not None:
            event.remove(self._sessionmaker, "after_commit", self._after_commit)
            event.remove(self._sessionmaker, "after_rollback", self._after_rollback)
            self._sessionmaker = None

    def kill(self):
        self.stop()

    def _after_commit(self, db_session):
        for file_number in sorted(db_session.info.pop(_NOTE, ())):
            self.publisher.publish({"file_number": file_number}, exchange=self.exchange,
                                   routing_key=SESSIONS_ENDED)

    @staticmethod
    def _after_rollback(db_session):
        db_session.info.pop(_NOTE, None)  # nothing ended after all

    def get_dependency(self, worker_ctx):
        return None
