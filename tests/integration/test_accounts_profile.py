"""Profile, security page, log out everywhere and the personal data export,
through the gateway with the real services."""
from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import requests
from pypdf import PdfReader

from gateway.service import GatewayService
from services.accounts.service import AccountsService
from services.contributions.service import ContributionsService
from services.documents.service import DocumentsService
from services.notifications.service import NotificationsService
from tests.support import factories
from tests.support.smtp import free_port
from tests.support.waiting import wait_for


@pytest.fixture
def suite(container_factory, make_config, smtp_server):
    port = free_port()
    accounts = make_config("accounts")
    contributions = make_config("contributions")
    factories.add_member(accounts["DATABASE_URL"], "1234567", email="claire@example.fr")
    factories.add_member(accounts["DATABASE_URL"], "7654321", email=None, first_name="Jean",
                         last_name="Dupont")
    factories.add_contributor(contributions["DATABASE_URL"], "1234567")
    container_factory(AccountsService, accounts).start()
    container_factory(ContributionsService, contributions).start()
    container_factory(DocumentsService, make_config("documents")).start()
    notifications = make_config("notifications", SMTP_PORT=smtp_server.port)
    container_factory(NotificationsService, notifications).start()
    container_factory(GatewayService, make_config(
        None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}")).start()
    return f"http://127.0.0.1:{port}", smtp_server, Path(notifications["DATA_DIR"]) / "letters"


def logged_in(base, file_number="1234567"):
    http = requests.Session()
    r = http.post(f"{base}/api/v1/session",
                  json={"file_number": file_number, "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    return http


def test_new_email_is_confirmed_by_link_and_the_previous_one_is_told(suite):
    base, smtp, letters = suite
    http = logged_in(base)
    r = http.patch(f"{base}/api/v1/me/profile", json={"email": "claire.martin@example.org"})
    assert r.status_code == 200, r.text
    assert r.json()["email"] == "claire@example.fr"
    assert r.json()["email_pending_verification"] == "claire.martin@example.org"
    mail = wait_for(lambda: smtp.messages() and smtp.messages()[0])
    assert mail["To"] == "claire.martin@example.org"
    token = re.search(r"/profil/courriel\?jeton=(\S+)",
                      mail.get_body(preferencelist=("plain",)).get_content()).group(1)
    page = requests.get(f"{base}/profil/courriel", params={"jeton": token})
    assert page.status_code == 200 and "Confirmer mon adresse" in page.text
    done = requests.post(f"{base}/profil/courriel", data={"token": token})
    assert done.status_code == 200 and "claire.martin@example.org" in done.text
    assert http.get(f"{base}/api/v1/me/profile").json()["email"] == "claire.martin@example.org"
    told = wait_for(lambda: len(smtp.messages()) == 2 and smtp.messages()[1])
    assert told["To"] == "claire@example.fr" and "modifiées" in told["Subject"]
    again = requests.post(f"{base}/api/v1/profile/email-confirmation", json={"token": token})
    assert again.status_code == 400 and "ne fonctionne plus" in again.json()["error"]["fields"]["token"][0]


def test_address_change_refused_then_accepted_by_the_page(suite):
    base, smtp, letters = suite
    http = logged_in(base)
    page = http.get(f"{base}/profil")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": csrf, "email": "claire@example.fr", "phone": "06 12",
            "line1": "8 avenue Foch", "line2": "", "postcode": "7501", "city": "Paris",
            "country": "France"}
    bad = http.post(f"{base}/profil", data=form)
    assert bad.status_code == 400
    assert "5 chiffres" in bad.text and "10 chiffres" in bad.text
    good = http.post(f"{base}/profil", data={**form, "phone": "06 12 34 56 78",
                                             "postcode": "75016"})
    assert good.status_code == 200 and "Vos coordonnées sont enregistrées" in good.text
    profile = http.get(f"{base}/api/v1/me/profile").json()
    assert profile["phone"] == "+33612345678"
    assert profile["address_lines"] == ["8 avenue Foch", "75016 PARIS"]
    # the previous address is told by post
    letter = wait_for(lambda: next(iter(letters.rglob("*.pdf")), None), timeout=30)
    text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(letter.read_bytes())).pages)
    assert "75002" in text and "75016" not in text  # sent to the previous address
    no_csrf = http.post(f"{base}/profil", data={**form, "csrf_token": "x"})
    assert no_csrf.status_code == 403


def test_member_scoped_endpoints_need_a_session_and_show_only_ones_own_data(suite):
    base, _, _ = suite
    for path in ("/api/v1/me/profile", "/api/v1/me/logins", "/api/v1/me/personal-data"):
        assert requests.get(f"{base}{path}").status_code == 401
    assert requests.patch(f"{base}/api/v1/me/profile", json={"phone": ""}).status_code == 401
    claire, jean = logged_in(base), logged_in(base, "7654321")
    assert claire.get(f"{base}/api/v1/me/profile").json()["email"] == "claire@example.fr"
    assert jean.get(f"{base}/api/v1/me/profile").json()["email"] is None
    export = jean.get(f"{base}/api/v1/me/personal-data").json()
    assert export["accounts"]["identity"]["file_number"] == "7654321"
    assert "claire" not in str(export).lower()
    assert export["career"] is None  # not a contributor
    logins = jean.get(f"{base}/api/v1/me/logins").json()["items"]
    assert [item["kind"] for item in logins] == ["login_succeeded"]


def test_personal_data_export_and_security_page(suite):
    base, _, _ = suite
    http = logged_in(base)
    r = http.get(f"{base}/securite/mes-donnees.json")
    assert r.status_code == 200 and r.headers["Content-Disposition"].startswith("attachment")
    data = r.json()
    assert set(data) == {"generated_at", "accounts", "declarations", "documents", "notifications", "career"}
    assert data["career"]["years"] == []
    assert data["accounts"]["identity"]["email"] == "claire@example.fr"
    assert "password_hash" not in r.text and data["accounts"]["identity"]["password_set"] is True
    assert data["declarations"] == [] and data["documents"] == []
    page = http.get(f"{base}/securite")
    assert page.status_code == 200 and "Connexion réussie" in page.text


def test_log_out_everywhere(suite):
    base, _, _ = suite
    first, second = logged_in(base), logged_in(base)
    r = first.delete(f"{base}/api/v1/sessions")
    assert r.status_code == 200 and r.json() == {"sessions_ended": 2}
    assert first.get(f"{base}/api/v1/me").status_code == 401
    assert second.get(f"{base}/api/v1/me").status_code == 401
    third = logged_in(base)
    page = third.get(f"{base}/securite")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    r = third.post(f"{base}/securite/deconnexion-partout", data={"csrf_token": csrf},
                   allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/connexion"
    assert third.get(f"{base}/api/v1/me").status_code == 401
