"""The notifications service with a real SMTP server, accounts and documents."""
from __future__ import annotations

import time

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from carpimko.db import Database
from services.accounts.service import AccountsService
from services.documents.service import DocumentsService
from services.notifications.models import Notification
from services.notifications.service import NotificationsService
from tests.support import bus, factories
from tests.support.waiting import wait_for


@pytest.fixture
def suite(container_factory, make_config, smtp_server):
    accounts = make_config("accounts")
    factories.add_member(accounts["DATABASE_URL"], "1234567", email="claire.martin@example.fr")
    factories.add_member(accounts["DATABASE_URL"], "7654321", email=None, first_name="Jean",
                         last_name="Dupont", civility="M.")
    factories.add_member(accounts["DATABASE_URL"], "2222222", email=None,
                         address_line1="", postcode="", city="")
    container_factory(AccountsService, accounts).start()
    container_factory(DocumentsService, make_config("documents")).start()
    config = make_config("notifications", SMTP_PORT=smtp_server.port, MAX_ATTEMPTS=8)
    container_factory(NotificationsService, config).start()
    return config


def notifications(config, **where):
    db = Database(config["DATABASE_URL"], pool_size=1)
    with db.transaction() as session:
        rows = session.scalars(select(Notification).filter_by(**where)).all()
    db.dispose()
    return rows


def test_email_sent_once_even_when_the_event_is_delivered_twice(suite, smtp_server):
    config = suite
    spy = bus.EventSpy(config["AMQP_URI"], "notification_sent")
    event = factories.document_generated("1234567")
    bus.publish(config["AMQP_URI"], event, event)
    sent = spy.wait(1)[0]
    assert sent["payload"]["channel"] == "email"
    wait_for(lambda: len(smtp_server.messages()) == 1)
    bus.publish(config["AMQP_URI"], event)  # and a third time, later
    time.sleep(1)
    assert len(smtp_server.messages()) == 1
    assert len(notifications(config)) == 1
    mail = smtp_server.messages()[0]
    assert mail["To"] == "claire.martin@example.fr"
    assert mail["Message-ID"] == sent["payload"]["reference"]
    assert not any(part.get_filename() for part in mail.walk())  # no attachment
    body = mail.get_body(("plain",)).get_content()
    assert "Relevé de cotisations 2026" in body
    assert "€" not in body and "9126" not in body  # never a figure
    html = mail.get_body(("html",)).get_content()
    assert "<a " not in html  # no clickable login link


def test_no_email_on_file_means_a_postal_letter(suite, smtp_server, tmp_path):
    config = suite
    bus.publish(config["AMQP_URI"], factories.document_generated("7654321"))
    rows = wait_for(lambda: notifications(config, channel="post"))
    letters = list((tmp_path / "data" / "letters").rglob("*.pdf"))
    assert len(letters) == 1 and str(letters[0]) == rows[0].reference
    text = " ".join(PdfReader(str(letters[0])).pages[0].extract_text().split())
    assert "7654321" in text and "DUPONT" in text.upper()
    assert smtp_server.messages() == []


def test_smtp_down_is_retried_then_delivered(suite, smtp_server):
    config = suite
    smtp_server.stop()
    bus.publish(config["AMQP_URI"], factories.document_generated("1234567"))
    time.sleep(0.5)
    assert notifications(config) == []
    smtp_server.start()
    wait_for(lambda: len(smtp_server.messages()) == 1, timeout=30)
    assert len(notifications(config)) == 1


def test_unusable_postal_address_is_dead_lettered_with_reason(suite):
    config = suite
    bus.publish(config["AMQP_URI"], factories.document_generated("2222222"))
    dead = wait_for(lambda: bus.dead_letters(config["AMQP_URI"], "document_generated",
                                             "notifications", "on_document_generated"))
    assert "no usable postal address" in dead[0].headers["x-carpimko-error"]
