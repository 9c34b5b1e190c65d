"""First login / forgotten password through the gateway, with the real
accounts, notifications and documents services, RabbitMQ, a database and an
SMTP server: the link by email, the code by post, the notices, the lockout."""
from __future__ import annotations

import html
import io
import re
from pathlib import Path

import pytest
import requests
from pypdf import PdfReader

from gateway.service import GatewayService
from services.accounts.service import AccountsService
from services.documents.service import DocumentsService
from services.notifications.service import NotificationsService
from tests.support import factories
from tests.support.smtp import free_port
from tests.support.waiting import wait_for

NEW = "le piano dort sous la pluie"


@pytest.fixture
def suite(container_factory, make_config, smtp_server, tmp_path):
    port = free_port()
    accounts = make_config("accounts", RESET_RESPONSE_SECONDS=0.05)
    factories.add_member(accounts["DATABASE_URL"], "1234567", email="claire@example.fr")
    factories.add_member(accounts["DATABASE_URL"], "7654321", email=None)
    container_factory(AccountsService, accounts).start()
    container_factory(DocumentsService, make_config("documents")).start()
    notifications = make_config("notifications", SMTP_PORT=smtp_server.port)
    container_factory(NotificationsService, notifications).start()
    container_factory(GatewayService, make_config(
        None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", LOGIN_RATE_LIMIT="100/900",
        RPC_TIMEOUT=6)).start()
    return {"base": f"http://127.0.0.1:{port}", "smtp": smtp_server,
            "letters": Path(notifications["DATA_DIR"]) / "letters"}


def text_body(mail) -> str:
    return mail.get_body(preferencelist=("plain",)).get_content()


def login(base, file_number, password):
    return requests.post(f"{base}/api/v1/session",
                         json={"file_number": file_number, "password": password})


def test_email_link_sets_the_password_and_the_member_is_told(suite):
    base, smtp = suite["base"], suite["smtp"]
    r = requests.post(f"{base}/api/v1/password-reset", json={"file_number": "1234567"})
    assert r.status_code == 202 and "30 minutes" in r.json()["message"]
    mail = wait_for(lambda: smtp.messages() and smtp.messages()[0])
    assert mail["To"] == "claire@example.fr"
    link = re.search(r"https://espace\.carpimko\.test/mot-de-passe/nouveau\?jeton=(\S+)",
                     text_body(mail))
    token = link.group(1)
    page = requests.get(f"{base}/mot-de-passe/nouveau", params={"jeton": token})
    assert page.status_code == 200 and 'name="token"' in page.text
    assert "/static/password-strength.js" in page.text and "<script>" not in page.text
    # a weak password is refused in French, the link stays usable
    r = requests.post(f"{base}/api/v1/password-reset/link",
                      json={"token": token, "password": "password1234",
                            "confirmation": "password1234"})
    assert r.status_code == 400
    assert "plus utilisés" in r.json()["error"]["fields"]["password"][0]
    # the page form sets it; never logs in
    r = requests.post(f"{base}/mot-de-passe/nouveau", data={
        "token": token, "password": NEW, "confirmation": NEW, "end_sessions": "1"},
        allow_redirects=False)
    assert r.status_code == 200 and "Votre mot de passe est enregistré" in r.text
    assert not r.cookies
    assert login(base, "1234567", factories.PASSWORD).status_code == 401
    assert login(base, "1234567", NEW).status_code == 200
    # used: dead
    again = requests.get(f"{base}/mot-de-passe/nouveau", params={"jeton": token})
    assert again.status_code == 410 and "ne fonctionne plus" in again.text
    notice = wait_for(lambda: len(smtp.messages()) == 2 and smtp.messages()[1])
    assert "a été modifié" in notice["Subject"]


