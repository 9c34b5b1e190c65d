"""Brute-force protection per file number (service layer).

Every well-formed file number has the same throttle, registered or not, so
neither a delay nor a lock reveals whether an account exists.

The documented rule (docs/architecture.md, accounts):

- each attempt is counted *before* the password is checked (parallel
  attempts cannot slip through), and a successful login resets the count;
- after 3 consecutive failures each attempt waits first: 0.5 s, 1 s, then
  1.5 s each (``DELAYS``; kept well under the gateway's RPC timeout);
- the attempt that follows ``LOCK_THRESHOLD`` (10) consecutive failures
  locks the account: no password is checked any more until the member sets
  a new one (first login / forgotten password) or an advisor unlocks it. At
  most 10 wrong passwords can therefore ever be tried between two unlocks,
  far below 100 an hour;
- the member is told (``account_locked``: email, else post) how to unlock.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import delete
from sqlalchemy.orm import Session

from carpimko import outbox
from carpimko.events import new_event

from . import audit
from .models import LoginThrottle, Member, Outbox

LOCK_THRESHOLD = 10
DELAYS = (0, 0, 0, 0.5, 1, 1.5)  # seconds, by failures so far; the last one repeats
FORGET_AFTER = timedelta(days=1)  # an unlocked row with no failure for that long is dropped


def delay_for(failures: int) -> float:
    return float(DELAYS[min(failures, len(DELAYS) - 1)])


def before_attempt(session: Session, file_number: str, channel_of) -> dict:
    """Count this attempt as a failure in advance; answer ``{"locked", "delay"}``.

    ``channel_of(member)`` tells how to reach the member when the account locks."""
    now = datetime.now(timezone.utc)
    # concurrent first attempts for one file number: create the row once
    # (ON CONFLICT DO NOTHING), then everyone takes its lock in turn
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    row = None
    while row is None:  # a concurrent success may delete the row we waited for: recreate it
        session.execute(dialect_insert(LoginThrottle)
                        .values(file_number=file_number, failures=0, last_failure_at=now)
                        .on_conflict_do_nothing())
        row = session.get(LoginThrottle, file_number, with_for_update=True,
                          populate_existing=True)
    if row.locked_at is None and _aware(row.last_failure_at) < now - FORGET_AFTER:
        row.failures = 0
    if row.locked_at is not None:
        audit.record(session, "login_refused_locked", file_number, actor="member")
        return {"locked": True, "delay": 0.0}
    previous = row.failures or 0
    row.failures = previous + 1
    row.last_failure_at = now
    if previous >= LOCK_THRESHOLD:
        row.failures = previous
        row.locked_at = now
        audit.record(session, "account_locked", file_number, actor="system", failures=previous)
        member = session.get(Member, file_number)
        if member is not None:
            outbox.add(session, Outbox, new_event(
                "account_locked", {"failures": previous, "locked_at": now,
                                   "channel": channel_of(member)}, member_id=file_number))
        return {"locked": True, "delay": 0.0}
    return {"locked": False, "delay": delay_for(previous)}


def give_back(session: Session, file_number: str) -> None:
    """Take back an attempt counted by ``before_attempt`` whose password was
    never checked (no hashing slot in time: the service was overloaded)."""
    row = session.get(LoginThrottle, file_number, with_for_update=True)
    if row is not None and row.locked_at is None and (row.failures or 0) > 0:
        row.failures -= 1


def succeeded(session: Session, file_number: str) -> None:
    session.execute(delete(LoginThrottle).where(LoginThrottle.file_number == file_number))


def unlock(session: Session, file_number: str, actor: str) -> bool:
    """Unlock (a new password, or an advisor). True when it was locked."""
    row = session.get(LoginThrottle, file_number)
    was_locked = row is not None and row.locked_at is not None
    succeeded(session, file_number)
    if was_locked:
        audit.record(session, "account_unlocked", file_number, actor=actor)
    return was_locked


def is_locked(session: Session, file_number: str) -> bool:
    row = session.get(LoginThrottle, file_number)
    return row is not None and row.locked_at is not None


def purge(session: Session) -> None:
    cutoff = datetime.now(timezone.utc) - FORGET_AFTER
    session.execute(delete(LoginThrottle).where(LoginThrottle.locked_at.is_(None),
                                                LoginThrottle.last_failure_at < cutoff))


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
