"""Logging in and out against a migrated SQLite accounts database
(services/accounts/authentication.py)."""
import hashlib
from datetime import date, datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, text

from carpimko.db import Database
from carpimko.errors import NotFound, Unauthorized
from services.accounts import authentication
from services.accounts.domain import passwords
from services.accounts.models import Member, WebSession

PASSWORD = "Un-Mot-De-Passe-2026"
SUMMARY = {"file_number": "1234567", "full_name": "Mme Anne DURAND", "first_name": "Anne",
           "last_name": "Durand", "civility": "Mme", "status": "active",
           "profession": "orthophoniste"}


CHEAP = dict(time_cost=1, memory_cost=16, parallelism=1)


@pytest.fixture(autouse=True)
def cheap_hasher(monkeypatch):
    """The production argon2 parameters cost ~0.5 s a hash: use cheap ones (same code paths)."""
    hasher = PasswordHasher(**CHEAP)
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH",
                        hasher.hash("not-a-real-password-used-for-constant-time"))


@pytest.fixture
def password_hash(cheap_hasher):
    return passwords.hash_password(PASSWORD)


@pytest.fixture
def db(databases, password_hash):
    database = Database(databases.url("accounts"), pool_size=2)
    with database.transaction() as session:
        session.add(Member(file_number="1234567", civility="Mme", first_name="Anne",
                           last_name="Durand", birth_date=date(1980, 1, 15),
                           profession="orthophoniste", status="active",
                           email="anne.durand@example.fr", email_verified=True,
                           address_line1="1 rue de la Paix", address_line2="Bâtiment B",
                           postcode="75002", city="Paris", country="France",
                           password_hash=password_hash, created_at=datetime.now(timezone.utc)))
    yield database
    database.dispose()


def login(db, file_number="1234567", password=PASSWORD, hours=8):
    with db.transaction() as session:
        return authentication.login(session, file_number, password, hours)


def session_rows(db):
    with db.transaction() as session:
        return session.scalars(select(WebSession)).all()


def test_login_opens_a_session(db):
    before = datetime.now(timezone.utc)
    result = login(db, hours=8)
    assert set(result) == {"token", "csrf_token", "member"}
    assert result["member"] == SUMMARY
    assert len(result["token"]) >= 40 and len(result["csrf_token"]) >= 40
    assert result["token"] != result["csrf_token"]
    [row] = session_rows(db)
    assert row.file_number == "1234567"
    assert row.csrf_token == result["csrf_token"]
    expires = row.expires_at.replace(tzinfo=timezone.utc)
    assert before + timedelta(hours=8) <= expires <= datetime.now(timezone.utc) + timedelta(hours=8)


def test_only_the_token_hash_is_stored(db):
    token = login(db)["token"]
    [row] = session_rows(db)
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    with db.transaction() as session:
        dump = " ".join(str(v) for r in session.execute(text("SELECT * FROM sessions")) for v in r)
    assert token not in dump


def test_login_rehashes_an_outdated_hash(db):
    outdated = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    with db.transaction() as session:
        session.get(Member, "1234567").password_hash = outdated
    login(db)
    with db.transaction() as session:
        new_hash = session.get(Member, "1234567").password_hash
    assert new_hash != outdated
    assert "m=16,t=1,p=1" in new_hash
    assert passwords.verify(new_hash, PASSWORD) is True
    login(db)  # still works with the new hash


def _set_hash(db, value):
    with db.transaction() as session:
        session.get(Member, "1234567").password_hash = value


def test_a_password_changed_after_the_check_fails_the_login(db):
    with db.transaction() as session:
        check = authentication.verify_password("1234567", authentication.stored_hash(session, "1234567"),
                                               PASSWORD)
    assert check.matched
    _set_hash(db, passwords.hash_password("Un-Autre-Mot-De-Passe-2026"))  # changed meanwhile
    with pytest.raises(Unauthorized), db.transaction() as session:
        authentication.login_checked(session, check, PASSWORD, 8)
    assert session_rows(db) == []


def test_the_same_password_rehashed_after_the_check_still_logs_in(db):
    outdated = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash(PASSWORD)
    _set_hash(db, outdated)
    check = authentication.verify_password("1234567", outdated, PASSWORD)
    assert check.matched and check.new_hash is not None
    rehashed = passwords.hash_password(PASSWORD)
    _set_hash(db, rehashed)  # a concurrent login of the member rehashed it first
    with db.transaction() as session:
        assert authentication.login_checked(session, check, PASSWORD, 8)["member"] == SUMMARY
    with db.transaction() as session:
        assert session.get(Member, "1234567").password_hash == rehashed  # not overwritten


def test_the_service_checks_the_password_with_no_transaction_open(db, monkeypatch):
    """argon2 and its wait for a hashing slot must not hold one of accounts' database connections."""
    from contextlib import contextmanager
    from types import SimpleNamespace

    from services.accounts.service import AccountsService

    open_transactions = []

    @contextmanager
    def transaction():
        open_transactions.append(1)
        try:
            with db.transaction() as session:
                yield session
        finally:
            open_transactions.pop()

    seen = []
    real_verify = passwords.verify

    def verify(stored, password):
        seen.append(len(open_transactions))
        return real_verify(stored, password)

    monkeypatch.setattr(passwords, "verify", verify)
    service = SimpleNamespace(db=SimpleNamespace(transaction=transaction), config={"SESSION_HOURS": 8},
                              outbox=SimpleNamespace(nudge=lambda: None))
    result = AccountsService._checked_login(service, "1234567", PASSWORD)
    assert result["member"] == SUMMARY
    with pytest.raises(Unauthorized):
        AccountsService._checked_login(service, "1234567", "Pas-Le-Bon-Mot-De-Passe-1")
    with pytest.raises(Unauthorized):
        AccountsService._checked_login(service, "7777777", PASSWORD)  # unknown: the same work
    assert seen == [0, 0, 0]


