"""RPC with a timeout, the one way services and the gateway call each other.

Never wrap a proxy call in ``eventlet.Timeout`` and catch ``Exception``
inside a worker: ``eventlet.Timeout`` is a ``BaseException``. We start the
call with ``call_async`` and wait for the reply under a timeout, turning the
timeout (or an unknown service) into :class:`ServiceUnavailable`. The callee
keeps running after we give up, so RPC methods must be idempotent.
"""
from __future__ import annotations

import eventlet
from nameko import rpc as nameko_rpc
from nameko.amqp.publish import Publisher
from nameko.constants import NON_PERSISTENT
from nameko.exceptions import UnknownService

from .errors import ServiceUnavailable

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


def use_lean_rpc_messages() -> None:
    """Make nameko publish RPC requests and replies as described above
    (``publisher_cls`` is nameko's own extension point). Called when this
    module is imported, which every service and the gateway do."""
    nameko_rpc.MethodProxy.publisher_cls = _RequestPublisher
    nameko_rpc.Responder.publisher_cls = _ReplyPublisher


use_lean_rpc_messages()


def call(proxy, service: str, method: str, *args, timeout: float | None = None, **kwargs):
    try:
        reply = getattr(proxy, method).call_async(*args, **kwargs)
    except UnknownService:
        raise ServiceUnavailable(service, "not running") from None
    except (IOError, OSError) as exc:
        raise ServiceUnavailable(service, f"broker unreachable: {exc}") from None
    timer = eventlet.Timeout(timeout or DEFAULT_TIMEOUT)
    try:
        return reply.result()
    except eventlet.Timeout as exc:
        if exc is not timer:
            raise
        raise ServiceUnavailable(service, "timeout") from None
    finally:
        timer.cancel()
