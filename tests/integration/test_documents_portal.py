"""Documents through the gateway with the real services: the certificate of
contributions paid asked for in "Mes documents", advisors downloading a
member's documents (audited), and no member ever reaching another's document."""
from __future__ import annotations

import hashlib
import io
import json
import re
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from urllib.parse import parse_qs, urlparse

import pyotp
import pytest
import requests
from pypdf import PdfReader
from sqlalchemy import select

from carpimko.db import Database
from gateway.service import GatewayService
from services.accounts import staff
from services.accounts.models import AuditEvent
from services.accounts.service import AccountsService
from services.contributions.models import Payment
from services.contributions.service import ContributionsService
from services.documents.service import DocumentsService
from tests.support import bus, factories
from tests.support.smtp import free_port
from tests.support.waiting import wait_for

STAFF_PASSWORD = "le conseiller boit du thé vert"
CODE = re.compile(r"verify/ ?([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")
LAST_YEAR = date.today().year - 1


@pytest.fixture
def suite(container_factory, make_config):
    accounts = make_config("accounts")
    contributions = make_config("contributions")
    for number, first, last in (("1234567", "Claire", "Martin"), ("7654321", "Jean", "Dupont")):
        factories.add_member(accounts["DATABASE_URL"], number, first_name=first, last_name=last)
        factories.add_contributor(contributions["DATABASE_URL"], number)
    db = Database(contributions["DATABASE_URL"], pool_size=1)
    with db.transaction() as session:
        for ref, paid_on, year, amount in (
                ("VIR-1", date(LAST_YEAR, 1, 5), LAST_YEAR - 1, "1200.00"),
                ("VIR-2", date(LAST_YEAR, 2, 5), LAST_YEAR, "760.50"),
                ("VIR-3", date(LAST_YEAR + 1, 1, 5), LAST_YEAR, "760.50")):  # not last year
            session.add(Payment(reference=ref, file_number="1234567", year=year,
                                amount=Decimal(amount), paid_on=paid_on, source="bank_file",
                                recorded_at=datetime.now(timezone.utc)))
    db.dispose()
    audit_db = Database(accounts["DATABASE_URL"], pool_size=1)
    with audit_db.transaction() as session:
        uri = staff.create(session, "c.dupont", "Claude Dupont", "advisor", STAFF_PASSWORD,
                           "test")["provisioning_uri"]
    totp = pyotp.TOTP(parse_qs(urlparse(uri).query)["secret"][0])
    container_factory(AccountsService, accounts).start()
    container_factory(ContributionsService, contributions).start()
    documents = make_config("documents")
    container_factory(DocumentsService, documents).start()
    port = free_port()
    container_factory(GatewayService, make_config(
        None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", LOGIN_RATE_LIMIT="100/900")).start()
    yield {"base": f"http://127.0.0.1:{port}", "documents": documents, "totp": totp,
           "audit_db": audit_db}
    audit_db.dispose()


def login(base, file_number="1234567"):
    session = requests.Session()
    r = session.post(f"{base}/api/v1/session",
                     json={"file_number": file_number, "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    return session


def form_fields(html: str) -> dict:
    return {"csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', html).group(1),
            "request_id": re.search(r'name="request_id" value="([^"]+)"', html).group(1)}


def pdf_text(pdf: bytes) -> str:
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def test_the_member_asks_for_the_certificate_and_it_is_verifiable(suite):
    base = suite["base"]
    s = login(base)
    page = s.get(f"{base}/documents")
    assert page.status_code == 200 and "Attestation de cotisations versées" in page.text
    fields = form_fields(page.text)
    r = s.post(f"{base}/documents/attestation", data={**fields, "year": LAST_YEAR},
               allow_redirects=False)
    assert r.status_code == 303, r.text
    again = s.post(f"{base}/documents/attestation", data={**fields, "year": LAST_YEAR},
                   allow_redirects=False)  # double submission: the same document
    assert again.headers["Location"] == r.headers["Location"]
    shown = s.get(f"{base}{r.headers['Location']}")
    assert "Votre attestation est prête" in shown.text
    listed = s.get(f"{base}/api/v1/documents").json()["items"]
    assert [d["kind"] for d in listed] == ["contributions_certificate"]
    pdf = s.get(f"{base}/documents/{listed[0]['id']}").content
    text = pdf_text(pdf)
    assert "N° de dossier : 1234567" in text
    assert f"Attestation de cotisations versées en {LAST_YEAR}" in text
    assert f"Le 05/01/{LAST_YEAR}, cotisations {LAST_YEAR - 1} 1 200,00 €" in text
    assert f"Le 05/02/{LAST_YEAR}, cotisations {LAST_YEAR} 760,50 €" in text
    assert f"Total versé en {LAST_YEAR} 1 960,50 €" in text
    code = CODE.search(text).group(1)
    check = requests.get(f"{base}/api/v1/verifications/{code}").json()
    assert check["found"] and check["kind"] == "contributions_certificate"
    assert check["sha256"] == hashlib.sha256(pdf).hexdigest() and check["initials"] == "C. M."

    # a new request issues a new version that supersedes the first one
    api = s.post(f"{base}/api/v1/documents/certificates", json={"year": LAST_YEAR},
                 headers={"Idempotency-Key": "k-1"})
    assert api.status_code == 201, api.text
    retry = s.post(f"{base}/api/v1/documents/certificates", json={"year": LAST_YEAR},
                   headers={"Idempotency-Key": "k-1"})
    assert retry.json()["id"] == api.json()["id"]
    listed = s.get(f"{base}/api/v1/documents").json()["items"]
    assert sorted(d["superseded"] for d in listed) == [False, True]
    assert requests.get(f"{base}/api/v1/verifications/{code}").json()["superseded"] is True


def test_a_year_without_payment_says_so(suite):
    base = suite["base"]
    s = login(base)
    fields = form_fields(s.get(f"{base}/documents").text)
    r = s.post(f"{base}/documents/attestation", data={**fields, "year": LAST_YEAR - 2})
    assert r.status_code == 400
    assert "Aucun versement de cotisations" in r.text
    r = s.post(f"{base}/documents/attestation", data={**fields, "year": "1990"})
    assert r.status_code == 400 and "Choisissez une année proposée" in r.text
    api = s.post(f"{base}/api/v1/documents/certificates", json={"year": LAST_YEAR - 2})
    assert api.status_code == 400
    assert "Aucun versement" in api.json()["error"]["fields"]["year"][0]
    assert s.get(f"{base}/api/v1/documents").json()["items"] == []


def issue_statement(config, file_number) -> str:
    event = factories.contributions_recalculated(file_number)
    bus.publish(config["AMQP_URI"], event)
    from nameko.standalone.rpc import ServiceRpcProxy
    with ServiceRpcProxy("documents", config) as rpc:
        docs = wait_for(lambda: rpc.documents_for_correlation(file_number,
                                                              event["correlation_id"]))
    return docs[0]["id"]


def test_no_member_ever_gets_another_members_document(suite):
    base = suite["base"]
    document_id = issue_statement(suite["documents"], "1234567")
    owner, other = login(base, "1234567"), login(base, "7654321")
    assert owner.get(f"{base}/documents/{document_id}").status_code == 200
    for url in (f"/documents/{document_id}", f"/api/v1/documents/{document_id}/content"):
        r = other.get(f"{base}{url}")
        assert r.status_code == 404 and b"%PDF" not in r.content
    # nor through the staff pages or API with a member's session
    r = other.get(f"{base}/api/v1/staff/members/1234567/documents/{document_id}/content")
    assert r.status_code == 401 and b"%PDF" not in r.content
    r = other.get(f"{base}/agents/dossier/1234567/documents/{document_id}", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/agents/connexion"


def audited_downloads(db) -> list[AuditEvent]:
    with db.transaction() as session:
        rows = session.scalars(select(AuditEvent).where(
            AuditEvent.kind == "advisor_document_download")).all()
        session.expunge_all()
    return rows


def test_an_advisor_downloads_a_members_document_and_it_is_audited(suite):
    base = suite["base"]
    document_id = issue_statement(suite["documents"], "1234567")
    advisor = requests.Session()
    r = advisor.post(f"{base}/api/v1/staff/session",
                     json={"login": "c.dupont", "password": STAFF_PASSWORD,
                           "totp": suite["totp"].now()})
    assert r.status_code == 200, r.text
    page = advisor.get(f"{base}/agents/dossier/1234567")
    assert page.status_code == 200
    link = f"/agents/dossier/1234567/documents/{document_id}"
    assert link in page.text and "Relevé de cotisations 2026" in page.text
    assert audited_downloads(suite["audit_db"]) == []

    pdf = advisor.get(f"{base}{link}")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["Content-Disposition"].startswith("attachment;")
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    assert pdf.headers["Cache-Control"] == "no-store"
    api = advisor.get(f"{base}/api/v1/staff/members/1234567/documents/{document_id}/content")
    assert api.status_code == 200 and api.content == pdf.content

    rows = audited_downloads(suite["audit_db"])
    assert len(rows) == 2
    assert {r.actor for r in rows} == {"advisor:c.dupont"} and {r.file_number for r in rows} == {
        "1234567"}
    detail = json.loads(rows[0].detail)
    assert detail == {"document_id": document_id, "title": "Relevé de cotisations 2026"}
    assert all(r.occurred_at for r in rows)
    page = advisor.get(f"{base}/agents/dossier/1234567")
    assert "advisor:c.dupont a téléchargé « Relevé de cotisations 2026 »" in page.text
    # the member sees it on their security page, without the advisor's login
    mine = login(base, "1234567").get(f"{base}/securite")
    assert "Téléchargement de «&nbsp;Relevé de cotisations 2026&nbsp;»" in mine.text
    assert "c.dupont" not in mine.text

    # the document under another member's file: not found, nothing audited
    wrong = advisor.get(f"{base}/agents/dossier/7654321/documents/{document_id}")
    assert wrong.status_code == 404 and b"%PDF" not in wrong.content
    unknown = advisor.get(f"{base}/agents/dossier/1234567/documents/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert len(audited_downloads(suite["audit_db"])) == 2
