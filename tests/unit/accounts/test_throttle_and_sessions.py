"""Brute force (services/accounts/throttle.py) and session lifetimes
(services/accounts/authentication.py)."""
import hashlib
import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from services.accounts import audit, authentication, recovery, throttle
from services.accounts.models import AuditEvent, LoginThrottle, Outbox, WebSession

from .conftest import OLD_PASSWORD


def attempt(db, file_number):
    with db.transaction() as session:
        return throttle.before_attempt(session, file_number, recovery.channel_for)


def lock_events(db):
    with db.transaction() as session:
        return [json.loads(r.body) for r in session.scalars(select(Outbox))
                if r.event_type == "account_locked"]


def test_delays_grow_then_the_account_locks(accounts_db):
    seen = [attempt(accounts_db, "1234567") for _ in range(throttle.LOCK_THRESHOLD + 2)]
    assert [s["delay"] for s in seen[:10]] == [0, 0, 0, 0.5, 1, 1.5, 1.5, 1.5, 1.5, 1.5]
    assert [s["locked"] for s in seen] == [False] * 10 + [True, True]
    events = lock_events(accounts_db)
    assert [(e["member_id"], e["payload"]["failures"], e["payload"]["channel"])
            for e in events] == [("1234567", 10, "email")]


def test_unknown_file_numbers_are_throttled_and_locked_alike(accounts_db):
    known = [attempt(accounts_db, "1234567") for _ in range(12)]
    unknown = [attempt(accounts_db, "1111111") for _ in range(12)]
    assert known == unknown
    assert len(lock_events(accounts_db)) == 1  # nobody to tell for an unknown number


def test_success_resets_the_count(accounts_db):
    for _ in range(5):
        attempt(accounts_db, "1234567")
    with accounts_db.transaction() as session:
        throttle.succeeded(session, "1234567")
    assert attempt(accounts_db, "1234567") == {"locked": False, "delay": 0.0}


def test_never_more_than_the_threshold_of_failures_between_unlocks():
    # the documented bound: far below 100 an hour
    assert throttle.LOCK_THRESHOLD <= 100
    assert max(throttle.DELAYS) <= 1.5  # well under the gateway's RPC timeout (3 s in tests)


def test_an_advisor_unlocks(accounts_db):
    for _ in range(11):
        attempt(accounts_db, "1234567")
    with accounts_db.transaction() as session:
        assert throttle.is_locked(session, "1234567")
        assert throttle.unlock(session, "1234567", actor="advisor:dupont") is True
    with accounts_db.transaction() as session:
        assert not throttle.is_locked(session, "1234567")
        assert session.scalars(select(AuditEvent.actor).where(
            AuditEvent.kind == "account_unlocked")).all() == ["advisor:dupont"]


def test_old_failures_are_forgotten(accounts_db):
    for _ in range(5):
        attempt(accounts_db, "1234567")
    with accounts_db.transaction() as session:
        session.get(LoginThrottle, "1234567").last_failure_at = (
            datetime.now(timezone.utc) - throttle.FORGET_AFTER - timedelta(minutes=1))
    assert attempt(accounts_db, "1234567")["delay"] == 0


def login(db):
    with db.transaction() as session:
        return authentication.login(session, "1234567", OLD_PASSWORD, 24)


def row_of(session, token):
    return session.get(WebSession, hashlib.sha256(token.encode()).hexdigest())


def test_absolute_lifetime_is_capped_at_12_hours(accounts_db):
    token = login(accounts_db)["token"]
    with accounts_db.transaction() as session:
        row = row_of(session, token)
        life = row.expires_at.replace(tzinfo=timezone.utc) - row.created_at.replace(tzinfo=timezone.utc)
    assert life == timedelta(hours=12)


def test_idle_session_ends_after_30_minutes(accounts_db):
    token = login(accounts_db)["token"]
    with accounts_db.transaction() as session:
        row_of(session, token).last_seen_at = datetime.now(timezone.utc) - timedelta(minutes=29)
    with accounts_db.transaction() as session:
        assert authentication.resolve(session, token) is not None  # and restarts the idle clock
    with accounts_db.transaction() as session:
        seen = row_of(session, token).last_seen_at.replace(tzinfo=timezone.utc)
        assert datetime.now(timezone.utc) - seen < timedelta(seconds=5)
        row_of(session, token).last_seen_at = datetime.now(timezone.utc) - timedelta(minutes=31)
    with accounts_db.transaction() as session:
        assert authentication.resolve(session, token) is None
    with accounts_db.transaction() as session:
        assert row_of(session, token) is None  # ended server side


def test_a_busy_session_is_not_rewritten_on_every_page(accounts_db):
    token = login(accounts_db)["token"]
    seen = datetime.now(timezone.utc) - timedelta(seconds=10)
    with accounts_db.transaction() as session:
        row_of(session, token).last_seen_at = seen
    with accounts_db.transaction() as session:
        assert authentication.resolve(session, token) is not None
        assert not session.dirty  # nothing to write: the idle clock is recent enough
    with accounts_db.transaction() as session:
        assert row_of(session, token).last_seen_at.replace(tzinfo=timezone.utc) == seen
        row_of(session, token).last_seen_at = seen - authentication.IDLE_REFRESH
    with accounts_db.transaction() as session:
        authentication.resolve(session, token)
    with accounts_db.transaction() as session:
        refreshed = row_of(session, token).last_seen_at.replace(tzinfo=timezone.utc)
        assert datetime.now(timezone.utc) - refreshed < timedelta(seconds=5)


