"""Staff (advisors, administrators) through the gateway: password + TOTP,
roles enforced on every staff endpoint, a member never reaches them."""
from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import requests

from carpimko.db import Database
from gateway.service import GatewayService
from services.accounts import staff, throttle
from services.accounts.models import LoginThrottle
from services.accounts.service import AccountsService
from tests.support import factories
from tests.support.smtp import free_port

PASSWORD = "le conseiller boit du thé vert"


@pytest.fixture
def suite(container_factory, make_config):
    accounts = make_config("accounts")
    factories.add_member(accounts["DATABASE_URL"], "1234567", email="claire@example.fr")
    db = Database(accounts["DATABASE_URL"], pool_size=1)
    totps = {}
    with db.transaction() as session:
        for login, role in (("c.dupont", "advisor"), ("a.admin", "admin")):
            uri = staff.create(session, login, "Agent", role, PASSWORD, "test")["provisioning_uri"]
            totps[login] = pyotp.TOTP(parse_qs(urlparse(uri).query)["secret"][0])
    container_factory(AccountsService, accounts).start()
    port = free_port()
    container_factory(GatewayService, make_config(
        None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", LOGIN_RATE_LIMIT="100/900")).start()
    yield f"http://127.0.0.1:{port}", totps, db
    db.dispose()


def staff_login(base, login, totp):
    http = requests.Session()
    r = http.post(f"{base}/api/v1/staff/session",
                  json={"login": login, "password": PASSWORD, "totp": totp.now()})
    assert r.status_code == 200, r.text
    return http


def test_staff_login_needs_the_totp(suite):
    base, totps, _ = suite
    r = requests.post(f"{base}/api/v1/staff/session",
                      json={"login": "c.dupont", "password": PASSWORD, "totp": "000000"})
    assert r.status_code == 401
    r = requests.post(f"{base}/api/v1/staff/session",
                      json={"login": "c.dupont", "password": PASSWORD})
    assert r.status_code == 400


def test_a_member_session_never_reaches_staff_endpoints(suite):
    base, _, _ = suite
    member = requests.Session()
    assert member.post(f"{base}/api/v1/session", json={
        "file_number": "1234567", "password": factories.PASSWORD}).status_code == 200
    assert member.get(f"{base}/api/v1/staff/members/1234567").status_code == 401
    assert member.post(f"{base}/api/v1/staff/members/1234567/unlock").status_code == 401
    assert member.post(f"{base}/api/v1/staff/users", json={}).status_code == 401
    # nor does a member's token sent as a staff cookie
    token = member.cookies.get("carpimko_session")
    forged = requests.get(f"{base}/api/v1/staff/members/1234567",
                          cookies={"carpimko_staff": token})
    assert forged.status_code == 401


def test_an_advisor_sees_a_file_and_unlocks_but_cannot_create_staff(suite):
    base, totps, db = suite
    with db.transaction() as session:
        for _ in range(throttle.LOCK_THRESHOLD + 1):
            throttle.before_attempt(session, "1234567", lambda m: "email")
    advisor = staff_login(base, "c.dupont", totps["c.dupont"])
    seen = advisor.get(f"{base}/api/v1/staff/members/1234567").json()
    assert seen["file_number"] == "1234567" and seen["locked"] is True
    r = advisor.post(f"{base}/api/v1/staff/members/1234567/unlock")
    assert r.json() == {"file_number": "1234567", "was_locked": True}
    with db.transaction() as session:
        assert session.get(LoginThrottle, "1234567") is None
    r = advisor.post(f"{base}/api/v1/staff/users", json={
        "login": "x.new", "display_name": "X", "role": "advisor", "password": PASSWORD})
    assert r.status_code == 403
    assert advisor.get(f"{base}/api/v1/staff/members/9999999").status_code == 404


def test_an_admin_creates_staff(suite):
    base, totps, _ = suite
    admin = staff_login(base, "a.admin", totps["a.admin"])
    r = admin.post(f"{base}/api/v1/staff/users", json={
        "login": "x.new", "display_name": "Xavier", "role": "advisor", "password": PASSWORD})
    assert r.status_code == 201 and r.json()["provisioning_uri"].startswith("otpauth://totp/")
    bad = admin.post(f"{base}/api/v1/staff/users", json={
        "login": "Y", "display_name": "Y", "role": "chef", "password": "court"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"login", "role", "password"}
    assert admin.delete(f"{base}/api/v1/staff/session").status_code == 204
    assert admin.get(f"{base}/api/v1/staff/members/1234567").status_code == 401


def test_staff_pages_login_open_a_file_unlock_logout(suite):
    import re
    base, totps, db = suite
    with db.transaction() as session:
        for _ in range(throttle.LOCK_THRESHOLD + 1):
            throttle.before_attempt(session, "1234567", lambda m: "email")
    browser = requests.Session()
    assert browser.get(f"{base}/agents", allow_redirects=False).headers["Location"] == \
        "/agents/connexion"
    bad = browser.post(f"{base}/agents/connexion", data={
        "login": "c.dupont", "password": PASSWORD, "totp": "123456"})
    assert bad.status_code == 401 and "code de l" in bad.text
    r = browser.post(f"{base}/agents/connexion", data={
        "login": "c.dupont", "password": PASSWORD, "totp": totps["c.dupont"].now()},
        allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/agents"
    page = browser.get(f"{base}/agents", params={"dossier": "1234567"})
    assert page.status_code == 200 and "verrouillé" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    assert browser.post(f"{base}/agents/dossier/1234567/deverrouiller",
                        data={"csrf_token": "x"}).status_code == 403
    done = browser.post(f"{base}/agents/dossier/1234567/deverrouiller", data={"csrf_token": csrf})
    assert done.status_code == 200 and "Le compte est déverrouillé" in done.text
    with db.transaction() as session:
        assert not throttle.is_locked(session, "1234567")
    out = browser.post(f"{base}/agents/deconnexion", data={"csrf_token": csrf},
                       allow_redirects=False)
    assert out.headers["Location"] == "/agents/connexion"
    assert browser.get(f"{base}/agents", allow_redirects=False).status_code == 303
