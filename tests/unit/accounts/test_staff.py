"""Staff accounts: password + TOTP, sessions, roles (services/accounts/staff.py)."""
import time
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
from sqlalchemy import select

from carpimko.errors import Conflict, InvalidRequest, Unauthorized
from services.accounts import staff
from services.accounts.models import AuditEvent, StaffSession

PASSWORD = "le conseiller boit du thé vert"


def create(db, login="c.dupont", role="advisor"):
    with db.transaction() as session:
        created = staff.create(session, login, "Camille Dupont", role, PASSWORD, "cli")
    return pyotp.TOTP(parse_qs(urlparse(created["provisioning_uri"]).query)["secret"][0])


def login(db, code, login_name="c.dupont", password=PASSWORD, at=None):
    with db.transaction() as session:
        return staff.login(session, login_name, password, code, at)


def test_login_needs_password_and_totp(accounts_db):
    totp = create(accounts_db)
    now = time.time()
    result = login(accounts_db, totp.at(now), at=now)
    assert result["staff"] == {"login": "c.dupont", "display_name": "Camille Dupont",
                               "role": "advisor"}
    with accounts_db.transaction() as session:
        assert staff.resolve(session, result["token"])["staff"]["role"] == "advisor"


@pytest.mark.parametrize("case", ["wrong_code", "wrong_password", "unknown", "no_code", "replay"])
def test_every_failure_is_the_same_unauthorized(accounts_db, case):
    totp = create(accounts_db)
    now = time.time()
    if case == "replay":
        login(accounts_db, totp.at(now), at=now)
    code = {"wrong_code": str((int(totp.at(now)) + 1) % 1_000_000).zfill(6),
            "no_code": ""}.get(case, totp.at(now))
    with pytest.raises(Unauthorized):
        login(accounts_db, code, login_name="inconnu" if case == "unknown" else "c.dupont",
              password="pas le bon" if case == "wrong_password" else PASSWORD, at=now)


def test_a_code_from_the_previous_step_is_accepted_once(accounts_db):
    totp = create(accounts_db)
    now = time.time()
    login(accounts_db, totp.at(now - 30), at=now)
    with pytest.raises(Unauthorized):
        login(accounts_db, totp.at(now - 30), at=now)


def test_roles():
    advisor = {"staff": {"login": "a", "display_name": "A", "role": "advisor"}}
    admin = {"staff": {"login": "b", "display_name": "B", "role": "admin"}}
    assert staff.require(advisor, "advisor")["login"] == "a"
    assert staff.require(admin, "advisor")["login"] == "b"
    assert staff.require(admin, "admin")["login"] == "b"
    for who, role in ((advisor, "admin"), (None, "advisor"),
                      ({"staff": {"login": "m", "display_name": "M", "role": "member"}}, "advisor")):
        with pytest.raises(Unauthorized):
            staff.require(who, role)


def test_creation_is_validated(accounts_db):
    create(accounts_db)
    with pytest.raises(Conflict):
        create(accounts_db)
    with accounts_db.transaction() as session, pytest.raises(InvalidRequest) as exc:
        staff.create(session, "X", "", "boss", "court", "cli")
    assert set(exc.value.fields) == {"login", "role", "display_name", "password"}


def test_staff_sessions_end_when_idle(accounts_db):
    totp = create(accounts_db)
    token = login(accounts_db, totp.now())["token"]
    with accounts_db.transaction() as session:
        row = session.scalars(select(StaffSession)).one()
        row.last_seen_at = datetime.now(timezone.utc) - timedelta(minutes=16)
    with accounts_db.transaction() as session:
        assert staff.resolve(session, token) is None


def test_advisor_access_to_a_member_file_is_audited(accounts_db):
    with accounts_db.transaction() as session:
        seen = staff.member_file(session, {"login": "c.dupont", "role": "advisor"}, "1234567")
    assert seen["file_number"] == "1234567" and seen["locked"] is False
    with accounts_db.transaction() as session:
        rows = session.scalars(select(AuditEvent).where(AuditEvent.kind == "advisor_access")).all()
        assert [(r.file_number, r.actor) for r in rows] == [("1234567", "advisor:c.dupont")]


def test_an_advisors_document_download_is_audited_and_listed(accounts_db):
    advisor = {"login": "c.dupont", "role": "advisor"}
    with accounts_db.transaction() as session:
        staff.document_download(session, advisor, "1234567", "d0c0ffee-0000-4000-8000-000000000001",
                                "Relevé de cotisations 2026")
        with pytest.raises(InvalidRequest):
            staff.document_download(session, advisor, "12", "x", "t")
    with accounts_db.transaction() as session:
        row = session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "advisor_document_download")).one()
        assert (row.file_number, row.actor) == ("1234567", "advisor:c.dupont")
        assert row.occurred_at is not None
        seen = staff.member_file(session, advisor, "1234567")
    assert [e["kind"] for e in seen["advisor_events"]] == ["advisor_access",
                                                          "advisor_document_download"]
    assert seen["advisor_events"][1]["detail"] == {
        "document_id": "d0c0ffee-0000-4000-8000-000000000001",
        "title": "Relevé de cotisations 2026"}
