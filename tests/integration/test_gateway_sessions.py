"""Sessions kept by the gateway copies (gateway/sessions.py), with real
RabbitMQ, the real accounts service and two gateway copies: a session ended
through one copy ends at once on the other, and no copy serves a session
past the end accounts gave it. And logins never hang when every hashing
slot is busy (services/accounts/domain/passwords.py)."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import eventlet
import pytest
import requests

from carpimko.db import Database
from carpimko.files import Slots
from gateway.service import GatewayContext, GatewayService
from gateway.sessions import _key
from services.accounts import authentication
from services.accounts.domain import passwords
from services.accounts.models import LoginThrottle, WebSession
from services.accounts.service import AccountsService
from tests.support import factories
from tests.support.smtp import free_port
from tests.support.waiting import wait_for


def _gateway(container_factory, make_config):
    port = free_port()
    container = container_factory(GatewayService, make_config(
        None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", LOGIN_RATE_LIMIT="100/900",
        SESSION_CACHE_SECONDS=30))
    container.start()
    cache = next(d for d in container.dependencies if isinstance(d, GatewayContext)).sessions
    wait_for(lambda: cache.listening)  # the copy listens to sessions_ended
    return f"http://127.0.0.1:{port}", cache


@pytest.fixture
def copies(container_factory, make_config):
    accounts = make_config("accounts")
    for number in ("1234567", "7654321"):
        factories.add_member(accounts["DATABASE_URL"], number)
    container_factory(AccountsService, accounts).start()
    (a, cache_a), (b, cache_b) = (_gateway(container_factory, make_config) for _ in range(2))
    return {"a": a, "b": b, "cache_a": cache_a, "cache_b": cache_b,
            "accounts_url": accounts["DATABASE_URL"]}


def login(base, file_number="1234567"):
    r = requests.post(f"{base}/api/v1/session",
                      json={"file_number": file_number, "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    return r.cookies["carpimko_session"]


def me(base, token):
    return requests.get(f"{base}/api/v1/me", cookies={"carpimko_session": token})


def test_a_logout_through_one_copy_ends_the_session_on_the_other_at_once(copies):
    a, b = copies["a"], copies["b"]
    token = login(a)
    assert me(b, token).status_code == 200
    assert copies["cache_b"].get(token) is not None  # the other copy keeps it now
    assert me(b, token).status_code == 200
    r = requests.delete(f"{a}/api/v1/session", cookies={"carpimko_session": token})
    assert r.status_code == 204
    assert me(b, token).status_code == 401  # at once: no waiting for the 30 s it was kept
    assert me(a, token).status_code == 401


def test_logging_out_everywhere_reaches_every_copy_and_spares_other_members(copies):
    a, b = copies["a"], copies["b"]
    phone, laptop, other = login(a), login(b), login(b, "7654321")
    for token in (phone, laptop, other):
        assert me(a, token).status_code == 200 and me(b, token).status_code == 200
    r = requests.delete(f"{b}/api/v1/sessions", cookies={"carpimko_session": laptop},
                        headers={"Origin": b})
    assert r.status_code == 200 and r.json() == {"sessions_ended": 2}
    for base in (a, b):
        assert me(base, phone).status_code == 401
        assert me(base, laptop).status_code == 401
        assert me(base, other).status_code == 200


def test_sessions_ended_by_accounts_itself_end_on_every_copy(copies, rabbit_config):
    """Any commit of accounts that ends sessions tells every copy (as a new
    password does: ``end_sessions``), not only the gateway's own logout
    routes, which also forget locally: here no gateway takes part."""
    from nameko.standalone.rpc import ServiceRpcProxy
    a, b = copies["a"], copies["b"]
    token = login(a)
    assert me(a, token).status_code == 200 and me(b, token).status_code == 200
    with ServiceRpcProxy("accounts", rabbit_config) as accounts:
        assert accounts.logout_everywhere(token) == 1
    assert me(a, token).status_code == 401
    assert me(b, token).status_code == 401


def test_no_copy_serves_a_session_past_its_absolute_end(copies):
    a, b = copies["a"], copies["b"]
    token = login(a)
    db = Database(copies["accounts_url"], pool_size=1)
    try:
        with db.transaction() as session:
            session.get(WebSession, _key(token)).expires_at = (
                datetime.now(timezone.utc) + timedelta(seconds=2))
    finally:
        db.dispose()
    assert me(b, token).status_code == 200  # kept by b, for 2 s and not the 30 s of its ttl
    assert copies["cache_b"].get(token) is not None
    time.sleep(2.2)
    assert copies["cache_b"].get(token) is None
    assert me(b, token).status_code == 401


def test_the_idle_clock_keeps_sliding_while_pages_are_served_from_the_copy(copies, monkeypatch):
    """A copy asks accounts again once its ttl is over, so a member reading
    pages keeps their session alive; accounts restarts the idle clock then
    (at most every IDLE_REFRESH: shortened here to see it)."""
    a, cache = copies["a"], copies["cache_a"]
    monkeypatch.setattr(authentication, "IDLE_REFRESH", timedelta(0))
    cache.ttl = 1.0
    token = login(a)

    def last_seen():
        db = Database(copies["accounts_url"], pool_size=1)
        try:
            with db.transaction() as session:
                return session.get(WebSession, _key(token)).last_seen_at.replace(
                    tzinfo=timezone.utc)
        finally:
            db.dispose()

    first = last_seen()
    for _ in range(8):
        assert me(a, token).status_code == 200
        time.sleep(0.3)
    assert last_seen() - first > timedelta(seconds=1)


def test_a_login_waiting_too_long_for_a_hashing_slot_is_told_503_at_once(copies, monkeypatch):
    a = copies["a"]
    monkeypatch.setattr(passwords, "slots", Slots(1, wait=0.3))
    holder = eventlet.spawn(passwords.slots.run, time.sleep, 1.5)  # every slot taken
    eventlet.sleep(0.05)
    started = time.monotonic()
    r = requests.post(f"{a}/api/v1/session",
                      json={"file_number": "1234567", "password": factories.PASSWORD})
    assert time.monotonic() - started < 1.2  # not the RPC timeout, not the holder's time
    assert r.status_code == 503 and r.headers["Retry-After"]
    assert r.json()["error"]["code"] == "service_unavailable"
    db = Database(copies["accounts_url"], pool_size=1)
    try:
        with db.transaction() as session:  # no password was checked: no failure counted
            row = session.get(LoginThrottle, "1234567")
            assert row is None or row.failures == 0
    finally:
        db.dispose()
    holder.wait()
    login(a)  # a slot is free again
