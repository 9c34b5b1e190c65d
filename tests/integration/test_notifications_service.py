"""The notifications service with a real SMTP server, accounts and documents."""
from __future__ import annotations

import csv
import time

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from pypdf import PdfReader
from sqlalchemy import select

from carpimko.db import Database
from services.accounts.service import AccountsService
from services.documents.service import DocumentsService
from services.notifications.models import Letter, Notification
from services.notifications.service import NotificationsService
from tests.support import bus, factories
from tests.support.waiting import wait_for


@pytest.fixture
def start_suite(container_factory, make_config, smtp_server):
    """Accounts (with members), documents and notifications; returns the
    notifications config. Options override the notifications config."""
    def start(**options):
        accounts = make_config("accounts")
        factories.add_member(accounts["DATABASE_URL"], "1234567", email="claire.martin@example.fr")
        factories.add_member(accounts["DATABASE_URL"], "7654321", email=None, first_name="Jean",
                             last_name="Dupont", civility="M.")
        factories.add_member(accounts["DATABASE_URL"], "2222222", email=None,
                             address_line1="", postcode="", city="")
        factories.add_member(accounts["DATABASE_URL"], "3333333", email="papier@example.fr",
                             prefers_paper=True)
        factories.add_member(accounts["DATABASE_URL"], "4444444", email="sans.adresse@example.fr",
                             address_line1="", postcode="", city="")
        container_factory(AccountsService, accounts).start()
        container_factory(DocumentsService, make_config("documents")).start()
        config = make_config("notifications", **{"SMTP_PORT": smtp_server.port,
                                                 "MAX_ATTEMPTS": 8, **options})
        container_factory(NotificationsService, config).start()
        config["ACCOUNTS_CONFIG"] = accounts
        return config
    return start


@pytest.fixture
def suite(start_suite):
    return start_suite()


def notifications(config, **where):
    db = Database(config["DATABASE_URL"], pool_size=1)
    with db.transaction() as session:
        rows = session.scalars(select(Notification).filter_by(**where)).all()
    db.dispose()
    return rows


def queued_letters(config):
    db = Database(config["DATABASE_URL"], pool_size=1)
    with db.transaction() as session:
        rows = session.scalars(select(Letter)).all()
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
    assert mail["Date"] and mail["From"] == config["MAIL_FROM"]
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
    assert "Aucune adresse électronique" in rows[0].note
    text = " ".join(PdfReader(str(letters[0])).pages[0].extract_text().split())
    assert "7654321" in text and "DUPONT" in text.upper()
    assert smtp_server.messages() == []


def test_a_member_who_prefers_paper_gets_a_letter(suite, smtp_server):
    config = suite
    bus.publish(config["AMQP_URI"], factories.document_generated("3333333"))
    rows = wait_for(lambda: notifications(config, channel="post"))
    assert "courrier" in rows[0].note
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


def test_451_then_250_delivers_exactly_once(suite, smtp_server):
    config = suite
    smtp_server.restart("--replies", "451,451,250")
    bus.publish(config["AMQP_URI"], factories.document_generated("1234567"))
    wait_for(lambda: len(smtp_server.messages()) == 1, timeout=30)
    time.sleep(1)
    assert len(smtp_server.messages()) == 1
    assert [n.channel for n in notifications(config)] == ["email"]


def test_hard_bounce_switches_to_post_and_flags_the_address(suite, smtp_server):
    config = suite
    smtp_server.restart("--refuse-recipients", "550")
    spy = bus.EventSpy(config["AMQP_URI"], "email_bounced")
    bus.publish(config["AMQP_URI"], factories.document_generated("1234567"))
    bounced = spy.wait(1)[0]
    assert bounced["payload"]["address"] == "claire.martin@example.fr"
    assert bounced["payload"]["smtp_code"] == 550
    row = wait_for(lambda: notifications(config))[0]
    assert row.channel == "post" and "refusé" in row.note
    assert len(queued_letters(config)) == 1
    with ServiceRpcProxy("accounts", config) as accounts:
        wait_for(lambda: accounts.contact_details("1234567")["email_bounced"])
    # the member's channel is now post: the next document goes by letter directly
    smtp_server.restart()
    bus.publish(config["AMQP_URI"], factories.document_generated("1234567"))
    wait_for(lambda: len(notifications(config)) == 2)
    assert [n.channel for n in notifications(config)] == ["post", "post"]
    assert smtp_server.messages() == []


