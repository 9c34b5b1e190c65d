"""The load test's scenario: one distinct member per simulated user, one
declaration at most per visit, and the steady state told from the logins."""
import random

import pytest

from tests.load.members import (DEMO_MEMBERS, MemberPool, NoMemberLeft, declaration_for,
                                pool_from_env, years_from_env)
from tests.support.load import LOGIN, percentile, split


def test_each_user_gets_a_member_of_its_own():
    pool = MemberPool(["3000000", "3000001", "3000002"])
    assert [pool.take() for _ in range(3)] == ["3000000", "3000001", "3000002"]
    with pytest.raises(NoMemberLeft):
        pool.take()


def test_members_come_from_the_environment_and_are_distinct():
    pool = pool_from_env({"CARPIMKO_LOAD_MEMBERS": "3000000, 3000001"})
    assert not pool.shared
    assert {pool.take(), pool.take()} == {"3000000", "3000001"}
    with pytest.raises(ValueError):
        pool_from_env({"CARPIMKO_LOAD_MEMBERS": "3000000,3000000"})


def test_without_a_list_the_demo_members_are_shared_round_robin():
    pool = pool_from_env({})
    assert pool.shared
    assert [pool.take() for _ in range(5)] == [*DEMO_MEMBERS, *DEMO_MEMBERS, DEMO_MEMBERS[0]]


def test_a_member_declares_once_for_a_declarable_year():
    rng = random.Random(1)
    years = years_from_env({"CARPIMKO_LOAD_YEARS": "2025,2026"})
    assert years == (2025, 2026)
    body = declaration_for(False, years, rng)
    assert body["year"] in years and body["conventioned_income"] is None
    assert 20000 <= float(body["professional_income"]) <= 90000
    assert declaration_for(True, years, rng) is None
    assert years_from_env({}) == (2024, 2025, 2026)


def test_nearest_rank_percentile():
    values = list(range(1, 101))
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.99) == 99
    assert percentile([7.0], 0.99) == 7.0
    assert percentile([], 0.5) == 0.0


def test_the_steady_state_starts_after_the_last_login_and_the_warm_up():
    samples = [(1.0, LOGIN, 300.0, 1), (1.5, "GET / (dashboard)", 900.0, 1),
               (2.0, LOGIN, 4000.0, 0), (3.0, LOGIN, 500.0, 1),  # a failed login, tried again
               (5.0, "GET / (dashboard)", 800.0, 1),  # within the warm-up: left out
               (9.0, "GET / (dashboard)", 40.0, 1), (10.0, "GET /api/v1/documents", 20.0, 1),
               (13.0, "GET / (dashboard)", 60.0, 0)]
    figures = split(samples, users=2, warmup=5.0)
    assert figures["logins"]["requests"] == 3 and figures["logins"]["failures"] == 1
    assert figures["logins"]["max_ms"] == 4000.0
    steady = figures["steady"]
    assert steady["requests"] == 3 and steady["seconds"] == 5.0
    assert steady["starts_after_seconds"] == 7.0
    dash = steady["by_endpoint"]["GET / (dashboard)"]
    assert dash["requests"] == 2 and dash["failures"] == 1 and dash["p99_ms"] == 60.0


def test_no_steady_state_when_a_member_never_logged_in():
    samples = [(1.0, LOGIN, 300.0, 1), (2.0, LOGIN, 5000.0, 0), (9.0, "GET / (dashboard)", 40.0, 1)]
    assert split(samples, users=2, warmup=1.0)["steady"] is None
