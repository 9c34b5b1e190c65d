"""RPC with a timeout, the one way services and the gateway call each other.

Never wrap a proxy call in ``eventlet.Timeout`` and catch ``Exception``
inside a worker: ``eventlet.Timeout`` is a ``BaseException``. We start the
call with ``call_async`` and wait for the reply under a timeout, turning the
timeout (or an unknown service) into :class:`ServiceUnavailable`. The callee
keeps running after we give up, so RPC methods must be idempotent.
"""
from __future__ import annotations

import time
from collections import deque
from contextlib import contextmanager

import eventlet
from kombu import Connection
from kombu.pools import producers
from nameko import rpc as nameko_rpc
from nameko.amqp import publish as nameko_publish
from nameko.amqp.publish import Publisher
from nameko.constants import DEFAULT_TRANSPORT_OPTIONS, NON_PERSISTENT
from nameko.exceptions import UnknownService

from .errors import CALLER_ERRORS, ServiceUnavailable

DEFAULT_TIMEOUT = 5.0


class _RequestPublisher(Publisher):
    """RPC requests are transient: a caller waits for the answer under a
    timeout, so a request lost with a broker restart costs a retry, never
    data; writing it to disk (nameko's default) only costs time. Publisher
    confirms stay on: with ``mandatory`` they tell at once that a service has
    no copy running (``UnknownService`` -> 503) instead of a timeout."""

    delivery_mode = NON_PERSISTENT


class _ReplyPublisher(Publisher):
    """RPC replies go to the caller's own exclusive queue: transient, and
    without publisher confirms (a lost reply is the caller's timeout, the
    same as a slow callee). Halves the round trips of every RPC."""

    delivery_mode = NON_PERSISTENT
    use_confirms = False


_POOL_KEYS: dict = {}  # (uri, ssl, login method, transport options) -> kombu Connection


@contextmanager
def pooled_producer(amqp_uri, confirms=True, ssl=None, login_method=None, transport_options=None):
    """nameko's ``get_producer``, without a new kombu ``Connection`` per message.

    Why: nameko builds a ``Connection`` object (parsing the broker URI twice)
    for every message it publishes, only to look up the producer pool that
    connection stands for; a dashboard publishes eight (four requests, four
    replies) and the profile showed this among the gateway's top costs. The
    ``Connection`` here is the same pool key, built once per settings: the
    same pools (``kombu.pools.producers``), the same producers and channels,
    the same publisher confirms. It never connects itself (the pool's
    connections are its clones). The transport options are copied: nameko
    passes a dict shared by every publisher and sets ``confirm_publish`` on
    it before each message."""
    options = dict(DEFAULT_TRANSPORT_OPTIONS if transport_options is None else transport_options,
                   confirm_publish=confirms)
    try:
        key = (amqp_uri, repr(ssl), login_method, tuple(sorted(options.items())))
        conn = _POOL_KEYS.get(key)
    except TypeError:  # an unhashable option: build the key connection every time, as nameko does
        key, conn = None, None
    if conn is None:
        conn = Connection(amqp_uri, transport_options=options, ssl=ssl, login_method=login_method)
        if key is not None:
            _POOL_KEYS[key] = conn
    with producers[conn].acquire(block=True) as producer:
        yield producer


def rpc(fn=None, *, expected_exceptions=CALLER_ERRORS, **kwargs):
    """The services' RPC entrypoint: nameko's ``@rpc``, told that a refusal (``errors.CALLER_ERRORS``: the
    request is invalid, not found, not allowed, in conflict) is an answer to the caller, not a fault of the
    service. nameko logged each one at ERROR with its traceback (a wrong password, a form with a typo);
    it now logs them as expected, which ``logs.setup`` turns into one line at INFO. Anything else
    (a bug, the database down) is still logged at ERROR."""
    decorator = nameko_rpc.rpc(expected_exceptions=expected_exceptions, **kwargs)
    return decorator if fn is None else decorator(fn)


def use_lean_rpc_messages() -> None:
    """Make nameko publish RPC requests and replies as described above
    (``publisher_cls`` is nameko's own extension point), through producers
    looked up once per settings (``pooled_producer``). Called when this
    module is imported, which every service and the gateway do."""
    nameko_rpc.MethodProxy.publisher_cls = _RequestPublisher
    nameko_rpc.Responder.publisher_cls = _ReplyPublisher
    nameko_publish.get_producer = pooled_producer


use_lean_rpc_messages()


def call(proxy, service: str, method: str, *args, timeout: float | None = None, **kwargs):
    reply = _start(proxy, service, method, args, kwargs)
    return _result(reply, service, timeout or DEFAULT_TIMEOUT)


def call_each(proxy, service: str, method: str, calls, *, timeout: float | None = None,
              window: int = 8) -> list:
    """``method(*args)`` for each ``args`` of ``calls``, the answers in order.

    Why: a caller that needs several answers of a busy service (notifications
    asking documents for a batch's letters) waited for each in turn, the
    round trip and the callee's queue included. Here up to ``window`` calls
    are in flight at once, each with its own ``timeout`` from its start, all
    from the caller's greenthread; the first failure (its ServiceUnavailable
    or the callee's error) is raised, the other answers being dropped (RPC
    methods are idempotent)."""
    timeout = timeout or DEFAULT_TIMEOUT
    calls = iter(calls)
    in_flight: deque = deque()
    answers = []

    def start_next() -> None:
        args = next(calls, None)
        if args is not None:
            in_flight.append((_start(proxy, service, method, args, {}), time.monotonic() + timeout))

    for _ in range(max(1, window)):
        start_next()
    while in_flight:
        reply, deadline = in_flight.popleft()
        answers.append(_result(reply, service, max(0.0, deadline - time.monotonic())))
        start_next()
    return answers


def _start(proxy, service: str, method: str, args, kwargs):
    try:
        return getattr(proxy, method).call_async(*args, **kwargs)
    except UnknownService:
        raise ServiceUnavailable(service, "not running") from None
    except (IOError, OSError) as exc:
        raise ServiceUnavailable(service, f"broker unreachable: {exc}") from None


def _result(reply, service: str, timeout: float):
    timer = eventlet.Timeout(timeout)
    try:
        return reply.result()
    except eventlet.Timeout as exc:
        if exc is not timer:
            raise
        raise ServiceUnavailable(service, "timeout") from None
    finally:
        timer.cancel()
