"""The documents service with the real accounts service, RabbitMQ and a database."""
from __future__ import annotations

import base64
import hashlib
import io

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from pypdf import PdfReader
from sqlalchemy import func, select

from carpimko.db import Database
from services.accounts.service import AccountsService
from services.documents.models import Document
from services.documents.service import DocumentsService
from tests.support import bus, factories
from tests.support.waiting import wait_for


@pytest.fixture
def configs(make_config):
    accounts = make_config("accounts")
    factories.add_member(accounts["DATABASE_URL"], "1234567", first_name="Claire",
                         last_name="Martin")
    return accounts, make_config("documents")


def documents_count(url):
    db = Database(url, pool_size=1)
    with db.transaction() as session:
        n = session.scalar(select(func.count()).select_from(Document))
    db.dispose()
    return n


def pdf_text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(content)).pages)


def stored_files(config) -> list:
    from pathlib import Path
    root = Path(config["DATA_DIR"]) / "documents"
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_statement_is_issued_once_announced_and_rendered_on_first_read(container_factory, configs):
    accounts_config, config = configs
    container_factory(AccountsService, accounts_config).start()
    container_factory(DocumentsService, config).start()
    spy = bus.EventSpy(config["AMQP_URI"], "document_generated")
    event = factories.contributions_recalculated("1234567")
    bus.publish(config["AMQP_URI"], event, event)  # delivered twice

    announced = spy.wait(1)[0]
    assert announced["causation_id"] == event["event_id"]
    assert announced["correlation_id"] == event["correlation_id"]
    assert announced["version"] == 3 and announced["payload"]["sha256"] is None
    assert stored_files(config) == []  # issued, not drawn
    with ServiceRpcProxy("documents", config) as rpc:
        docs = rpc.list_documents("1234567")
        assert docs[0]["sha256"] is None and docs[0]["size"] is None
        content = rpc.get_content("1234567", docs[0]["id"])
        assert rpc.list_documents("7654321") == []
        listed = rpc.list_documents("1234567")[0]
        again = rpc.get_content("1234567", docs[0]["id"])
    pdf = base64.b64decode(content["content_base64"])
    assert hashlib.sha256(pdf).hexdigest() == content["sha256"] == listed["sha256"]
    assert len(pdf) == content["size"] == listed["size"]
    assert [p.name for p in stored_files(config)] == [content["sha256"]]
    assert base64.b64decode(again["content_base64"]) == pdf and again["sha256"] == content["sha256"]
    text = pdf_text(pdf)
    assert "1234567" in text and "9 126,00" in text.replace("\u202f", " ").replace("\u00a0", " ")
    assert "MARTIN" in text.upper()
    spy.drain()
    assert len(spy.received) == 1
    assert documents_count(config["DATABASE_URL"]) == 1
    spy.close()


def test_statement_waits_for_accounts_and_is_retried(container_factory, configs):
    """accounts is down: the handler fails, is retried with back-off, then succeeds."""
    accounts_config, config = configs
    config["MAX_ATTEMPTS"] = 8
    container_factory(DocumentsService, config).start()
    # make the accounts RPC queue exist but nobody answer: the call times out
    bus.publish(config["AMQP_URI"], factories.contributions_recalculated("1234567"))
    import time
    time.sleep(1.0)
    assert documents_count(config["DATABASE_URL"]) == 0
    container_factory(AccountsService, accounts_config).start()
    wait_for(lambda: documents_count(config["DATABASE_URL"]) == 1, timeout=30)
    assert bus.dead_letters(config["AMQP_URI"], "contributions_recalculated", "documents",
                            "on_contributions_recalculated") == []


def test_other_members_documents_are_not_found(container_factory, configs):
    from carpimko.errors import NotFound
    accounts_config, config = configs
    container_factory(AccountsService, accounts_config).start()
    container_factory(DocumentsService, config).start()
    bus.publish(config["AMQP_URI"], factories.contributions_recalculated("1234567"))
    wait_for(lambda: documents_count(config["DATABASE_URL"]) == 1)
    with ServiceRpcProxy("documents", config) as rpc:
        doc_id = rpc.list_documents("1234567")[0]["id"]
        with pytest.raises(NotFound):
            rpc.get_content("7654321", doc_id)


def test_render_document_for_postal_letters(container_factory, configs):
    from carpimko.errors import InvalidRequest
    _, config = configs
    container_factory(DocumentsService, config).start()
    letter = {"file_number": "7654321",
              "member": {"full_name": "M. Jean DUPONT", "address_lines": ["3 chemin du Moulin",
                                                                          "29200 BREST"]},
              "issued_on": "2026-11-28", "purpose": "password_reset",
              "one_time_code": "48KQ-7XZM", "expires_on": "2026-12-12",
              "portal_url": "https://espace.carpimko.test"}
    with ServiceRpcProxy("documents", config) as rpc:
        pdf = base64.b64decode(rpc.render_document("access_letter", letter))
        text = pdf_text(pdf)
        assert "N° de dossier : 7654321" in text and "48KQ-7XZM" in text
        with pytest.raises(InvalidRequest):
            rpc.render_document("unknown_kind", letter)
        with pytest.raises(InvalidRequest):
            rpc.render_document("access_letter", {**letter, "purpose": "other"})
    assert documents_count(config["DATABASE_URL"]) == 0  # rendered, not issued


def test_adjusted_call_v2_and_a_v1_event_both_render(container_factory, configs):
    """contributions_recalculated v2 (an adjusted call, what changed) and v1 (still in queues at upgrade)."""
    import uuid
    from decimal import Decimal
    from carpimko.events import new_event
    accounts_config, config = configs
    container_factory(AccountsService, accounts_config).start()
    container_factory(DocumentsService, config).start()
    spy = bus.EventSpy(config["AMQP_URI"], "document_generated")
    adjusted = new_event("contributions_recalculated", {
        "assessment_id": str(uuid.uuid4()), "declaration_id": None, "year": 2026, "status": "adjusted",
        "basis": "income", "income_year": 2025, "trigger": "declaration", "parameters_version": "2026.1",
        "income_used": Decimal("40000"), "income_declared": True, "lines": factories.STATEMENT_LINES,
        "total": Decimal("9126.00"), "previous_total": Decimal("8000.00"), "surcharge": None, "notes": [],
        "changes": {"previous_assessment_id": str(uuid.uuid4()), "previous_status": "provisional",
                    "previous_total": Decimal("8000.00"), "difference": Decimal("1126.00"), "lines": [],
                    "reasons": []}, "announced_with": None, "also_announced": []}, member_id="1234567")
    v1 = factories.contributions_recalculated("1234567")
    v1["version"] = 1
    for key in ("basis", "income_year", "trigger", "changes", "surcharge", "announced_with", "also_announced"):
        del v1["payload"][key]
    bus.publish(config["AMQP_URI"], adjusted, v1)
    spy.wait(2)
    with ServiceRpcProxy("documents", config) as rpc:
        by_event = {}
        for doc in rpc.list_documents("1234567"):
            content = rpc.get_content("1234567", doc["id"])
            text = pdf_text(base64.b64decode(content["content_base64"]))
            by_event[doc["correlation_id"]] = text.replace("\u202f", " ").replace("\u00a0", " ")
    adjusted_text = by_event[adjusted["correlation_id"]]
    assert "Appel ajusté sur vos revenus 2025" in adjusted_text
    assert "Ce qui a changé depuis le dernier appel" in adjusted_text and "1 126,00" in adjusted_text
    assert "Régularisation sur vos revenus 2026" in by_event[v1["correlation_id"]]
    spy.close()
