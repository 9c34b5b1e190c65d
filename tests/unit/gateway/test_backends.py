"""The gateway's per-request view of the services."""
import eventlet
import pytest

from carpimko.errors import ServiceUnavailable
from gateway.backends import Backends


class _Reply:
    def __init__(self, outcome):
        self.outcome = outcome

    def result(self):
        eventlet.sleep(0.01)  # the answer takes a moment: concurrent askers overlap
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


class _Proxy:
    def __init__(self, outcome):
        self.calls = 0
        self.outcome = outcome

    def __getattr__(self, method):
        proxy = self

        class _Method:
            @staticmethod
            def call_async(*args, **kwargs):
                proxy.calls += 1
                return _Reply(proxy.outcome)
        return _Method


def test_a_read_asked_twice_in_one_request_is_sent_once():
    proxy = _Proxy({"schedules": []})
    backends = Backends(lambda name: proxy, timeout=1)
    pool = eventlet.GreenPool()
    answers = list(pool.imap(lambda _: backends.read("contributions", "schedules", "1234567"), range(3)))
    assert answers == [{"schedules": []}] * 3
    assert proxy.calls == 1
    backends.read("contributions", "schedules", "7654321")  # other arguments: another call
    assert proxy.calls == 2


def test_a_failed_read_fails_for_every_block_that_asked():
    proxy = _Proxy(ServiceUnavailable("contributions", "timeout"))
    backends = Backends(lambda name: proxy, timeout=1)
    for _ in range(2):
        with pytest.raises(ServiceUnavailable):
            backends.read("contributions", "schedules", "1234567")
    assert proxy.calls == 1


def test_another_request_asks_again():
    proxy = _Proxy([])
    Backends(lambda name: proxy, timeout=1).read("documents", "list_documents", "1234567")
    Backends(lambda name: proxy, timeout=1).read("documents", "list_documents", "1234567")
    assert proxy.calls == 2
