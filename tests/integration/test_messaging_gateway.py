"""Secure messaging through the gateway: members reach only their own threads
(404, never 403), advisors only what their role allows, the dashboard block."""
from __future__ import annotations

import io
import re
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import requests
from PIL import Image
from sqlalchemy import select

from carpimko.db import Database
from gateway.service import GatewayService
from services.accounts import staff
from services.accounts.service import AccountsService
from services.messaging.models import AccessLog
from services.messaging.service import MessagingService
from tests.support import factories
from tests.support.smtp import free_port

PASSWORD = "le conseiller boit du thé vert"


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}
    exif[0x010F] = "Apple"
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (1, 2, 3)).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


@pytest.fixture
def suite(container_factory, make_config):
    accounts = make_config("accounts")
    factories.add_member(accounts["DATABASE_URL"], "1234567", email="claire@example.fr")
    factories.add_member(accounts["DATABASE_URL"], "7654321", email=None)
    db = Database(accounts["DATABASE_URL"], pool_size=1)
    totps = {}
    with db.transaction() as session:
        for login, role in (("c.dupont", "advisor"), ("s.chef", "supervisor")):
            uri = staff.create(session, login, "Agent", role, PASSWORD, "test")["provisioning_uri"]
            totps[login] = pyotp.TOTP(parse_qs(urlparse(uri).query)["secret"][0])
    db.dispose()
    container_factory(AccountsService, accounts).start()
    messaging = make_config("messaging")
    container_factory(MessagingService, messaging).start()
    port = free_port()
    container_factory(GatewayService, make_config(
        None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", LOGIN_RATE_LIMIT="100/900",
        RPC_TIMEOUT=3)).start()
    return f"http://127.0.0.1:{port}", totps, messaging


