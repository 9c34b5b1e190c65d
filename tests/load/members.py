"""Who each simulated member of the load test is, and what it may declare.

Kept apart from the locustfile so it can be unit-tested without importing
locust (which monkey-patches the process with gevent).

The load test measures 50 *distinct* members, as 50 real members are: each
simulated user takes a member of its own from ``CARPIMKO_LOAD_MEMBERS``
(comma-separated file numbers; ``tests/bench/load.py`` seeds them and gives
them a history first). Sharing a member between users would pile every
user's declarations and documents onto a few files and make every page of
those files longer than any real member's. Only when no list is given (a
manual ``locust`` run against ``make run``) do the users share the two demo
members, round robin.

A real member declares at most once in a visit, for their own file and a
declarable year: :func:`declaration_for` gives that one declaration, and
nothing once the member has declared.
"""
from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Sequence

DEMO_MEMBERS = ("1234567", "7654321")
DEFAULT_YEARS = (2024, 2025, 2026)


class NoMemberLeft(RuntimeError):
    """More simulated users than distinct members to give them."""


class MemberPool:
    """Hands out each member to one user only (``shared=False``), or round
    robin when the users have to share a few members (the demo fallback)."""

    def __init__(self, members: Sequence[str], shared: bool = False):
        if not members:
            raise ValueError("no member to simulate")
        self._members = list(members)
        self._next = 0
        self.shared = shared
        self._lock = threading.Lock()

    def take(self) -> str:
        with self._lock:
            if self._next >= len(self._members) and not self.shared:
                raise NoMemberLeft(f"{len(self._members)} members for more users: "
                                   "seed as many members as users")
            member = self._members[self._next % len(self._members)]
            self._next += 1
            return member


def pool_from_env(environ: Mapping[str, str]) -> MemberPool:
    raw = environ.get("CARPIMKO_LOAD_MEMBERS", "")
    members = [m.strip() for m in raw.split(",") if m.strip()]
    if members:
        if len(set(members)) != len(members):
            raise ValueError("CARPIMKO_LOAD_MEMBERS lists a member twice")
        return MemberPool(members)
    return MemberPool(DEMO_MEMBERS, shared=True)


def years_from_env(environ: Mapping[str, str]) -> tuple[int, ...]:
    raw = environ.get("CARPIMKO_LOAD_YEARS", "")
    years = tuple(int(y) for y in raw.split(",") if y.strip())
    return years or DEFAULT_YEARS


def declaration_for(already_declared: bool, years: Sequence[int],
                    rng: random.Random) -> dict | None:
    """The body of the member's declaration, or None when the member already
    declared in this visit."""
    if already_declared:
        return None
    return {"year": rng.choice(list(years)),
            "professional_income": f"{rng.randint(20000, 90000)}.00",
            "conventioned_income": None}
