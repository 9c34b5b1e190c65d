"""Per-client rate limiting of sensitive endpoints (login, and later password reset).

A fixed window per (bucket, client): at most ``limit`` counted attempts every
``window`` seconds; the next one is refused with 429 and ``Retry-After`` (the
seconds left in the window).

Where the counters live:

- ``REDIS_URL`` set in the gateway's config (``CARPIMKO_REDIS_URL``): in Redis,
  one key per (bucket, client) incremented atomically by a Lua script, so every
  gateway replica shares the same counters and the limit holds across replicas.
- Otherwise (the documented fallback, fine for a single gateway copy, e.g. ``make
  run``): in the process's memory. With N gateway replicas and no Redis, a client
  gets up to N × limit attempts per window.
- Redis configured but unreachable: the memory counters take over for that call
  (logged as a warning) rather than locking every member out or letting every
  attempt through.

Usage from a handler (``ctx.limiter`` is built once per gateway container)::

    ctx.limiter.attempt("login", client)   # counts it; raises web.TooManyRequests over the limit
    ...the attempt succeeds...
    ctx.limiter.refund("login", client)    # optional: do not count successes

Every attempt is counted atomically *before* it is tried, so concurrent attempts
cannot slip past the limit; login refunds its successes, so only failures count
(a member who logs in is never slowed down). A reset endpoint would not refund.
"""
from __future__ import annotations

import logging
import math
import threading
import time

from .web import TooManyRequests

log = logging.getLogger(__name__)

DEFAULT_LIMITS = {"login": "10/900", "password_reset": "5/3600"}

_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]); ttl = tonumber(ARGV[1]) end
return {n, ttl}
"""
_REFUND = """
if redis.call('EXISTS', KEYS[1]) == 1 and tonumber(redis.call('GET', KEYS[1])) > 0 then
  return redis.call('DECR', KEYS[1])
end
return 0
"""


def parse_limit(text: str) -> tuple[int, int]:
    """``"10/900"`` → (10 attempts, 900 seconds)."""
    try:
        count, seconds = (int(part) for part in str(text).split("/"))
    except ValueError:
        raise ValueError(f"a rate limit reads ATTEMPTS/SECONDS, e.g. 10/900, not {text!r}") from None
    if count < 1 or seconds < 1:
        raise ValueError(f"a rate limit needs at least 1 attempt and 1 second, not {text!r}")
    return count, seconds


def client_id(request, trusted_proxies: int = 0) -> str:
    """The client's address: the socket's peer, or, behind ``trusted_proxies``
    reverse proxies, the address they saw (from the right of X-Forwarded-For)."""
    if trusted_proxies > 0:
        hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
        if len(hops) >= trusted_proxies:
            return hops[-trusted_proxies]
    return request.remote_addr or "unknown"


class MemoryCounters:
    """Counters of one process (the fallback)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}

    def _live(self, key: str, now: float) -> tuple[int, float]:
        count, expires = self._counts.get(key, (0, 0.0))
        return (count, expires) if expires > now else (0, 0.0)

    def hit(self, key: str, window: int) -> tuple[int, float]:
        with self._lock:
            now = self._clock()
            if len(self._counts) > 10000:  # forget what has expired
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, expires = self._live(key, now)
            if not count:
                expires = now + window
            self._counts[key] = (count + 1, expires)
            return count + 1, expires - now

    def refund(self, key: str) -> int:
        with self._lock:
            count, expires = self._live(key, self._clock())
            if count:
                self._counts[key] = (count - 1, expires)
            return max(0, count - 1)


class RedisCounters:
    """Counters shared by every gateway replica."""

    def __init__(self, url: str):
        import redis  # runtime dependency, pinned in requirements.txt
        self._redis = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self._hit = self._redis.register_script(_HIT)
        self._refund = self._redis.register_script(_REFUND)

    def hit(self, key: str, window: int) -> tuple[int, float]:
        count, ttl_ms = self._hit(keys=[key], args=[window * 1000])
        return int(count), int(ttl_ms) / 1000

    def refund(self, key: str) -> int:
        return int(self._refund(keys=[key]))


class RateLimiter:
    def __init__(self, limits: dict[str, str] | None = None, redis_url: str | None = None,
                 prefix: str = "carpimko:ratelimit:"):
        self.limits = {name: parse_limit(value)
                       for name, value in {**DEFAULT_LIMITS, **(limits or {})}.items()}
        self.prefix = prefix
        self.memory = MemoryCounters()
        self.shared = RedisCounters(redis_url) if redis_url else None

    @property
    def backend(self) -> str:
        return "redis" if self.shared is not None else "memory"

    def _key(self, bucket: str, client: str) -> str:
        if bucket not in self.limits:
            raise KeyError(f"no rate limit named {bucket!r}")
        return f"{self.prefix}{bucket}:{client}"

    def _call(self, method: str, *args):
        if self.shared is not None:
            try:
                return getattr(self.shared, method)(*args)
            except Exception as exc:  # noqa: BLE001 - any Redis failure: fall back, say so
                log.warning("rate limiting: Redis unavailable (%s); using this process's counters",
                            exc)
        return getattr(self.memory, method)(*args)

    def attempt(self, bucket: str, client: str) -> int:
        """Count one attempt; refuse it (429, ``Retry-After``) when it is over the
        limit. Answers the number of attempts counted in the current window."""
        limit, window = self.limits[bucket]
        count, left = self._call("hit", self._key(bucket, client), window)
        if count > limit:
            raise TooManyRequests(f"rate limit {bucket} reached", math.ceil(left) or 1)
        return count

    def refund(self, bucket: str, client: str) -> None:
        """Take back an attempt that should not count (a successful login)."""
        self._call("refund", self._key(bucket, client))