def test_log_out_everywhere(accounts_db):
    tokens = [login(accounts_db)["token"] for _ in range(3)]
    with accounts_db.transaction() as session:
        assert authentication.logout_everywhere(session, tokens[0]) == 3
    with accounts_db.transaction() as session:
        assert all(authentication.resolve(session, t) is None for t in tokens)
        assert authentication.logout_everywhere(session, tokens[0]) == 0


def test_recent_logins_are_the_members_own(accounts_db):
    login(accounts_db)
    with accounts_db.transaction() as session:
        audit.record(session, "login_failed", "1234567")
        audit.record(session, "login_failed", "7654321")
        audit.record(session, "reset_requested", "1234567")
    with accounts_db.transaction() as session:
        logins = audit.recent_logins(session, "1234567")
    assert [item["kind"] for item in logins] == ["login_failed", "login_succeeded"]


def test_purge_forgets_old_unlocked_rows_only(accounts_db):
    for number in ("1111111", "2222222"):
        for _ in range(11 if number == "2222222" else 2):
            attempt(accounts_db, number)
    old = datetime.now(timezone.utc) - throttle.FORGET_AFTER - timedelta(minutes=1)
    with accounts_db.transaction() as session:
        for row in session.scalars(select(LoginThrottle)):
            row.last_failure_at = old
    with accounts_db.transaction() as session:
        throttle.purge(session)
    with accounts_db.transaction() as session:
        assert session.scalars(select(LoginThrottle.file_number)).all() == ["2222222"]


def test_a_page_reads_its_session_and_member_in_one_query(accounts_db):
    from sqlalchemy import event
    token = login(accounts_db)["token"]
    statements = []

    def record(_conn, _cursor, statement, *_args):
        statements.append(statement)
    event.listen(accounts_db.engine, "before_cursor_execute", record)
    try:
        with accounts_db.transaction() as session:
            resolved = authentication.resolve(session, token)
    finally:
        event.remove(accounts_db.engine, "before_cursor_execute", record)
    assert resolved["member"]["file_number"] == "1234567" and resolved["csrf_token"]
    assert len(statements) == 1 and "JOIN" in statements[0].upper()
    with accounts_db.transaction() as session:
        assert authentication.resolve(session, token + "x") is None


def test_a_session_says_how_long_it_lives_without_another_request(accounts_db):
    """``valid_for``: the gateway never keeps a session longer (gateway/sessions.py)."""
    token = login(accounts_db)["token"]
    with accounts_db.transaction() as session:
        fresh = authentication.resolve(session, token)["valid_for"]
    assert authentication.IDLE.total_seconds() - 5 < fresh <= authentication.IDLE.total_seconds()
    with accounts_db.transaction() as session:  # idle clock not restarted yet: less left
        row_of(session, token).last_seen_at = datetime.now(timezone.utc) - timedelta(seconds=20)
    with accounts_db.transaction() as session:
        idle = authentication.resolve(session, token)["valid_for"]
    assert authentication.IDLE.total_seconds() - 25 < idle <= authentication.IDLE.total_seconds() - 20
    with accounts_db.transaction() as session:  # the absolute expiry comes first
        row_of(session, token).expires_at = datetime.now(timezone.utc) + timedelta(seconds=90)
    with accounts_db.transaction() as session:
        near_end = authentication.resolve(session, token)["valid_for"]
    assert 80 < near_end <= 90


def test_every_way_of_ending_sessions_is_noted_for_the_gateways(accounts_db):
    from carpimko.session_events import noted
    tokens = [login(accounts_db)["token"] for _ in range(3)]
    with accounts_db.transaction() as session:
        authentication.logout(session, tokens[0])
        assert noted(session) == {"1234567"}
    with accounts_db.transaction() as session:
        authentication.logout(session, tokens[0])  # already ended: nothing to tell
        authentication.logout(session, "")
        assert noted(session) == set()
    with accounts_db.transaction() as session:
        authentication.logout_everywhere(session, tokens[1])
        assert noted(session) == {"1234567"}
    with accounts_db.transaction() as session:
        authentication.end_sessions(session, "7654321")
        assert noted(session) == {"7654321"}
    with accounts_db.transaction() as session:
        assert authentication.resolve(session, tokens[2]) is None


def test_an_attempt_whose_password_was_never_checked_is_given_back(accounts_db):
    for _ in range(4):
        attempt(accounts_db, "1234567")
    with accounts_db.transaction() as session:
        throttle.give_back(session, "1234567")
    with accounts_db.transaction() as session:
        assert session.get(LoginThrottle, "1234567").failures == 3
    for _ in range(8):
        attempt(accounts_db, "1234567")
    with accounts_db.transaction() as session:
        assert throttle.is_locked(session, "1234567")
        throttle.give_back(session, "1234567")  # a lock is never given back
        assert throttle.is_locked(session, "1234567")
