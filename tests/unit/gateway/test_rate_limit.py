import pytest

from gateway import rate_limit
from gateway.web import TooManyRequests


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def limiter(limit="3/60"):
    rl = rate_limit.RateLimiter({"login": limit})
    rl.memory = rate_limit.MemoryCounters(clock := Clock())
    return rl, clock


def test_attempts_over_the_limit_are_refused_with_the_seconds_left():
    rl, clock = limiter()
    assert [rl.attempt("login", "10.0.0.1") for _ in range(3)] == [1, 2, 3]
    clock.now += 20.2
    with pytest.raises(TooManyRequests) as refused:
        rl.attempt("login", "10.0.0.1")
    assert refused.value.retry_after == 40  # ceil(60 - 20.2)
    assert rl.attempt("login", "10.0.0.2") == 1  # per client
    clock.now += 40
    assert rl.attempt("login", "10.0.0.1") == 1  # a new window


def test_refund_takes_back_an_attempt():
    rl, _ = limiter("2/60")
    rl.attempt("login", "c")
    rl.refund("login", "c")
    rl.attempt("login", "c")
    rl.attempt("login", "c")
    with pytest.raises(TooManyRequests):
        rl.attempt("login", "c")


def test_limits_are_parsed_and_checked():
    assert rate_limit.parse_limit("10/900") == (10, 900)
    for bad in ("10", "a/b", "0/60", "5/0"):
        with pytest.raises(ValueError):
            rate_limit.parse_limit(bad)
    with pytest.raises(KeyError):
        rate_limit.RateLimiter().attempt("unknown", "c")
    assert rate_limit.RateLimiter().backend == "memory"


class Request:
    def __init__(self, remote, forwarded=None):
        self.remote_addr = remote
        self.headers = {"X-Forwarded-For": forwarded} if forwarded else {}


def test_client_address_behind_trusted_proxies_only():
    assert rate_limit.client_id(Request("10.0.0.9", "1.2.3.4")) == "10.0.0.9"
    assert rate_limit.client_id(Request("10.0.0.9", "6.6.6.6, 1.2.3.4"), 1) == "1.2.3.4"
    assert rate_limit.client_id(Request("10.0.0.9", "1.2.3.4, 10.0.0.8"), 2) == "1.2.3.4"
    assert rate_limit.client_id(Request("10.0.0.9"), 1) == "10.0.0.9"
