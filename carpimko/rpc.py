"""RPC with a timeout, the one way services and the gateway call each other.

Never wrap a proxy call in ``eventlet.Timeout`` and catch ``Exception``
inside a worker: ``eventlet.Timeout`` is a ``BaseException``. We start the
call with ``call_async`` and wait for the reply under a timeout, turning the
timeout (or an unknown service) into :class:`ServiceUnavailable`. The callee
keeps running after we give up, so RPC methods must be idempotent.
"""
from __future__ import annotations

import eventlet
from nameko.exceptions import UnknownService

from .errors import ServiceUnavailable

DEFAULT_TIMEOUT = 5.0


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
