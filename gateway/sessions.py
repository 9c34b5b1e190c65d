"""The member's session as the gateway sees it: asked of accounts, then kept
a few seconds by this gateway copy.

Why: every page asked accounts (``resolve_session``), an RPC per page that
cost about 7 ms of CPU across the gateway, RabbitMQ, accounts and PostgreSQL
(docs/benchmarks.md). A member reading pages asks it once per ``ttl`` now.

What keeps it as safe as asking every time (docs/architecture.md,
"Sessions in the gateway"):

- a kept session is served for at most ``ttl`` seconds, and never past the
  end accounts gave it (``valid_for``: idle limit or absolute expiry, counted
  from before the question was sent, so no clock is shared between machines);
- accounts tells every gateway copy when sessions end (logout, log out
  everywhere, a new password, FranceConnect logout: ``sessions_ended``,
  ``carpimko/session_events.py``); the copy forgets every session it kept for
  that member. This copy's own logouts forget locally before answering;
- the cache is used only while this copy listens to those messages
  (:class:`SessionEndingsListener`); it starts empty each time the listener
  (re)connects, so a message missed while disconnected cannot matter;
- an answer that was on its way while a session ended is not kept (it may
  predate the end): every forget moves a generation counter;
- "no session" is never kept, nor a failed call: those ask accounts every time.
"""
from __future__ import annotations

import hashlib
import logging
import socket
import time
import uuid

from kombu import Connection, Queue

from carpimko import session_events

from . import web

log = logging.getLogger(__name__)

DEFAULT_TTL = 15.0  # seconds (config SESSION_CACHE_SECONDS; 0: ask accounts every time)
MAX_ENTRIES = 20_000


def _key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionCache:
    """Sessions resolved by accounts, by token digest; plain Python (one
    process, green threads: no lock needed, nothing here yields)."""

    def __init__(self, ttl: float = DEFAULT_TTL, max_entries: int = MAX_ENTRIES,
                 clock=time.monotonic):
        self.ttl = float(ttl)
        self.max_entries = max_entries
        self.clock = clock
        self._entries: dict[str, tuple[float, str, dict]] = {}  # key -> (deadline, member, session)
        self._by_member: dict[str, set[str]] = {}
        self._generation = 0
        self.listening = False  # set by the listener: no cache while deaf to endings

    @property
    def enabled(self) -> bool:
        return self.ttl > 0 and self.listening

    def get(self, token: str) -> dict | None:
        if not self.enabled:
            return None
        key = _key(token)
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self.clock() >= entry[0]:
            self._drop(key)
            return None
        return entry[2]

    def ticket(self) -> tuple[int, float]:
        """Taken before asking accounts: what :meth:`keep` needs to decide."""
        return self._generation, self.clock()

    def keep(self, token: str, session: dict, ticket: tuple[int, float]) -> None:
        """Keep accounts' answer, unless a session ended since ``ticket`` was
        taken, or accounts did not say how long it lives."""
        generation, asked_at = ticket
        valid_for = session.get("valid_for")
        if (not self.enabled or generation != self._generation
                or not isinstance(valid_for, (int, float))):
            return
        deadline = asked_at + min(self.ttl, float(valid_for))
        if deadline <= self.clock():
            return
        if len(self._entries) >= self.max_entries:
            self._prune()
        key = _key(token)
        file_number = session["member"]["file_number"]
        self._entries[key] = (deadline, file_number, session)
        self._by_member.setdefault(file_number, set()).add(key)

    def forget_member(self, file_number: str) -> None:
        self._generation += 1
        for key in self._by_member.pop(file_number, ()):
            self._entries.pop(key, None)

    def forget_token(self, token: str) -> None:
        self._generation += 1
        self._drop(_key(token))

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        self._by_member.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            keys = self._by_member.get(entry[1])
            if keys is not None:
                keys.discard(key)
                if not keys:
                    del self._by_member[entry[1]]

    def _prune(self) -> None:
        now = self.clock()
        for key in [k for k, entry in self._entries.items() if entry[0] <= now]:
            self._drop(key)
        while len(self._entries) >= self.max_entries:  # still full: the oldest go first
            self._drop(next(iter(self._entries)))


def resolve(ctx, token: str | None) -> dict | None:
    """The live session of ``token`` (kept, or asked of accounts), or None."""
    if not token:
        return None
    cache = getattr(ctx, "sessions", None)
    if cache is None:
        return ctx.backends.call("accounts", "resolve_session", token) or None
    session = cache.get(token)
    if session is not None:
        return session
    ticket = cache.ticket()
    session = ctx.backends.call("accounts", "resolve_session", token)
    if session:
        cache.keep(token, session, ticket)
    return session or None


def request_token(ctx, request) -> str | None:
    return request.cookies.get(web.cookie_name(ctx.cookie_secure)) or None


def forget(ctx, token: str | None = None, file_number: str | None = None) -> None:
    """This copy forgets a session (or all of a member's) it ended itself,
    before answering; the other copies learn it from accounts."""
    cache = getattr(ctx, "sessions", None)
    if cache is None:
        return
    if file_number:
        cache.forget_member(file_number)
    if token:
        cache.forget_token(token)


class SessionEndingsListener:
    """Listens to ``sessions_ended`` on an exclusive queue of its own (one
    per gateway copy) and forgets the member's sessions at once, in its own
    green thread: no nameko worker, so a busy gateway does not delay it.

    The cache is on only while the queue is consumed: it is emptied and
    switched on once the consumer is in place, and switched off (and
    emptied) as soon as the connection fails; it then reconnects."""

    def __init__(self, cache: SessionCache, amqp_uri: str, exchange, heartbeat: int = 10,
                 retry_seconds: float = 1.0):
        self.cache = cache
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self.heartbeat = heartbeat
        self.retry_seconds = retry_seconds
        self.queue_name = f"gateway-sessions-ended-{uuid.uuid4().hex}"
        self.running = True

    def on_message(self, body, message) -> None:
        file_number = body.get("file_number") if isinstance(body, dict) else None
        if isinstance(file_number, str) and file_number:
            self.cache.forget_member(file_number)
        else:  # not understood: forget everything rather than keep a dead session
            log.warning("sessions_ended without a file number: every kept session forgotten")
            self.cache.clear()

    def _deaf(self) -> None:
        self.cache.listening = False
        self.cache.clear()

    def run(self) -> None:
        import eventlet
        while self.running:
            try:
                with Connection(self.amqp_uri, heartbeat=self.heartbeat,
                                connect_timeout=5) as conn:
                    queue = Queue(self.queue_name, exchange=self.exchange,
                                  routing_key=session_events.SESSIONS_ENDED, durable=False,
                                  exclusive=True, auto_delete=True)
                    with conn.Consumer(queue, callbacks=[self.on_message], accept=["json"],
                                       no_ack=True):
                        self.cache.clear()
                        self.cache.listening = True
                        while self.running:
                            try:
                                conn.drain_events(timeout=1)
                            except socket.timeout:
                                conn.heartbeat_check()
            except Exception as exc:  # noqa: BLE001 - broker gone: deaf until reconnected
                if self.running:
                    log.warning("sessions_ended listener disconnected (%s); sessions are "
                                "asked of accounts until it reconnects", exc)
            finally:
                self._deaf()
            if self.running:
                eventlet.sleep(self.retry_seconds)
