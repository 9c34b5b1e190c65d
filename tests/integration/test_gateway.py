"""The gateway over HTTP, with the real services behind it (or not running)."""
from __future__ import annotations

import time

import pytest
import requests

from gateway.service import GatewayService
from services.accounts.service import AccountsService
from services.contributions.service import ContributionsService
from services.documents.service import DocumentsService
from services.notifications.service import NotificationsService
from services.messaging.service import MessagingService
from tests.support import factories
from tests.support.smtp import free_port
from tests.support.waiting import wait_for


@pytest.fixture
def gateway(container_factory, make_config):
    port = free_port()
    config = make_config(None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", RPC_TIMEOUT=2)
    container_factory(GatewayService, config).start()
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def full_suite(container_factory, make_config, gateway, smtp_server):
    accounts = make_config("accounts")
    contributions = make_config("contributions")
    for number, email in (("1234567", "claire@example.fr"), ("7654321", None)):
        factories.add_member(accounts["DATABASE_URL"], number, email=email)
        factories.add_contributor(contributions["DATABASE_URL"], number)
    container_factory(AccountsService, accounts).start()
    container_factory(ContributionsService, contributions).start()
    container_factory(DocumentsService, make_config("documents")).start()
    container_factory(NotificationsService,
                      make_config("notifications", SMTP_PORT=smtp_server.port)).start()
    container_factory(MessagingService, make_config("messaging")).start()
    return gateway


def login(base, file_number="1234567"):
    session = requests.Session()
    r = session.post(f"{base}/api/v1/session",
                     json={"file_number": file_number, "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    return session


def test_services_down_give_503_fast_never_a_hang(gateway):
    started = time.monotonic()
    r = requests.post(f"{gateway}/api/v1/session",
                      json={"file_number": "1234567", "password": "x"}, timeout=10)
    assert time.monotonic() - started < 5
    assert r.status_code == 503
    assert r.headers["Retry-After"]
    error = r.json()["error"]
    assert error["code"] == "service_unavailable" and "indisponible" in error["message"]
    health = requests.get(f"{gateway}/health", timeout=10)
    assert health.status_code == 503
    assert health.json()["services"]["accounts"] == "down"
    page = requests.get(f"{gateway}/connexion", timeout=10)
    assert page.status_code == 200  # the login page itself needs no service
    assert "Connexion" in page.text


def test_health_reports_every_service_up(full_suite):
    r = requests.get(f"{full_suite}/health")
    assert r.status_code == 200
    assert r.json()["services"] == {"accounts": "up", "contributions": "up", "documents": "up",
                                    "notifications": "up", "messaging": "up", "gateway": "up"}


def test_declaration_journey_over_the_api(full_suite, smtp_server):
    s = login(full_suite)
    r = s.post(f"{full_suite}/api/v1/declarations",
               json={"year": 2026, "professional_income": "40000", "conventioned_income": "40000"})
    assert r.status_code == 202, r.text
    url = f"{full_suite}/api/v1/declarations/{r.json()['id']}"
    assert r.headers["Location"].endswith(r.json()["id"])
    done = wait_for(lambda: (lambda d: d if d["complete"] else None)(s.get(url).json()))
    steps = {step["step"]: step for step in done["steps"]}
    assert list(steps) == ["declared", "contributions_recalculated", "document_generated",
                           "member_notified"]
    assert steps["contributions_recalculated"]["total"] == "9126.00"
    assert steps["member_notified"]["channel"] == "email"
    docs = s.get(f"{full_suite}/api/v1/documents").json()["items"]
    pdf = s.get(f"{full_suite}{docs[0]['content_url']}")
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    # another member sees neither the declaration nor the document
    other = login(full_suite, "7654321")
    assert other.get(url).status_code == 404
    assert other.get(f"{full_suite}{docs[0]['content_url']}").status_code == 404
    assert other.get(f"{full_suite}{docs[0]['content_url']}").json()["error"]["code"] == "not_found"


def test_api_errors_use_one_format(full_suite):
    anonymous = requests.Session()
    r = anonymous.get(f"{full_suite}/api/v1/documents")
    assert r.status_code == 401 and r.json()["error"]["code"] == "login_required"
    r = anonymous.post(f"{full_suite}/api/v1/session",
                       json={"file_number": "1234567", "password": "mauvais"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = anonymous.post(f"{full_suite}/api/v1/session",
                       json={"file_number": "12", "password": "x", "admin": True})
    assert r.status_code == 400
    assert set(r.json()["error"]["fields"]) == {"file_number", "admin"}
    s = login(full_suite)
    r = s.post(f"{full_suite}/api/v1/declarations", data="year=2026")
    assert r.status_code == 415
    r = s.post(f"{full_suite}/api/v1/declarations",
               json={"year": 2026, "professional_income": "abc", "conventioned_income": None})
    assert r.status_code == 400 and "professional_income" in r.json()["error"]["fields"]
    r = s.post(f"{full_suite}/api/v1/declarations",
               json={"year": 1990, "professional_income": "100", "conventioned_income": None})
    assert r.status_code == 400 and "year" in r.json()["error"]["fields"]
    r = s.post(f"{full_suite}/api/v1/declarations", headers={"Origin": "https://evil.example"},
               json={"year": 2026, "professional_income": "100", "conventioned_income": None})
    assert r.status_code == 403
    assert s.get(f"{full_suite}/api/v1/nothing-here").status_code == 404
    r = s.post(f"{full_suite}/api/v1/declarations", data="x" * 20000,
               headers={"Content-Type": "application/json"})
    assert r.status_code == 413


def test_security_headers_and_session_cookie(full_suite):
    r = requests.post(f"{full_suite}/api/v1/session",
                      json={"file_number": "1234567", "password": factories.PASSWORD})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    for response in (r, requests.get(f"{full_suite}/connexion")):
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


def test_web_pages_journey_with_csrf(full_suite):
    s = requests.Session()
    r = s.get(f"{full_suite}/", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/connexion"
    r = s.post(f"{full_suite}/connexion", data={"file_number": "123", "password": ""})
    assert r.status_code == 400
    assert "7 ou 9 chiffres" in r.text and "Ce champ est obligatoire" in r.text
    r = s.post(f"{full_suite}/connexion",
               data={"file_number": "1234567", "password": factories.PASSWORD})
    assert r.status_code == 200 and "Bonjour" in r.text
    form = s.get(f"{full_suite}/revenus/declarer").text
    token = form.split('name="csrf_token" value="')[1].split('"')[0]
    r = s.post(f"{full_suite}/revenus/declarer",
               data={"year": "2026", "professional_income": "40 000,00", "conventioned_income": ""})
    assert r.status_code == 403  # no CSRF token
    r = s.post(f"{full_suite}/revenus/declarer",
               data={"csrf_token": token, "year": "2026", "professional_income": "abc",
                     "conventioned_income": ""})
    assert r.status_code == 400 and "Saisissez un montant" in r.text
    r = s.post(f"{full_suite}/revenus/declarer",
               data={"csrf_token": token, "year": "2026", "professional_income": "40 000,00",
                     "conventioned_income": ""})
    assert r.status_code == 200 and "Suivi de ma déclaration" in r.text
    page_url = r.url
    page = wait_for(lambda: (lambda t: t if "Télécharger mon relevé" in t and "Par courriel" in t
                             else None)(s.get(page_url).text))
    assert "9\u202f126,00" in page
    link = page.split('href="/documents/')[1].split('"')[0]
    assert s.get(f"{full_suite}/documents/{link}").content.startswith(b"%PDF")
    r = s.post(f"{full_suite}/deconnexion", data={"csrf_token": token}, allow_redirects=False)
    assert r.status_code == 303
    assert s.get(f"{full_suite}/", allow_redirects=False).status_code == 303
    assert s.get(f"{full_suite}/page-inconnue").status_code == 404


def test_delivery_log_shows_what_was_sent_and_how(full_suite, smtp_server):
    s = login(full_suite, "7654321")
    r = s.post(f"{full_suite}/api/v1/declarations",
               json={"year": 2026, "professional_income": "30000", "conventioned_income": None})
    url = f"{full_suite}/api/v1/declarations/{r.json()['id']}"
    wait_for(lambda: s.get(url).json()["complete"])
    log = s.get(f"{full_suite}/api/v1/notifications").json()["items"]
    assert [(i["channel"], i["status"], i["title"]) for i in log] == [
        ("post", "sent", "Relevé de cotisations 2026")]
    page = s.get(f"{full_suite}/envois").text
    assert "Courrier postal" in page and "Aucune adresse électronique" in page
    assert requests.get(f"{full_suite}/api/v1/notifications").status_code == 401
    assert login(full_suite).get(f"{full_suite}/api/v1/notifications").json()["items"] == []


def test_dashboard_shows_what_is_due_and_the_up_to_date_status(full_suite):
    s = login(full_suite)
    page = s.get(f"{full_suite}/").text
    assert "Ma situation" not in page  # no schedule yet: nothing to say
    r = s.post(f"{full_suite}/api/v1/declarations",
               json={"year": 2026, "professional_income": "40000", "conventioned_income": "40000"})
    url = f"{full_suite}/api/v1/declarations/{r.json()['id']}"
    wait_for(lambda: s.get(url).json()["complete"])
    overview = s.get(f"{full_suite}/api/v1/schedules").json()
    page = s.get(f"{full_suite}/").text
    assert "Ma situation" in page
    if overview["up_to_date"]:
        assert "Vous êtes à jour de vos cotisations" in page
    else:
        assert "91e jour" in page and "en attente de règlement" in page
