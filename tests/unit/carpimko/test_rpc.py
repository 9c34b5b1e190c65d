"""``carpimko.rpc.call_each``: several answers of a service, a few calls in
flight at once, in order, each under its own timeout."""
from __future__ import annotations

import eventlet
import pytest

from carpimko import rpc
from carpimko.errors import ServiceUnavailable


class Reply:
    def __init__(self, log, args, delay, error=None):
        self.log, self.args, self.delay, self.error = log, args, delay, error

    def result(self):
        eventlet.sleep(self.delay)
        self.log.append(("answered", self.args))
        if self.error is not None:
            raise self.error
        return f"pdf {self.args[0]}"


class Proxy:
    """A nameko proxy stand-in: ``issue_letter.call_async(*args)`` gives a reply."""

    def __init__(self, delays, errors=None):
        self.log, self.delays, self.errors = [], delays, errors or {}
        self.issue_letter = self

    def call_async(self, *args):
        self.log.append(("started", args))
        return Reply(self.log, args, self.delays.get(args[0], 0.0), self.errors.get(args[0]))


def test_answers_come_in_order_with_a_window_of_calls_in_flight():
    proxy = Proxy({1: 0.03})
    answers = rpc.call_each(proxy, "documents", "issue_letter", [(n,) for n in range(1, 6)], window=3)
    assert answers == [f"pdf {n}" for n in range(1, 6)]
    # three started before the first answer was awaited, then one more per answer
    assert proxy.log[:4] == [("started", (1,)), ("started", (2,)), ("started", (3,)),
                             ("answered", (1,))]
    assert proxy.log[4] == ("started", (4,))
    assert sum(1 for kind, _ in proxy.log if kind == "started") == 5


def test_a_slow_answer_is_a_timeout_and_a_failed_one_is_raised():
    with pytest.raises(ServiceUnavailable, match="timeout"):
        rpc.call_each(Proxy({2: 0.5}), "documents", "issue_letter", [(1,), (2,), (3,)],
                      timeout=0.1)
    with pytest.raises(ValueError, match="no address"):
        rpc.call_each(Proxy({}, {2: ValueError("no address")}), "documents", "issue_letter",
                      [(1,), (2,), (3,)])
    assert rpc.call_each(Proxy({}), "documents", "issue_letter", []) == []
