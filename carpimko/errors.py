"""Errors that cross service boundaries.

They are registered with nameko so that an RPC caller gets the same
exception type back (not a generic ``RemoteError``), and the gateway can map
each one to an HTTP status without string matching.
"""
from __future__ import annotations

from nameko.exceptions import deserialize_to_instance


class CarpimkoError(Exception):
    """Base class: ``message`` is for humans (French when shown to members)."""

    def __init__(self, message: str, fields: dict | None = None):
        super().__init__(message, fields or {})

    @property
    def message(self) -> str:
        return self.args[0]

    @property
    def fields(self) -> dict:
        return self.args[1] if len(self.args) > 1 else {}


@deserialize_to_instance
class InvalidRequest(CarpimkoError):
    """The request does not validate (HTTP 400)."""


@deserialize_to_instance
class NotFound(CarpimkoError):
    """Unknown, or not the caller's (HTTP 404: never reveal which)."""


@deserialize_to_instance
class Unauthorized(CarpimkoError):
    """Missing or wrong credentials (HTTP 401)."""


@deserialize_to_instance
class Conflict(CarpimkoError):
    """The request contradicts the current state (HTTP 409)."""


@deserialize_to_instance
class DocumentUnavailable(CarpimkoError):
    """A document exists but cannot be given now: its first rendering failed
    (data the renderer refuses, a layout or key it was not issued under).
    HTTP 500: nothing the reader can fix; the documents service logged why."""


class ServiceUnavailable(CarpimkoError):
    """A service did not answer in time (HTTP 503). Raised locally only."""

    def __init__(self, service: str, reason: str = "timeout"):
        super().__init__(f"service {service!r} unavailable ({reason})", {})
        self.service = service


@deserialize_to_instance
class Overloaded(ServiceUnavailable):
    """A service refused work it could not start in time (HTTP 503 at once,
    instead of the caller's timeout while the work queues up): e.g. accounts
    when every password-hashing slot stayed busy. Crosses RPC boundaries."""

    def __init__(self, message: str, fields: dict | None = None):
        CarpimkoError.__init__(self, message, fields)
        self.service = None


class PermanentFailure(Exception):
    """A message that can never be processed: dead-letter it at once, no retry."""


# The answers a service gives on purpose (HTTP 4xx): the caller's mistake or the state of things, not a fault
# of the service; its RPC entrypoints declare them expected (``carpimko.rpc.rpc``).
CALLER_ERRORS = (InvalidRequest, NotFound, Unauthorized, Conflict)