def member(base, number="1234567"):
    http = requests.Session()
    r = http.post(f"{base}/api/v1/session",
                  json={"file_number": number, "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    return http


def staff_session(base, login, totp):
    http = requests.Session()
    r = http.post(f"{base}/api/v1/staff/session",
                  json={"login": login, "password": PASSWORD, "totp": totp.now()})
    assert r.status_code == 200, r.text
    return http


def csrf(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def hidden(page: str, name: str) -> str:
    return re.search(rf'name="{name}" value="([^"]+)"', page).group(1)


def test_a_member_writes_with_attachments_and_nobody_else_reads_it(suite):
    base, _, _ = suite
    claire = member(base)
    form = claire.get(f"{base}/messages/nouveau").text
    assert "8&nbsp;h&nbsp;45 à 12&nbsp;h&nbsp;45" in form
    data = {"csrf_token": csrf(form), "message_id": hidden(form, "message_id"),
            "category": "prevoyance", "subject": "Mon arrêt de travail", "body": "Ci-joint."}
    # a refused file: the page says which one and why, nothing is kept
    bad = claire.post(f"{base}/messages/nouveau", data=data,
                      files=[("attachments", ("arret.pdf", b"MZ\x90 not a pdf", "application/pdf"))])
    assert bad.status_code == 400
    assert "« arret.pdf » est refusé" in bad.text.replace("&#34;", '"')
    assert claire.get(f"{base}/api/v1/messages/threads").json()["items"] == []

    r = claire.post(f"{base}/messages/nouveau", data=data, allow_redirects=False,
                    files=[("attachments", ("photo.HEIC.jpg", jpeg_with_gps(), "image/jpeg"))])
    assert r.status_code == 303, r.text
    thread_url = r.headers["Location"].split("?")[0]
    thread_id = thread_url.rsplit("/", 1)[1]
    again = claire.post(f"{base}/messages/nouveau", data=data, allow_redirects=False)
    assert again.headers["Location"].split("?")[0] == thread_url  # the same form twice: one thread
    page = claire.get(f"{base}{thread_url}")
    assert page.status_code == 200 and "Mon arrêt de travail" in page.text
    assert "au plus tard le" in page.text
    link = re.search(r'href="(/messages/[^"]+/pieces/[^"]+)"', page.text).group(1)
    download = claire.get(f"{base}{link}")
    assert download.status_code == 200 and download.headers["Content-Type"] == "image/jpeg"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    assert b"Apple" not in download.content

    other = member(base, "7654321")
    attachment_id = link.rsplit("/", 1)[1]
    for url in (thread_url, link, f"/api/v1/messages/threads/{thread_id}",
                f"/api/v1/messages/threads/{thread_id}/attachments/{attachment_id}"):
        assert other.get(f"{base}{url}").status_code == 404, url
    home = other.get(f"{base}/messages").text
    reply = other.post(f"{base}{thread_url}/repondre", data={
        "csrf_token": csrf(home), "message_id": hidden(form, "message_id"), "body": "intrus"})
    assert reply.status_code == 404
    api = other.post(f"{base}/api/v1/messages/threads/{thread_id}/messages",
                     json={"body": "intrus"})
    assert api.status_code == 404 and api.json()["error"]["code"] == "not_found"
    assert other.get(f"{base}/api/v1/messages/threads").json()["items"] == []
    assert len(claire.get(f"{base}/api/v1/messages/threads/{thread_id}").json()["messages"]) == 1


def test_advisor_replies_with_a_note_and_the_member_sees_the_reply_only(suite):
    base, totps, _ = suite
    claire = member(base)
    thread = claire.post(f"{base}/api/v1/messages/threads", json={
        "category": "cotisations", "subject": "Échéancier", "body": "Puis-je payer en 12 fois ?"})
    assert thread.status_code == 201, thread.text
    thread_id = thread.json()["id"]
    advisor = staff_session(base, "c.dupont", totps["c.dupont"])
    inbox = advisor.get(f"{base}/agents/messages?categorie=cotisations").text
    assert "Échéancier" in inbox and "1234567" in inbox
    page = advisor.get(f"{base}/agents/messages/{thread_id}").text
    token = csrf(page)
    assert advisor.post(f"{base}/agents/messages/{thread_id}/note", data={
        "csrf_token": token, "message_id": hidden(page, "message_id"),
        "body": "Vérifier le mandat SEPA"}, allow_redirects=False).status_code == 303
    page = advisor.get(f"{base}/agents/messages/{thread_id}").text
    assert "Vérifier le mandat SEPA" in page
    r = advisor.post(f"{base}/agents/messages/{thread_id}/repondre", data={
        "csrf_token": token, "message_id": hidden(page, "message_id"),
        "body": "Oui, choisissez la fréquence mensuelle."}, allow_redirects=False)
    assert r.status_code == 303
    # without the CSRF token: refused
    assert advisor.post(f"{base}/agents/messages/{thread_id}/note",
                        data={"body": "x"}).status_code == 403

    home = claire.get(f"{base}/").text
    assert "1 message non lu" in home and f"/messages/{thread_id}" in home
    view = claire.get(f"{base}/messages/{thread_id}").text
    assert "Oui, choisissez la fréquence mensuelle." in view
    assert "Vérifier le mandat SEPA" not in view and "Note interne" not in view
    assert "Aucun message non lu" in claire.get(f"{base}/").text
    api = claire.get(f"{base}/api/v1/messages/threads/{thread_id}").json()
    assert [m["author_kind"] for m in api["messages"]] == ["member", "fund"]


def test_roles_decide_what_staff_reach_and_every_access_is_audited(suite):
    base, totps, messaging = suite
    claire = member(base)
    thread_id = claire.post(f"{base}/api/v1/messages/threads", json={
        "category": "autre", "subject": "Question", "body": "Bonjour"}).json()["id"]
    # no staff session: 401; a member's session is not a staff session
    assert requests.get(f"{base}/api/v1/staff/messages/threads").status_code == 401
    assert claire.get(f"{base}/api/v1/staff/messages/threads").status_code == 401
    assert claire.get(f"{base}/api/v1/staff/messages/threads/{thread_id}").status_code == 401
    assert claire.get(f"{base}/agents/messages", allow_redirects=False).headers["Location"] == \
        "/agents/connexion"

    advisor = staff_session(base, "c.dupont", totps["c.dupont"])
    assert advisor.get(f"{base}/api/v1/staff/messages/threads/{thread_id}").status_code == 200
    assert advisor.get(f"{base}/api/v1/staff/messages/response-times").status_code == 403
    assert advisor.get(f"{base}/agents/messages/delais").status_code == 403
    r = advisor.post(f"{base}/api/v1/staff/messages/threads/{thread_id}/replies",
                     json={"body": "Bonjour, voici la réponse."})
    assert r.status_code == 201 and r.json()["status"] == "answered"

    supervisor = staff_session(base, "s.chef", totps["s.chef"])
    figures = supervisor.get(f"{base}/api/v1/staff/messages/response-times").json()
    assert figures["categories"]["autre"]["answered"] == 1
    page = supervisor.get(f"{base}/agents/messages/delais")
    assert page.status_code == 200 and "Délais de première réponse" in page.text

    db = Database(messaging["DATABASE_URL"], pool_size=1)
    with db.transaction() as session:
        log = [(r.actor, r.action, r.allowed) for r in session.scalars(select(AccessLog))]
    db.dispose()
    assert ("c.dupont", "read", True) in log
    assert ("c.dupont", "response_times", False) in log
    assert ("s.chef", "response_times", True) in log


def test_the_dashboard_renders_when_messaging_is_down(container_factory, make_config):
    accounts = make_config("accounts")
    factories.add_member(accounts["DATABASE_URL"], "1234567")
    container_factory(AccountsService, accounts).start()
    port = free_port()
    container_factory(GatewayService, make_config(
        None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", RPC_TIMEOUT=1)).start()
    base = f"http://127.0.0.1:{port}"
    claire = member(base)
    home = claire.get(f"{base}/", timeout=15)
    assert home.status_code == 200
    block = home.text.split('id="messages-title"', 1)[1].split("</section>", 1)[0]
    assert "indisponible" in block
    page = claire.get(f"{base}/messages", timeout=15)
    assert page.status_code == 503 and "indisponible" in page.text


def test_an_upload_over_the_message_limit_is_refused_before_being_read(suite, monkeypatch):
    base, _, _ = suite
    monkeypatch.setenv("CARPIMKO_ATTACHMENT_MAX_MESSAGE_MB", "1")
    claire = member(base)
    form = claire.get(f"{base}/messages/nouveau").text
    assert "1 Mo en tout" in form
    r = claire.post(f"{base}/messages/nouveau", data={
        "csrf_token": csrf(form), "message_id": hidden(form, "message_id"),
        "category": "autre", "subject": "Gros", "body": "Trop gros"},
        files=[("attachments", ("scan.pdf", b"%PDF-1.4\n" + b"0" * (3 * 1024 * 1024),
                                "application/pdf"))], timeout=30)
    assert r.status_code == 413
    assert "dépassent 1 Mo au total" in r.text
    assert claire.get(f"{base}/api/v1/messages/threads").json()["items"] == []


def test_advisor_closes_a_career_flag_thread_with_its_outcome(suite):
    import uuid
    from datetime import datetime, timezone

    from carpimko.events import new_event
    from tests.support import bus
    from tests.support.waiting import wait_for

    base, totps, messaging = suite
    spy = bus.EventSpy(messaging["AMQP_URI"], "career_review_resolved")
    flag_id = str(uuid.uuid4())
    bus.publish(messaging["AMQP_URI"], new_event("career_year_flagged", {
        "flag_id": flag_id, "year": 2018, "comment": "Année 2018 incomplète.",
        "flagged_at": datetime.now(timezone.utc)}, member_id="1234567"))
    advisor = staff_session(base, "c.dupont", totps["c.dupont"])
    threads = wait_for(lambda: advisor.get(
        f"{base}/api/v1/staff/messages/threads?category=retraite").json()["threads"])
    thread_id = threads[0]["id"]
    page = advisor.get(f"{base}/agents/messages/{thread_id}").text
    assert "Année 2018 incomplète." in page and "Résultat de l'examen de l'année 2018" in page
    assign = advisor.post(f"{base}/agents/messages/{thread_id}/attribuer", data={
        "csrf_token": csrf(page), "login": "c.dupont"}, allow_redirects=False)
    assert assign.status_code == 303
    refused = advisor.post(f"{base}/agents/messages/{thread_id}/cloturer",
                           data={"csrf_token": csrf(page)})
    assert refused.status_code == 400
    assert "corrigée ou confirmée" in refused.text
    closed = advisor.post(f"{base}/agents/messages/{thread_id}/cloturer", data={
        "csrf_token": csrf(page), "outcome": "confirmed"}, allow_redirects=False)
    assert closed.status_code == 303
    [event] = spy.wait(1)
    spy.close()
    assert event["payload"]["flag_id"] == flag_id and event["payload"]["outcome"] == "confirmed"
    claire = member(base)
    view = claire.get(f"{base}/messages/{thread_id}").text
    assert "Clôturé" in view and "année confirmée" in view
    assert "c.dupont" not in view  # who handled it stays internal
