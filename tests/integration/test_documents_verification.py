"""Verification codes, the public /verify page, downloads and "Mes documents",
with the real accounts and documents services, the gateway, RabbitMQ and a database."""
from __future__ import annotations

import base64
import hashlib
import io
import re
import time
from urllib.parse import quote

import pytest
import requests
from nameko.standalone.rpc import ServiceRpcProxy
from pypdf import PdfReader

from gateway import verification as gateway_verification
from gateway.service import GatewayService
from services.accounts.service import AccountsService
from services.documents.service import DocumentsService
from tests.support import bus, factories
from tests.support.smtp import free_port
from tests.support.waiting import wait_for

CODE = re.compile(r"verify/ ?([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")


@pytest.fixture
def suite(container_factory, make_config):
    accounts = make_config("accounts")
    factories.add_member(accounts["DATABASE_URL"], "1234567", first_name="Claire",
                         last_name="Martin")
    factories.add_member(accounts["DATABASE_URL"], "7654321", first_name="Jean",
                         last_name="Dupont")
    documents = make_config("documents")
    container_factory(AccountsService, accounts).start()
    container_factory(DocumentsService, documents).start()
    port = free_port()
    container_factory(GatewayService, make_config(
        None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}")).start()
    return {"documents": documents, "base": f"http://127.0.0.1:{port}"}


def issue_statement(config, file_number="1234567") -> dict:
    """Publish contributions_recalculated; the issued document, its PDF and its code."""
    event = factories.contributions_recalculated(file_number)
    bus.publish(config["AMQP_URI"], event)
    with ServiceRpcProxy("documents", config) as rpc:
        wait_for(lambda: rpc.documents_for_correlation(file_number, event["correlation_id"]))
        doc = rpc.documents_for_correlation(file_number, event["correlation_id"])[0]
        content = rpc.get_content(file_number, doc["id"])
    pdf = base64.b64decode(content["content_base64"])
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(pdf)).pages)
    match = CODE.search(text)
    assert match, text
    return {**doc, "sha256": content["sha256"], "size": content["size"], "pdf": pdf,
            "code": match.group(1), "text": text}


def login(base, file_number="1234567"):
    session = requests.Session()
    r = session.post(f"{base}/api/v1/session",
                     json={"file_number": file_number, "password": factories.PASSWORD})
    assert r.status_code == 200, r.text
    return session


def row_headers(html: str) -> list[str]:
    return re.findall(r'<th scope="row">([^<]+)</th>', html)


def test_statement_carries_a_unique_code_and_qr_code(suite):
    first = issue_statement(suite["documents"])
    second = issue_statement(suite["documents"])
    assert first["code"] != second["code"]
    assert "https://espace.carpimko.test/verify/" in first["text"]
    assert len(PdfReader(io.BytesIO(first["pdf"])).pages[0].images) == 1  # the QR code


def test_genuine_code_shows_issuer_facts_and_nothing_personal(suite):
    doc = issue_statement(suite["documents"])
    r = requests.get(f"{suite['base']}/verify/{doc['code']}")
    assert r.status_code == 200
    html = r.text
    assert "Document authentique" in html
    assert "Relevé de cotisations 2026" in html
    assert "C. M." in html
    assert doc["sha256"] in html
    assert hashlib.sha256(doc["pdf"]).hexdigest() == doc["sha256"]
    issued = doc["issued_on"]
    from gateway.formatting import day
    assert day(issued) in html
    for personal in ("Claire", "MARTIN", "Martin", "1234567", "rue de la Paix", "9 126"):
        assert personal not in html
    assert r.headers["Cache-Control"] == "no-store"
    # typed by hand: lower case, no dashes, O for 0
    typed = doc["code"].replace("-", "").lower()
    assert "Document authentique" in requests.get(f"{suite['base']}/verify/{typed}").text
    # the JSON API and the RPC say the same
    api = requests.get(f"{suite['base']}/api/v1/verifications/{doc['code']}").json()
    assert api == {"code": doc["code"], "issuer": "Carpimko", "found": True,
                   "kind": "contribution_statement", "title": "Relevé de cotisations 2026",
                   "issued_on": issued, "initials": "C. M.", "sha256": doc["sha256"],
                   "superseded": False}


def test_tampered_copy_is_detected_and_genuine_copy_confirmed(suite):
    doc = issue_statement(suite["documents"])
    url = f"{suite['base']}/verify/{doc['code']}"
    same = requests.post(url, files={"copie": ("releve.pdf", doc["pdf"], "application/pdf")})
    assert same.status_code == 200
    assert "Votre copie est identique à l'original" in same.text
    tampered = doc["pdf"].replace(b"/Title", b"/Titre", 1)
    assert tampered != doc["pdf"]
    r = requests.post(url, files={"copie": ("releve.pdf", tampered, "application/pdf")})
    assert r.status_code == 200
    assert "Votre copie ne correspond pas à l'original" in r.text
    assert hashlib.sha256(tampered).hexdigest() in r.text
    missing = requests.post(url, files={})
    assert missing.status_code == 400 and "Choisissez le fichier PDF" in missing.text
    cross_site = requests.post(url, headers={"Origin": "https://evil.example"},
                               files={"copie": ("releve.pdf", doc["pdf"], "application/pdf")})
    assert cross_site.status_code == 403