def test_a_bounce_with_no_usable_postal_address_is_reported_and_still_flags_the_email(suite, smtp_server):
    """Neither channel works: the failure is recorded, and accounts still learns that the email bounced
    (the portal then asks the member for a new address)."""
    config = suite
    smtp_server.restart("--refuse-recipients", "550")
    spy = bus.EventSpy(config["AMQP_URI"], "email_bounced")
    failed_spy = bus.EventSpy(config["AMQP_URI"], "notification_failed")
    bus.publish(config["AMQP_URI"], factories.document_generated("4444444"))
    assert spy.wait(1)[0]["payload"]["address"] == "sans.adresse@example.fr"
    reason = failed_spy.wait(1)[0]["payload"]["reason"]
    assert "refusé notre courriel (550)" in reason and "Adresse postale inutilisable" in reason
    row = wait_for(lambda: notifications(config))[0]
    assert row.status == "failed" and row.channel == "post"
    assert queued_letters(config) == []
    with ServiceRpcProxy("accounts", config) as accounts:
        wait_for(lambda: accounts.contact_details("4444444")["email_bounced"])


def test_unusable_postal_address_is_reported_not_dropped(suite):
    config = suite
    spy = bus.EventSpy(config["AMQP_URI"], "notification_failed")
    bus.publish(config["AMQP_URI"], factories.document_generated("2222222"))
    failed = spy.wait(1)[0]
    assert "Adresse postale inutilisable" in failed["payload"]["reason"]
    row = notifications(config)[0]
    assert row.status == "failed"
    with ServiceRpcProxy("notifications", config) as rpc:
        log = rpc.delivery_log("2222222")
    assert log[0]["status"] == "failed" and log[0]["title"] == "Relevé de cotisations 2026"


def test_smtp_with_starttls_and_authentication(start_suite, smtp_server, tmp_path):
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_file, key_file, ca_file = (tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem")
    cert.cert_chain_pems[0].write_to_path(str(cert_file))
    cert.private_key_pem.write_to_path(str(key_file))
    ca.cert_pem.write_to_path(str(ca_file))
    smtp_server.restart("--tls-cert", str(cert_file), "--tls-key", str(key_file),
                        "--auth", "carpimko:s3cret")
    config = start_suite(SMTP_STARTTLS=True, SMTP_USERNAME="carpimko", SMTP_PASSWORD="s3cret",
                         SMTP_CA_FILE=str(ca_file))
    bus.publish(config["AMQP_URI"], factories.document_generated("1234567"))
    wait_for(lambda: len(smtp_server.messages()) == 1, timeout=30)


def test_letters_are_collected_into_a_print_batch(suite):
    config = suite
    for member in ("7654321", "7654321", "3333333"):
        bus.publish(config["AMQP_URI"], factories.document_generated(member))
    wait_for(lambda: len(queued_letters(config)) == 3)
    with ServiceRpcProxy("notifications", config) as rpc:
        overview = rpc.letters_overview()
        assert len(overview["queued"]) == 3 and overview["batches"] == []
        batch = rpc.close_letter_batch()
        assert rpc.close_letter_batch(batch["cut_off"]) is None  # closed once
        listed = rpc.batch_letters(batch["id"])
        assert rpc.letters_overview()["queued"] == []
    pages = sum(letter.pages for letter in queued_letters(config))
    assert batch["letters"] == 3 and batch["pages"] == pages
    assert len(PdfReader(batch["pdf"]).pages) == pages
    with open(batch["manifest"], newline="") as fh:
        manifest = list(csv.DictReader(fh))
    assert [row["file_number"] for row in manifest] == [l["file_number"] for l in listed]
    assert sorted(row["file_number"] for row in manifest) == ["3333333", "7654321", "7654321"]
    assert manifest[0]["first_page"] == "1"
    assert all(row["address_1"] == "1 rue de la Paix" for row in manifest)


@pytest.mark.slow
def test_smtp_down_for_30_seconds_loses_nothing_and_sends_nothing_twice(start_suite, smtp_server):
    config = start_suite(MAX_ATTEMPTS=12, RETRY_DELAY=0.5)
    smtp_server.stop()
    events = [factories.document_generated("1234567") for _ in range(5)]
    bus.publish(config["AMQP_URI"], *events)
    time.sleep(30)
    assert notifications(config) == []
    smtp_server.start()
    wait_for(lambda: len(smtp_server.messages()) == 5, timeout=90)
    time.sleep(2)
    assert len(smtp_server.messages()) == 5
    assert len({m["Message-ID"] for m in smtp_server.messages()}) == 5
    assert len(notifications(config)) == 5
