"""Password hashing with argon2id (argon2-cffi's defaults, RFC 9106 low-memory).

``verify`` always does the same amount of work whether or not the account
exists (a dummy hash is checked for unknown accounts) so timing does not
reveal which file numbers are registered.

Hashing runs in a real thread (``carpimko.files.in_thread``): argon2 is
deliberately expensive (about 0.1-0.2 s of CPU) and, on the green hub, every
other request of the accounts service (each page's session check) waited
behind it during a burst of logins (measured: docs/benchmarks.md).

At most ``SLOTS`` hashes run at once (the machine's core count): a burst of
logins queues for a slot instead of taking every core from the pages being
served; a hash still waiting after ``SLOT_WAIT`` seconds (under the
gateway's 5 s RPC timeout) raises ``carpimko.errors.Overloaded`` (HTTP 503),
so a login never hangs and never holds a worker for nothing.
"""
from __future__ import annotations

import os

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from carpimko.files import Slots

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password-used-for-constant-time")

SLOTS = max(1, os.cpu_count() or 1)
SLOT_WAIT = 4.0  # seconds: a hash (0.1-0.5 s) still fits in the gateway's 5 s RPC timeout
slots = Slots(SLOTS, SLOT_WAIT)


def hash_password(password: str) -> str:
    return slots.run(_hasher.hash, password)


def verify(stored_hash: str | None, password: str) -> bool:
    """True only for a real stored hash that matches; an absent or empty hash
    costs the same work and never verifies."""
    has_hash = bool(stored_hash)
    try:
        matched = slots.run(_hasher.verify, stored_hash if has_hash else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
    return matched and has_hash


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)
