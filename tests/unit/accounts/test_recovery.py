"""First login / forgotten password (services/accounts/recovery.py) against a
migrated database."""
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from carpimko.errors import InvalidRequest
from services.accounts import authentication, recovery, throttle
from services.accounts.domain import passwords, secrets
from services.accounts.models import AuditEvent, LoginThrottle, Outbox, PasswordReset, WebSession

from .conftest import OLD_PASSWORD

NEW = "le piano dort sous la pluie"


def request(db, file_number="1234567"):
    with db.transaction() as session:
        return recovery.request_reset(session, file_number, "203.0.113.7")


def outbox_events(db, type_=None):
    with db.transaction() as session:
        rows = session.scalars(select(Outbox).order_by(Outbox.id)).all()
        events = [json.loads(r.body) for r in rows]
    return [e for e in events if type_ is None or e["type"] == type_]


def issue(db, file_number="1234567"):
    request(db, file_number)
    request_id = outbox_events(db, "password_reset_requested")[-1]["payload"]["request_id"]
    with db.transaction() as session:
        return recovery.issue_secret(session, request_id)


def with_link(db, token, password=NEW, confirmation=NEW, end_sessions=True):
    with db.transaction() as session:
        return recovery.set_password_with_link(session, token, password, confirmation,
                                               end_sessions)


def with_code(db, code, file_number="7654321", password=NEW, confirmation=NEW):
    with db.transaction() as session:
        return recovery.set_password_with_code(session, file_number, code, password,
                                               confirmation, True)


def resets(db):
    with db.transaction() as session:
        return [(r.channel, r.end_reason) for r in
                session.scalars(select(PasswordReset).order_by(PasswordReset.requested_at))]


def test_verified_email_gets_a_link_no_email_gets_a_letter(accounts_db):
    request(accounts_db, "1234567")
    request(accounts_db, "7654321")
    events = outbox_events(accounts_db, "password_reset_requested")
    assert [(e["member_id"], e["payload"]["channel"], e["payload"]["expires_in_minutes"])
            for e in events] == [("1234567", "email", 30), ("7654321", "post", 15 * 24 * 60)]
    assert all("secret" not in json.dumps(e) for e in events)


def test_unverified_or_bounced_email_gets_a_letter(accounts_db):
    from .conftest import add_member
    add_member(accounts_db, "2222222", email="x@example.fr", email_verified=False)
    add_member(accounts_db, "3333333", email="y@example.fr",
               email_bounced_at=datetime.now(timezone.utc))
    request(accounts_db, "2222222")
    request(accounts_db, "3333333")
    assert [e["payload"]["channel"] for e in outbox_events(accounts_db)] == ["post", "post"]


def test_unknown_file_number_answers_the_same_and_writes_no_event(accounts_db):
    assert request(accounts_db, "1111111") is None
    assert request(accounts_db, "1234567") is None
    assert [e["member_id"] for e in outbox_events(accounts_db)] == ["1234567"]


def test_malformed_file_number_is_refused_with_a_reason(accounts_db):
    with pytest.raises(InvalidRequest) as exc:
        request(accounts_db, "12345")
    assert exc.value.fields == {"file_number": ["7 or 9 digits"]}


def test_only_the_hash_of_the_secret_is_stored(accounts_db):
    secret = issue(accounts_db)
    assert secret["channel"] == "email" and len(secret["secret"]) >= 43
    with accounts_db.transaction() as session:
        row = session.scalars(select(PasswordReset)).one()
        assert row.secret_hash == secrets.digest(secret["secret"])
        stored = json.dumps([json.loads(r.body) for r in session.scalars(select(Outbox))])
        audit = json.dumps([r.detail for r in session.scalars(select(AuditEvent))])
    assert secret["secret"] not in stored and secret["secret"] not in audit


def test_link_sets_the_password_without_logging_in_and_dies(accounts_db):
    token = issue(accounts_db)["secret"]
    with accounts_db.transaction() as session:
        assert recovery.link_is_valid(session, token)
    result = with_link(accounts_db, token)
    assert result == {"ok": True, "sessions_ended": 0, "notified_by": "email"}
    with accounts_db.transaction() as session:
        assert session.scalars(select(WebSession)).all() == []  # never logs in
        assert authentication.check_password(session, "1234567", NEW) is not None
        assert authentication.check_password(session, "1234567", OLD_PASSWORD) is None
        assert not recovery.link_is_valid(session, token)
    assert with_link(accounts_db, token) == {"ok": False,
                                             "fields": {"token": ["reset_link_invalid"]}}
    changed = outbox_events(accounts_db, "password_changed")
    assert [(e["payload"]["channel"], e["payload"]["reason"]) for e in changed] == [
        ("email", "reset_link")]


def test_link_expires_after_30_minutes(accounts_db):
    token = issue(accounts_db)["secret"]
    with accounts_db.transaction() as session:
        row = session.scalars(select(PasswordReset)).one()
        assert row.expires_at.replace(tzinfo=timezone.utc) - row.issued_at.replace(
            tzinfo=timezone.utc) == timedelta(minutes=30)
        row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert with_link(accounts_db, token)["ok"] is False


