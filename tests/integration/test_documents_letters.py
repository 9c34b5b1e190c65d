"""Postal letters issued through documents carry a verification code and QR
code; the letter carrying a one-time code is verifiable without the verify
page (or the documents service) ever holding anything of the secret."""
from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path

import pytest
import requests
from nameko.standalone.rpc import ServiceRpcProxy
from pypdf import PdfReader
from sqlalchemy import select

from carpimko.db import Database
from gateway.service import GatewayService
from services.accounts.service import AccountsService
from services.documents.models import Document
from services.documents.service import DocumentsService
from services.notifications.service import NotificationsService
from tests.support import factories
from tests.support.smtp import free_port
from tests.support.waiting import wait_for

NEW = "le piano dort sous la pluie"
VERIFY = re.compile(r"verify/ ?([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})")
ONE_TIME = re.compile(r"\b([2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6}-[2-9A-HJKMNP-Z]{6})\b")


@pytest.fixture
def suite(container_factory, make_config, smtp_server):
    port = free_port()
    accounts = make_config("accounts", RESET_RESPONSE_SECONDS=0.05)
    factories.add_member(accounts["DATABASE_URL"], "7654321", email=None, first_name="Jean",
                         last_name="Dupont", civility="M.")
    container_factory(AccountsService, accounts).start()
    documents = make_config("documents")
    container_factory(DocumentsService, documents).start()
    notifications = make_config("notifications", SMTP_PORT=smtp_server.port)
    container_factory(NotificationsService, notifications).start()
    container_factory(GatewayService, make_config(
        None, WEB_SERVER_ADDRESS=f"127.0.0.1:{port}", LOGIN_RATE_LIMIT="100/900",
        RPC_TIMEOUT=6)).start()
    return {"base": f"http://127.0.0.1:{port}", "documents": documents,
            "letters": Path(notifications["DATA_DIR"]) / "letters",
            "store": Path(documents["DATA_DIR"]) / "documents"}


def text_of(pdf: bytes) -> str:
    return re.sub(r"\s+", " ", " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages))


def rows(config) -> list[Document]:
    db = Database(config["DATABASE_URL"], pool_size=1)
    with db.transaction() as session:
        found = session.scalars(select(Document).order_by(Document.created_at)).all()
        session.expunge_all()
    db.dispose()
    return found


def stored_hashes(store: Path) -> set[str]:
    return {p.name for p in store.rglob("*") if p.is_file()} if store.exists() else set()


def test_access_letter_is_verifiable_without_revealing_its_code(suite):
    base = suite["base"]
    requests.post(f"{base}/premiere-connexion", data={"file_number": "7654321"})
    path = wait_for(lambda: next(iter(sorted(suite["letters"].rglob("*.pdf"))), None), timeout=30)
    pdf = path.read_bytes()
    text = text_of(pdf)
    secret = ONE_TIME.search(text).group(1)
    code = VERIFY.search(text).group(1)
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 1  # the QR code

    [row] = rows(suite["documents"])
    assert row.kind == "access_letter" and row.sha256 is None and row.member_initials == "J. D."
    assert stored_hashes(suite["store"]) == set()  # the letter's content is not kept
    with ServiceRpcProxy("documents", suite["documents"]) as rpc:
        assert rpc.list_documents("7654321") == []  # letters are not in "Mes documents"

    api = requests.get(f"{base}/api/v1/verifications/{code}").json()
    assert api["found"] and api["kind"] == "access_letter" and api["initials"] == "J. D."
    assert api["sha256"] is None
    page = requests.get(f"{base}/verify/{code}")
    assert "Document authentique" in page.text and "code personnel" in page.text
    for shown in (page.text, str(api)):
        assert secret not in shown and secret.replace("-", "") not in shown
        assert hashlib.sha256(pdf).hexdigest() not in shown
    compare = requests.post(f"{base}/verify/{code}",
                            files={"copie": ("lettre.pdf", pdf, "application/pdf")})
    assert compare.status_code == 200 and "ne peut pas être comparé" in compare.text
    assert "Votre copie ne correspond pas" not in compare.text

    # setting the password: the "password changed" notice is kept and comparable
    r = requests.post(f"{base}/api/v1/password-reset/code", json={
        "file_number": "7654321", "code": secret, "password": NEW, "confirmation": NEW})
    assert r.status_code == 200, r.text
    wait_for(lambda: len(list(suite["letters"].rglob("*.pdf"))) == 2, timeout=30)
    notice_path = next(p for p in suite["letters"].rglob("*.pdf") if p != path)
    notice = notice_path.read_bytes()
    notice_code = VERIFY.search(text_of(notice)).group(1)
    api = requests.get(f"{base}/api/v1/verifications/{notice_code}").json()
    assert api["found"] and api["kind"] == "account_notice"
    assert api["sha256"] == hashlib.sha256(notice).hexdigest()
    same = requests.post(f"{base}/verify/{notice_code}",
                         files={"copie": ("avis.pdf", notice, "application/pdf")})
    assert "Votre copie est identique à l'original" in same.text


LETTER = {"file_number": "7654321",
          "member": {"full_name": "M. Jean DUPONT", "address_lines": ["3 chemin du Moulin",
                                                                      "29200 BREST"]},
          "issued_on": "2026-11-28", "subject": "Un nouveau document est disponible",
          "document_label": "Relevé de cotisations 2026", "portal_url": "https://x.test"}
ACCESS = {"file_number": "7654321", "member": LETTER["member"], "issued_on": "2026-11-28",
          "purpose": "password_reset", "one_time_code": "48KQ7X-ZM48KQ-7XZM48",
          "expires_on": "2026-12-12", "portal_url": "https://x.test"}


def test_a_retried_letter_is_the_same_letter_and_bad_requests_are_refused(suite):
    from carpimko.errors import InvalidRequest
    with ServiceRpcProxy("documents", suite["documents"]) as rpc:
        first = rpc.issue_letter("notification_letter", LETTER, "notif-1")
        assert rpc.issue_letter("notification_letter", LETTER, "notif-1") == first
        other = rpc.issue_letter("notification_letter", LETTER, "notif-2")
        assert other != first
        a = rpc.issue_letter("access_letter", ACCESS, "reset-1")
        b = rpc.issue_letter("access_letter", ACCESS, "reset-1")  # rendered again: new code
        with pytest.raises(InvalidRequest):
            rpc.issue_letter("contribution_statement", LETTER, "k")
        with pytest.raises(InvalidRequest):
            rpc.issue_letter("notification_letter", LETTER, "")
        with pytest.raises(InvalidRequest):
            rpc.issue_letter("notification_letter", {**LETTER, "subject": ""}, "k2")
    pdf = base64.b64decode(first)
    assert "N° de dossier : 7654321" in text_of(pdf) and VERIFY.search(text_of(pdf))
    kinds = [(r.kind, r.superseded_by is not None) for r in rows(suite["documents"])]
    assert kinds == [("notification_letter", False), ("notification_letter", False),
                     ("access_letter", True), ("access_letter", False)]
    codes = {VERIFY.search(text_of(base64.b64decode(x))).group(1) for x in (a, b)}
    assert len(codes) == 2
    assert hashlib.sha256(pdf).hexdigest() in stored_hashes(suite["store"])