def test_unknown_code_same_page_shape_and_answer_time(suite):
    doc = issue_statement(suite["documents"])
    base = suite["base"]
    unknown = "ZZZZ-ZZZZ-ZZZZ-ZZZZ"
    timings = {"genuine": [], "unknown": [], "malformed": []}
    pages = {}
    for _ in range(3):
        for name, code in (("genuine", doc["code"]), ("unknown", unknown),
                           ("malformed", "pas-un-code")):
            started = time.monotonic()
            r = requests.get(f"{base}/verify/{quote(code)}")
            timings[name].append(time.monotonic() - started)
            assert r.status_code == 200
            pages[name] = r.text
    assert "Code inconnu" in pages["unknown"] and "Code inconnu" in pages["malformed"]
    assert "Document authentique" not in pages["unknown"]
    assert row_headers(pages["genuine"]) == row_headers(pages["unknown"]) \
        == row_headers(pages["malformed"])
    assert len(row_headers(pages["genuine"])) == 6
    floor = gateway_verification.MIN_ANSWER_SECONDS
    medians = {name: sorted(values)[1] for name, values in timings.items()}
    for name, values in timings.items():
        assert min(values) >= floor, (name, values)
    assert max(medians.values()) - min(medians.values()) < 0.1, medians
    with ServiceRpcProxy("documents", suite["documents"]) as rpc:
        assert rpc.verify(unknown) == {"found": False, "kind": None, "title": None,
                                       "issued_on": None, "initials": None, "sha256": None,
                                       "superseded": None}


def test_verify_form_goes_to_the_code_page(suite):
    r = requests.get(f"{suite['base']}/verify")
    assert r.status_code == 200 and 'name="code"' in r.text
    r = requests.get(f"{suite['base']}/verify", params={"code": "abcd efgh"},
                     allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/verify/abcd%20efgh"


def test_superseded_document_stays_verifiable(suite):
    old = issue_statement(suite["documents"])
    issue_statement(suite["documents"])
    html = requests.get(f"{suite['base']}/verify/{old['code']}").text
    assert "Document authentique" in html and "remplacé par une version plus récente" in html


def test_download_headers(suite):
    doc = issue_statement(suite["documents"])
    session = login(suite["base"])
    for path in (f"/documents/{doc['id']}", f"/api/v1/documents/{doc['id']}/content"):
        r = session.get(suite["base"] + path)
        assert r.status_code == 200
        assert r.content == doc["pdf"]
        assert r.headers["Content-Type"] == "application/pdf"
        issued = doc["issued_on"]
        assert r.headers["Content-Disposition"] == (
            f'attachment; filename="Carpimko - Releve de cotisations 2026 - {issued}.pdf"; '
            f"filename*=UTF-8''Carpimko%20-%20Relev%C3%A9%20de%20cotisations%202026%20-%20"
            f"{issued}.pdf")
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Cache-Control"] == "no-store"
    other = login(suite["base"], "7654321")
    assert other.get(f"{suite['base']}/api/v1/documents/{doc['id']}/content").status_code == 404
    assert requests.get(f"{suite['base']}/api/v1/documents/{doc['id']}/content").status_code == 401


def test_my_documents_page_with_filters(suite):
    doc = issue_statement(suite["documents"])
    session = login(suite["base"])
    base = suite["base"]
    r = session.get(f"{base}/documents")
    assert r.status_code == 200
    assert "Mes documents" in r.text and f'href="/documents/{doc["id"]}"' in r.text
    assert 'aria-current="page"' in r.text
    r = session.get(f"{base}/documents", params={"kind": "contribution_statement",
                                                 "year": "2026"})
    assert f'href="/documents/{doc["id"]}"' in r.text
    r = session.get(f"{base}/documents", params={"kind": "career_statement"})
    assert f'href="/documents/{doc["id"]}"' in r.text  # unknown filter value: ignored
    # a year the member has no document for is not offered, hence ignored too;
    # other members see nothing of it
    other = login(base, "7654321").get(f"{base}/documents")
    assert doc["id"] not in other.text and "Aucun document pour l'instant" in other.text
    assert requests.get(f"{base}/documents", allow_redirects=False).status_code == 303


def test_oversized_copy_is_refused_without_reading_it_all(suite, monkeypatch):
    doc = issue_statement(suite["documents"])
    monkeypatch.setattr(gateway_verification, "MAX_COPY_BYTES", 1000)
    monkeypatch.setattr(gateway_verification, "FORM_OVERHEAD", 0)
    r = requests.post(f"{suite['base']}/verify/{doc['code']}",
                      files={"copie": ("big.pdf", b"x" * 5000, "application/pdf")})
    assert r.status_code == 400
    assert "Le fichier dépasse" in r.text and "Document authentique" in r.text