def test_a_new_request_supersedes_the_previous_link(accounts_db):
    first = issue(accounts_db)["secret"]
    second = issue(accounts_db)["secret"]
    assert with_link(accounts_db, first)["ok"] is False
    assert with_link(accounts_db, second)["ok"] is True
    assert resets(accounts_db) == [("email", "superseded"), ("email", "used")]


def test_a_dead_request_issues_nothing(accounts_db):
    issue(accounts_db)
    old_id = outbox_events(accounts_db)[-1]["payload"]["request_id"]
    request(accounts_db)  # supersedes
    with accounts_db.transaction() as session:
        assert recovery.issue_secret(session, old_id) is None
        assert recovery.issue_secret(session, "00000000-0000-0000-0000-000000000000") is None


def test_policy_errors_keep_the_link_alive(accounts_db):
    token = issue(accounts_db)["secret"]
    assert with_link(accounts_db, token, "court", "court") == {
        "ok": False, "fields": {"password": ["password_too_short"]}}
    assert with_link(accounts_db, token, "helene lefevre 1975", "helene lefevre 1975")[
        "fields"] == {"password": ["password_personal"]}
    assert with_link(accounts_db, token, NEW, NEW + "x")["fields"] == {
        "confirmation": ["password_mismatch"]}
    assert with_link(accounts_db, token)["ok"] is True


def test_letter_code_sets_the_password(accounts_db):
    secret = issue(accounts_db, "7654321")
    assert secret["channel"] == "post" and secret["attempts"] == 5
    assert len(secret["secret"]) == 20  # three groups of six, two dashes
    with accounts_db.transaction() as session:
        row = session.scalars(select(PasswordReset)).one()
        life = row.expires_at.replace(tzinfo=timezone.utc) - row.issued_at.replace(tzinfo=timezone.utc)
    assert life == timedelta(days=15)
    result = with_code(accounts_db, secret["secret"].lower().replace("-", " "))
    assert result == {"ok": True, "sessions_ended": 0, "notified_by": "post"}
    with accounts_db.transaction() as session:
        assert authentication.check_password(session, "7654321", NEW) is not None
    assert with_code(accounts_db, secret["secret"])["ok"] is False  # used


def test_wrong_codes_use_attempts_then_the_code_dies(accounts_db):
    code = issue(accounts_db, "7654321")["secret"]
    wrong = {"ok": False, "fields": {"code": ["reset_code_invalid"]}}
    for _ in range(recovery.CODE_ATTEMPTS):
        assert with_code(accounts_db, "ABCDEF-ABCDEF-ABCDEF") == wrong
    assert with_code(accounts_db, code) == wrong  # right code, but no attempt left
    assert resets(accounts_db) == [("post", "attempts")]


def test_code_answers_the_same_for_unknown_or_codeless_file_numbers(accounts_db):
    wrong = {"ok": False, "fields": {"code": ["reset_code_invalid"]}}
    assert with_code(accounts_db, "ABCDEF-ABCDEF-ABCDEF", file_number="1111111") == wrong
    assert with_code(accounts_db, "ABCDEF-ABCDEF-ABCDEF", file_number="7654321") == wrong
    assert with_code(accounts_db, "n'importe quoi", file_number="7654321") == wrong


def test_a_new_request_supersedes_the_letter_code(accounts_db):
    first = issue(accounts_db, "7654321")["secret"]
    second = issue(accounts_db, "7654321")["secret"]
    assert with_code(accounts_db, first)["ok"] is False
    assert with_code(accounts_db, second)["ok"] is True


def test_ending_every_session_is_an_option(accounts_db):
    with accounts_db.transaction() as session:
        for _ in range(2):
            authentication.login(session, "1234567", OLD_PASSWORD, 8)
    token = issue(accounts_db)["secret"]
    assert with_link(accounts_db, token, end_sessions=False)["sessions_ended"] == 0
    token = issue(accounts_db)["secret"]
    assert with_link(accounts_db, token, "un autre piano dort ici", "un autre piano dort ici",
                     end_sessions=True)["sessions_ended"] == 2
    with accounts_db.transaction() as session:
        assert session.scalars(select(WebSession)).all() == []


def test_a_new_password_unlocks_a_locked_account(accounts_db):
    with accounts_db.transaction() as session:
        session.add(LoginThrottle(file_number="1234567", failures=10,
                                  last_failure_at=datetime.now(timezone.utc),
                                  locked_at=datetime.now(timezone.utc)))
    assert with_link(accounts_db, issue(accounts_db)["secret"])["ok"]
    with accounts_db.transaction() as session:
        assert not throttle.is_locked(session, "1234567")


def test_requests_beyond_the_daily_limit_are_ignored_silently(accounts_db):
    for _ in range(recovery.MAX_REQUESTS_PER_DAY + 2):
        assert request(accounts_db) is None
    assert len(outbox_events(accounts_db)) == recovery.MAX_REQUESTS_PER_DAY


def test_everything_is_audited_without_secrets(accounts_db):
    token = issue(accounts_db)["secret"]
    with_link(accounts_db, token)
    request(accounts_db, "1111111")
    with accounts_db.transaction() as session:
        kinds = [(r.file_number, r.kind) for r in
                 session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert kinds == [("1234567", "reset_requested"), ("1234567", "reset_secret_issued"),
                     ("1234567", "password_changed"), ("1111111", "reset_requested")]