def test_login_keeps_an_up_to_date_hash(db, password_hash):
    login(db)
    with db.transaction() as session:
        assert session.get(Member, "1234567").password_hash == password_hash


def test_two_logins_give_two_sessions(db):
    a, b = login(db), login(db)
    assert a["token"] != b["token"]
    assert len(session_rows(db)) == 2


@pytest.mark.parametrize("file_number, password", [
    ("1234567", "wrong-password"),
    ("1234567", ""),
    ("1234567", None),
    ("7654321", PASSWORD),     # unknown member
    ("123", PASSWORD),         # not a file number
    ("", PASSWORD),
])
def test_every_failure_is_the_same_unauthorized(db, file_number, password):
    with pytest.raises(Unauthorized) as info:
        login(db, file_number, password)
    assert info.value.message == "invalid file number or password"
    assert info.value.fields == {}
    assert session_rows(db) == []


def test_member_without_password_cannot_log_in(db):
    with db.transaction() as session:
        session.get(Member, "1234567").password_hash = None
    with pytest.raises(Unauthorized, match="invalid file number or password"):
        login(db, password="not-a-real-password-used-for-constant-time")


def test_member_with_empty_password_hash_cannot_log_in(db):
    with db.transaction() as session:
        session.get(Member, "1234567").password_hash = ""
    with pytest.raises(Unauthorized):
        login(db, password="not-a-real-password-used-for-constant-time")


def test_resolve_a_live_session(db):
    result = login(db)
    with db.transaction() as session:
        resolved = authentication.resolve(session, result["token"])
    valid_for = resolved.pop("valid_for")
    assert resolved == {"csrf_token": result["csrf_token"], "member": SUMMARY}
    assert authentication.IDLE.total_seconds() - 5 < valid_for <= authentication.IDLE.total_seconds()


@pytest.mark.parametrize("token", ["", None, "unknown-token", "x" * 201])
def test_resolve_unknown_token(db, token):
    login(db)
    with db.transaction() as session:
        assert authentication.resolve(session, token) is None


def test_expired_session_does_not_resolve(db):
    token = login(db)["token"]
    with db.transaction() as session:
        row = session.get(WebSession, hashlib.sha256(token.encode()).hexdigest())
        row.expires_at = datetime.now(timezone.utc) - timedelta(seconds=1)
    with db.transaction() as session:
        assert authentication.resolve(session, token) is None


def test_login_purges_expired_sessions(db):
    old = login(db)["token"]
    with db.transaction() as session:
        session.get(WebSession, hashlib.sha256(old.encode()).hexdigest()).expires_at = (
            datetime.now(timezone.utc) - timedelta(minutes=1))
    new = login(db)["token"]
    assert [r.token_hash for r in session_rows(db)] == [hashlib.sha256(new.encode()).hexdigest()]


def test_logout_deletes_only_that_session(db):
    a, b = login(db)["token"], login(db)["token"]
    with db.transaction() as session:
        authentication.logout(session, a)
    with db.transaction() as session:
        assert authentication.resolve(session, a) is None
        assert authentication.resolve(session, b) is not None
    assert len(session_rows(db)) == 1


@pytest.mark.parametrize("token", ["", None, "never-issued"])
def test_logout_of_unknown_token_is_harmless(db, token):
    login(db)
    with db.transaction() as session:
        authentication.logout(session, token)
    assert len(session_rows(db)) == 1


def test_contact_details(db):
    with db.transaction() as session:
        details = authentication.contact_details(session, "1234567")
    assert details == {**SUMMARY, "email": "anne.durand@example.fr", "email_verified": True,
                       "email_bounced": False, "prefers_paper": False,
                       "address_lines": ["1 rue de la Paix", "Bâtiment B", "75002 PARIS"],
                       "password_set": True}


def test_contact_details_of_unknown_member(db):
    with db.transaction() as session:
        with pytest.raises(NotFound):
            authentication.contact_details(session, "7654321")


def test_contact_details_of_several_members_leaves_out_the_unknown_ones(db):
    with db.transaction() as session:
        many = authentication.contact_details_many(session, ["1234567", "7654321", "1234567"])
        one = authentication.contact_details(session, "1234567")
    assert many == {"1234567": one}


def test_contact_details_of_several_members_refuses_bad_input(db):
    from carpimko.errors import InvalidRequest
    with db.transaction() as session:
        assert authentication.contact_details_many(session, []) == {}
        with pytest.raises(InvalidRequest, match="list of file numbers"):
            authentication.contact_details_many(session, "1234567")
        with pytest.raises(InvalidRequest, match="too many"):
            authentication.contact_details_many(
                session, [str(n) for n in range(authentication.MAX_CONTACTS_PER_CALL + 1)])
