"""A declaration's chain through documents and notifications, on the real
broker, databases and SMTP server: the statement, the regularisation notice
and the payment schedule are issued once each, and the member gets one email."""
from __future__ import annotations

import base64
import io
import time
import uuid

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from pypdf import PdfReader
from sqlalchemy import select

from carpimko.db import Database
from services.accounts.service import AccountsService
from services.documents.models import Document
from services.documents.service import DocumentsService
from services.notifications.service import NotificationsService
from tests.support import bus, factories
from tests.support.waiting import wait_for


@pytest.fixture
def suite(container_factory, make_config, smtp_server):
    accounts = make_config("accounts")
    factories.add_member(accounts["DATABASE_URL"], "1234567", email="claire.martin@example.fr",
                         first_name="Claire", last_name="Martin")
    container_factory(AccountsService, accounts).start()
    documents = make_config("documents")
    container_factory(DocumentsService, documents).start()
    container_factory(NotificationsService,
                      make_config("notifications", SMTP_PORT=smtp_server.port)).start()
    return documents


def documents(config) -> list[Document]:
    db = Database(config["DATABASE_URL"], pool_size=1)
    with db.transaction() as session:
        rows = session.scalars(select(Document).order_by(Document.created_at)).all()
    db.dispose()
    return rows


def pdf_text(content: bytes) -> str:
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(io.BytesIO(content)).pages)
    return text.replace("\u202f", " ").replace("\u00a0", " ")


def test_a_regularising_declaration_gives_three_documents_and_one_email(suite, smtp_server):
    config = suite
    spy = bus.EventSpy(config["AMQP_URI"], "document_generated")
    chain = str(uuid.uuid4())
    recalculated = factories.contributions_recalculated("1234567", chain, previous_total="8000.00")
    schedule = factories.schedule_changed("1234567", chain, version=2, previous_total="8000.00")
    bus.publish(config["AMQP_URI"], schedule, recalculated, schedule, recalculated)  # twice each

    announced = spy.wait(3)
    rows = wait_for(lambda: documents(config) if len(documents(config)) == 3 else None)
    assert sorted(r.kind for r in rows) == ["contribution_statement", "payment_schedule",
                                            "regularisation_notice"]
    assert {r.correlation_id for r in rows} == {chain}
    by_kind = {e["payload"]["kind"]: e for e in announced}
    assert all(e["version"] == 3 and e["payload"]["sha256"] is None for e in announced)
    assert by_kind["contribution_statement"]["payload"]["notify"] is True
    assert by_kind["contribution_statement"]["payload"]["also_issued"] == [
        "Avis de régularisation 2026"]
    assert by_kind["regularisation_notice"]["payload"]["notify"] is False
    assert by_kind["payment_schedule"]["payload"]["notify"] is False

    wait_for(lambda: len(smtp_server.messages()) == 1)
    time.sleep(1.5)  # nothing else comes
    spy.drain()
    assert len(spy.received) == 3 and len(documents(config)) == 3
    mails = smtp_server.messages()
    assert len(mails) == 1
    assert "De nouveaux documents" in mails[0]["Subject"]
    body = mails[0].get_body(("plain",)).get_content()
    assert "Relevé de cotisations 2026" in body and "Avis de régularisation 2026" in body
    assert "€" not in body

    with ServiceRpcProxy("documents", config) as rpc:
        listed = {d["kind"]: d for d in rpc.list_documents("1234567")}
        notice = rpc.get_content("1234567", listed["regularisation_notice"]["id"])
        plan = rpc.get_content("1234567", listed["payment_schedule"]["id"])
    notice_text = pdf_text(base64.b64decode(notice["content_base64"]))
    assert "1234567" in notice_text and "Complément à payer pour 2026 1 126,00 €" in notice_text
    plan_text = pdf_text(base64.b64decode(plan["content_base64"]))
    assert "1234567" in plan_text and "Total des cotisations 2026 9 126,00 €" in plan_text
    spy.close()


def test_a_declaration_that_also_adjusts_the_next_year_gives_one_email(suite, smtp_server):
    """One decision, one message: the 2025 regularisation names the 2026 call the same
    declaration adjusted (``also_announced``), which is not announced on its own."""
    config = suite
    spy = bus.EventSpy(config["AMQP_URI"], "document_generated")
    chain, regularisation = str(uuid.uuid4()), str(uuid.uuid4())
    adjusted = factories.contributions_recalculated("1234567", chain, status="adjusted",
                                                    previous_total="8000.00",
                                                    announced_with=regularisation)
    regularised = factories.contributions_recalculated(
        "1234567", chain, year=2025, assessment_id=regularisation,
        also_announced=((adjusted["payload"]["assessment_id"], 2026, "adjusted"),))
    bus.publish(config["AMQP_URI"], adjusted, regularised)

    announced = {(e["payload"]["kind"], e["payload"]["title"]): e["payload"] for e in spy.wait(2)}
    assert announced[("contribution_statement", "Relevé de cotisations 2026")]["notify"] is False
    told = announced[("contribution_statement", "Relevé de cotisations 2025")]
    assert told["notify"] is True and told["also_issued"] == ["Relevé de cotisations 2026"]
    wait_for(lambda: len(smtp_server.messages()) == 1)
    time.sleep(1.5)  # nothing else comes
    mails = smtp_server.messages()
    assert len(mails) == 1 and "De nouveaux documents" in mails[0]["Subject"]
    body = mails[0].get_body(("plain",)).get_content()
    assert "Relevé de cotisations 2025" in body and "Relevé de cotisations 2026" in body
    spy.close()


def test_a_new_schedule_supersedes_and_the_members_own_change_is_announced(suite, smtp_server):
    config = suite
    first = factories.schedule_changed("1234567", total="9126.00")
    bus.publish(config["AMQP_URI"], first)
    wait_for(lambda: len(documents(config)) == 1)
    changed = factories.schedule_changed("1234567", reason="frequency_changed", caused=False,
                                         version=2, total="9126.00", previous_total="9126.00")
    bus.publish(config["AMQP_URI"], changed)
    rows = wait_for(lambda: documents(config) if len(documents(config)) == 2 else None)
    old, new = rows
    assert old.superseded_by == new.id and new.superseded_by is None
    assert old.sha256 is None is new.sha256  # neither read yet
    with ServiceRpcProxy("documents", config) as rpc:  # the superseded one stays readable
        old_content = rpc.get_content("1234567", old.id)
        new_content = rpc.get_content("1234567", new.id)
    assert old_content["superseded"] and not new_content["superseded"]
    assert old_content["sha256"] != new_content["sha256"]
    wait_for(lambda: len(smtp_server.messages()) == 1)  # the member's own change only
    time.sleep(1)
    assert len(smtp_server.messages()) == 1
    assert "Échéancier de paiement 2026" in smtp_server.messages()[0].get_body(
        ("plain",)).get_content()


def test_a_version_1_announcement_is_still_delivered(suite, smtp_server):
    """An event from a copy of documents not yet upgraded (rolling deploy)."""
    config = suite
    event = factories.document_generated("1234567")
    event["version"] = 1
    del event["payload"]["notify"], event["payload"]["also_issued"]
    bus.publish(config["AMQP_URI"], event)
    wait_for(lambda: len(smtp_server.messages()) == 1)
