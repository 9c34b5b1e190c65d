"""The gateway's view of the services: every call has a timeout."""
from __future__ import annotations

import eventlet
import eventlet.event

from carpimko import rpc
from carpimko.errors import ServiceUnavailable

SERVICES = ("accounts", "contributions", "documents", "notifications", "messaging")


class Backends:
    def __init__(self, proxy_for, timeout: float):
        self._proxy_for = proxy_for  # service name -> nameko proxy
        self.timeout = timeout
        self._answers: dict = {}  # this request's read-only answers (``read``)

    def call(self, service: str, method: str, *args, timeout: float | None = None, **kwargs):
        return rpc.call(self._proxy_for(service), service, method, *args,
                        timeout=timeout or self.timeout, **kwargs)

    def read(self, service: str, method: str, *args):
        """A read-only call asked once per request: dashboard blocks that need
        the same data (the schedules feed two blocks) share one answer. A
        ``Backends`` lives for one request, so nothing outlives it."""
        key = (service, method, args)
        if key not in self._answers:
            self._answers[key] = eventlet.event.Event()
            try:
                self._answers[key].send(self.call(service, method, *args))
            except Exception as exc:  # noqa: BLE001 - every waiter gets the same error
                self._answers[key].send_exception(exc)
        return self._answers[key].wait()

    def health(self, timeout: float = 2.0) -> dict:
        """Ask every service at once; each answers "up" or "down"."""
        def probe(name):
            try:
                self.call(name, "health", timeout=timeout)
                return name, "up"
            except ServiceUnavailable:
                return name, "down"
            except Exception:  # noqa: BLE001 - a failing health check is "down"
                return name, "down"
        pool = eventlet.GreenPool(len(SERVICES))
        return dict(pool.imap(probe, SERVICES))