def test_unknown_file_number_gets_the_same_answer_and_nothing_is_sent(suite):
    base, smtp = suite["base"], suite["smtp"]
    known = requests.post(f"{base}/api/v1/password-reset", json={"file_number": "1234567"})
    unknown = requests.post(f"{base}/api/v1/password-reset", json={"file_number": "1111111"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json())
    page = requests.post(f"{base}/premiere-connexion", data={"file_number": "1111111"})
    assert page.status_code == 200 and "Si ce numéro correspond à un dossier" in page.text
    wait_for(lambda: len(smtp.messages()) == 1)
    assert [m["To"] for m in smtp.messages()] == ["claire@example.fr"]


def test_malformed_requests_are_refused_clearly(suite):
    base = suite["base"]
    r = requests.post(f"{base}/api/v1/password-reset", json={"file_number": "12"})
    assert r.status_code == 400
    assert r.json()["error"]["fields"] == {
        "file_number": ["Le numéro de dossier comporte 7 ou 9 chiffres."]}
    page = requests.post(f"{base}/premiere-connexion", data={"file_number": "abc"})
    assert page.status_code == 400 and "7 ou 9 chiffres" in page.text
    r = requests.post(f"{base}/api/v1/password-reset/link",
                      json={"token": "x" * 43, "password": NEW, "confirmation": NEW})
    assert r.status_code == 400 and "ne fonctionne plus" in r.json()["error"]["fields"]["token"][0]
    r = requests.post(f"{base}/api/v1/password-reset", data="file_number=1234567",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    cross = requests.post(f"{base}/premiere-connexion", data={"file_number": "1234567"},
                          headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403


def test_postal_letter_carries_a_code_that_sets_the_password(suite):
    base, letters = suite["base"], suite["letters"]
    r = requests.post(f"{base}/premiere-connexion", data={"file_number": "7654321"})
    assert r.status_code == 200
    pdf_path = wait_for(lambda: next(iter(sorted(letters.rglob("*.pdf"))), None), timeout=30)
    text = re.sub(r"\s+", " ", " ".join(
        p.extract_text() for p in PdfReader(io.BytesIO(pdf_path.read_bytes())).pages))
    code = re.search(r"\b([2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6})\b", text)
    assert code, text
    assert "7654321" in text
    # a wrong code, then the right one
    r = requests.post(f"{base}/premiere-connexion/code", data={
        "file_number": "7654321", "code": "AAAAAA-AAAAAA-AAAAAA", "password": NEW,
        "confirmation": NEW, "end_sessions": "1"})
    assert r.status_code == 400 and "incorrect ou n'est plus valable" in html.unescape(r.text)
    r = requests.post(f"{base}/api/v1/password-reset/code", json={
        "file_number": "7654321", "code": code.group(1).lower(), "password": NEW,
        "confirmation": NEW})
    assert r.status_code == 200, r.text
    assert r.json() == {"sessions_ended": 0, "notified_by": "post"}
    assert login(base, "7654321", NEW).status_code == 200
    # the "password changed" notice goes by post too
    wait_for(lambda: len(list(letters.rglob("*.pdf"))) == 2, timeout=30)


def test_lockout_after_the_threshold_and_unlock_by_reset(suite):
    """The per-account rule (the gateway's per-client limit is raised here)."""
    import services.accounts.throttle as throttle
    base, smtp = suite["base"], suite["smtp"]
    statuses = [login(base, "1234567", "mauvais mot de passe").status_code
                for _ in range(throttle.LOCK_THRESHOLD)]
    assert statuses == [401] * throttle.LOCK_THRESHOLD
    # locked now: even the right password is refused, with the same answer
    right = login(base, "1234567", factories.PASSWORD)
    unknown = login(base, "1111111", factories.PASSWORD)
    assert right.status_code == unknown.status_code == 401
    assert right.json() == unknown.json()
    locked = wait_for(lambda: smtp.messages() and smtp.messages()[0])
    assert "verrouillé" in locked["Subject"]
    assert "mot de passe oublié" in text_body(locked).lower()
    # a new password unlocks
    requests.post(f"{base}/api/v1/password-reset", json={"file_number": "1234567"})
    mail = wait_for(lambda: len(smtp.messages()) == 2 and smtp.messages()[1])
    token = re.search(r"jeton=(\S+)", text_body(mail)).group(1)
    r = requests.post(f"{base}/api/v1/password-reset/link",
                      json={"token": token, "password": NEW, "confirmation": NEW})
    assert r.status_code == 200
    assert login(base, "1234567", NEW).status_code == 200


def test_concurrent_logins_of_one_member_never_fail(container_factory, make_config):
    """Many simultaneous logins for one file number (a member's tabs, a load
    test): each one is answered, none fails on the throttle's bookkeeping."""
    import eventlet
    from nameko.standalone.rpc import ServiceRpcProxy

    from services.accounts.service import AccountsService
    from tests.support import factories as f

    config = make_config("accounts")
    f.add_member(config["DATABASE_URL"], "1234567")
    container_factory(AccountsService, config).start()

    def attempt(_):
        with ServiceRpcProxy("accounts", config) as rpc:
            return rpc.login("1234567", f.PASSWORD)["member"]["file_number"]

    for _ in range(3):  # successes delete the throttle row others are waiting for
        results = list(eventlet.GreenPool(8).imap(attempt, range(8)))
        assert results == ["1234567"] * 8
