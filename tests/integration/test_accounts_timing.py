"""Login and password recovery take the same time for registered and unknown
file numbers (statistical test, through the gateway, with the production
argon2 parameters).

Registered and unknown file numbers are interleaved at random, one attempt
per file number (the per-account throttle adds no delay to a first
attempt); each client comes from its own address (X-Forwarded-For behind a
trusted proxy) so the per-client limits do not interfere. The two samples
are compared with a two-sided Mann-Whitney U test: the test fails when they
differ significantly (p < 0.001) or when their medians differ by more than
15 %. ``test_the_statistic_detects_a_real_difference`` shows the statistic
can fail.
"""
from __future__ import annotations

import math
import random
import time

import pytest
import requests

from gateway.service import GatewayService
from services.accounts.domain import passwords
from services.accounts.service import AccountsService
from tests.support import factories
from tests.support.smtp import free_port

SAMPLES = 30
ALPHA = 0.001


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (normal approximation, ties averaged)."""
    values = sorted([(v, 0) for v in a] + [(v, 1) for v in b])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1][0] == values[i][0]:
            j += 1
        for k in range(i, j + 1):
            ranks[k] = (i + j) / 2 + 1
        i = j + 1
    n1, n2 = len(a), len(b)
    r1 = sum(r for r, (_, group) in zip(ranks, values) if group == 0)
    u = r1 - n1 * (n1 + 1) / 2
    mean = n1 * n2 / 2
    sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    z = (abs(u - mean) - 0.5) / sd
    return math.erfc(max(z, 0) / math.sqrt(2))


def median(values: list[float]) -> float:
    s = sorted(values)
    return (s[len(s) // 2] + s[(len(s) - 1) // 2]) / 2


def assert_same_timing(known: list[float], unknown: list[float], what: str) -> None:
    p = mann_whitney_p(known, unknown)
    mk, mu = median(known), median(unknown)
    print(f"{what}: median known {mk * 1000:.1f} ms, unknown {mu * 1000:.1f} ms, "
          f"Mann-Whitney p = {p:.3f} (n = {len(known)} + {len(unknown)})")
    assert p >= ALPHA, f"{what}: timings differ (p = {p:.5f})"
    assert abs(mk - mu) <= 0.15 * max(mk, mu), f"{what}: medians {mk:.4f} s vs {mu:.4f} s"


def test_the_statistic_detects_a_real_difference():
    rng = random.Random(7)
    base = [0.25 + rng.gauss(0, 0.01) for _ in range(SAMPLES)]
    same = [0.25 + rng.gauss(0, 0.01) for _ in range(SAMPLES)]
    slower = [0.265 + rng.gauss(0, 0.01) for _ in range(SAMPLES)]  # 15 ms more
    assert mann_whitney_p(base, same) >= ALPHA
    assert mann_whitney_p(base, slower) < ALPHA
    with pytest.raises(AssertionError):
        assert_same_timing(base, slower, "synthetic")


@pytest.fixture
def gateway(container_factory, make_config):
    accounts = make_config("accounts")
    shared_hash = passwords.hash_password(factories.PASSWORD)
    for n in range(SAMPLES):
        factories.add_member(accounts["DATABASE_URL"], f"{2000000 + n}",
                             email=f"m{n}@example.fr" if n % 2 else None,
                             password_hash=shared_hash)
    container_factory(AccountsService, accounts).start()
    port = free_port()
    container_factory(GatewayService, make_config(
        None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", TRUSTED_PROXIES=1, RPC_TIMEOUT=5)).start()
    return f"http://127.0.0.1:{port}"


def timed(send) -> float:
    started = time.perf_counter()
    status = send()
    elapsed = time.perf_counter() - started
    return status, elapsed


def measure(base: str, path: str, body_of) -> tuple[list[float], list[float]]:
    order = [(True, n) for n in range(SAMPLES)] + [(False, n) for n in range(SAMPLES)]
    random.Random(42).shuffle(order)
    known, unknown, statuses = [], [], set()
    http = requests.Session()
    # warm up both paths (connections, caches) before measuring
    for number in ("2999999", "3999999"):
        http.post(f"{base}{path}", json=body_of(number), headers={"X-Forwarded-For": "198.51.100.1"})
    for i, (is_known, n) in enumerate(order):
        number = f"{2000000 + n}" if is_known else f"{5000000 + n}"
        status, elapsed = timed(lambda: http.post(
            f"{base}{path}", json=body_of(number),
            headers={"X-Forwarded-For": f"10.0.{i // 250}.{i % 250 + 1}"}).status_code)
        statuses.add((is_known, status))
        (known if is_known else unknown).append(elapsed)
    return known, unknown, statuses


def test_login_takes_the_same_time_for_known_and_unknown_file_numbers(gateway):
    known, unknown, statuses = measure(gateway, "/api/v1/session", lambda number: {
        "file_number": number, "password": "pas le bon mot de passe"})
    assert statuses == {(True, 401), (False, 401)}
    assert_same_timing(known, unknown, "login")


def test_recovery_takes_the_same_time_for_known_and_unknown_file_numbers(gateway):
    known, unknown, statuses = measure(gateway, "/api/v1/password-reset",
                                       lambda number: {"file_number": number})
    assert statuses == {(True, 202), (False, 202)}
    assert_same_timing(known, unknown, "recovery")
