"""The messaging service with RabbitMQ, a real database and (for the
notification) accounts, documents, notifications and an SMTP server."""
from __future__ import annotations

import base64
import io
import time
import uuid
from datetime import datetime, timezone

import pytest
from nameko.standalone.rpc import ServiceRpcProxy
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import select

from carpimko.db import Database
from carpimko.errors import Conflict, InvalidRequest, NotFound, Unauthorized
from carpimko.events import new_event
from services.accounts.service import AccountsService
from services.documents.service import DocumentsService
from services.messaging.models import AccessLog, Attachment, Thread
from services.messaging.service import MessagingService
from services.notifications.service import NotificationsService
from tests.support import bus, factories
from tests.support.waiting import wait_for

ADVISOR = {"login": "c.dupont", "role": "advisor"}
SUPERVISOR = {"login": "s.chef", "role": "supervisor"}


def jpeg_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x8825] = {1: "N", 2: (48.0, 51.0, 24.0)}
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (1, 2, 3)).save(buffer, "JPEG", exif=exif.tobytes())
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def rows(config, model, **where):
    db = Database(config["DATABASE_URL"], pool_size=1)
    with db.transaction() as session:
        found = session.scalars(select(model).filter_by(**where)).all()
    db.dispose()
    return found


@pytest.fixture
def messaging(container_factory, make_config):
    config = make_config("messaging")
    container_factory(MessagingService, config).start()
    return config


def new_id() -> str:
    return str(uuid.uuid4())


def test_member_thread_with_attachment_reply_note_and_history(messaging):
    config = messaging
    spy = bus.EventSpy(config["AMQP_URI"], "message_posted")
    with ServiceRpcProxy("messaging", config) as rpc:
        first = new_id()
        view = rpc.start_thread("1234567", "prevoyance", "Arrêt de travail",
                                "Voici mon arrêt de travail.", first,
                                [{"filename": "arret.pdf", "content_base64": b64(jpeg_with_gps())}])
        again = rpc.start_thread("1234567", "prevoyance", "Arrêt de travail",
                                 "Voici mon arrêt de travail.", first, None)
        assert again["id"] == view["id"]  # the same message id adds nothing
        assert len(rpc.member_threads("1234567")) == 1
        assert view["status"] == "open" and view["expected_reply_on"]
        [attachment] = view["messages"][0]["attachments"]
        assert attachment["filename"] == "arret.jpg" and attachment["media_type"] == "image/jpeg"
        content = rpc.member_attachment("1234567", view["id"], attachment["id"])
        stored = base64.b64decode(content["content_base64"])
        assert dict(Image.open(io.BytesIO(stored)).getexif()) == {}

        # another member: the same answer as an unknown thread
        for call in (lambda: rpc.member_thread("7654321", view["id"]),
                     lambda: rpc.member_attachment("7654321", view["id"], attachment["id"]),
                     lambda: rpc.member_reply("7654321", view["id"], "intrus", new_id(), None),
                     lambda: rpc.member_thread("1234567", new_id())):
            with pytest.raises(NotFound):
                call()

        assert rpc.unread_summary("1234567")["count"] == 0
        rpc.staff_note(ADVISOR, view["id"], "Vérifier la date de début d'arrêt.", new_id())
        staff_view = rpc.staff_reply(ADVISOR, view["id"], "Bien reçu, merci.", new_id(), None,
                                     False)
        assert staff_view["status"] == "answered" and staff_view["assigned_to"] == "c.dupont"
        assert [m["author_kind"] for m in staff_view["messages"]] == ["member", "note", "fund"]

        assert rpc.unread_summary("1234567")["count"] == 1
        member_view = rpc.member_thread("1234567", view["id"])
        assert [m["author_kind"] for m in member_view["messages"]] == ["member", "fund"]
        assert "Vérifier" not in str(member_view)  # internal notes never reach the member
        assert member_view["messages"][1]["author"] == "La Carpimko"
        assert [h["kind"] for h in member_view["history"]] == ["opened", "fund_reply"]
        assert rpc.unread_summary("1234567")["count"] == 0

        rpc.member_reply("1234567", view["id"], "Merci !", new_id(), None)
        assert rpc.member_thread("1234567", view["id"])["status"] == "open"
        rpc.staff_close(ADVISOR, view["id"])
        with pytest.raises(Conflict):
            rpc.member_reply("1234567", view["id"], "Encore une question", new_id(), None)

    [posted] = spy.wait(1)
    assert posted["member_id"] == "1234567" and posted["payload"]["thread_id"] == view["id"]
    assert posted["payload"]["category"] == "prevoyance"
    assert "Bien reçu" not in str(posted)
    spy.close()
    # every staff access was audited
    actions = [r.action for r in rows(config, AccessLog)]
    assert actions == ["note", "reply", "close"]


def test_refused_attachments_say_which_file_and_keep_nothing(messaging):
    config = messaging
    with ServiceRpcProxy("messaging", config) as rpc:
        with pytest.raises(InvalidRequest) as caught:
            rpc.start_thread("1234567", "autre", "Justificatifs", "Ci-joint.", new_id(), [
                {"filename": "ok.jpg", "content_base64": b64(jpeg_with_gps())},
                {"filename": "facture.pdf", "content_base64": b64(b"MZ not a pdf")}])
        [problem] = caught.value.fields["attachments"]
        assert problem.startswith("« facture.pdf » est refusé")
        assert rpc.member_threads("1234567") == []
    assert rows(config, Attachment) == []
    assert not list((config_data(config)).rglob("*.bin"))


def config_data(config):
    from pathlib import Path
    return Path(config["DATA_DIR"]) / "messaging"


def test_roles_and_audit(messaging):
    config = messaging
    with ServiceRpcProxy("messaging", config) as rpc:
        view = rpc.start_thread("1234567", "cotisations", "Échéancier", "Question.", new_id())
        inbox = rpc.staff_inbox(ADVISOR, "cotisations")
        assert [t["id"] for t in inbox["threads"]] == [view["id"]]
        assert inbox["open_by_category"]["cotisations"] == 1
        assert rpc.staff_inbox(ADVISOR, "retraite")["threads"] == []
        with pytest.raises(Unauthorized):
            rpc.response_times(ADVISOR)
        with pytest.raises(Unauthorized):
            rpc.staff_thread({"login": "x", "role": "visitor"}, view["id"])
        rpc.staff_assign(ADVISOR, view["id"], "m.martin")
        rpc.staff_reply(ADVISOR, view["id"], "Voici la réponse.", new_id(), None, True)
        assert rpc.member_thread("1234567", view["id"])["status"] == "awaiting_member"
        figures = rpc.response_times(SUPERVISOR)
        assert figures["categories"]["cotisations"]["answered"] == 1
        assert figures["categories"]["cotisations"]["median_hours"] is not None
        assert rpc.staff_thread(ADVISOR, view["id"])["assigned_to"] == "m.martin"
    log = [(r.actor, r.action, r.allowed, r.file_number) for r in rows(config, AccessLog)]
    assert ("c.dupont", "response_times", False, None) in log
    assert ("x", "read", False, "1234567") in log
    assert ("s.chef", "response_times", True, None) in log
    assert ("c.dupont", "read", True, "1234567") in log


def career_flag(file_number="1234567", year=2019) -> dict:
    return new_event("career_year_flagged", {
        "flag_id": str(uuid.uuid4()), "year": year,
        "comment": "Il manque mes trimestres de 2019.",
        "flagged_at": datetime.now(timezone.utc)}, member_id=file_number)


def test_career_flag_opens_one_thread_and_closing_resolves_it(messaging):
    config = messaging
    spy = bus.EventSpy(config["AMQP_URI"], "career_review_resolved")
    event = career_flag()
    bus.publish(config["AMQP_URI"], event, event)
    [thread] = wait_for(lambda: rows(config, Thread))
    time.sleep(0.5)
    assert len(rows(config, Thread)) == 1
    assert thread.category == "retraite" and thread.flag_id == event["payload"]["flag_id"]
    with ServiceRpcProxy("messaging", config) as rpc:
        view = rpc.member_thread("1234567", thread.id)
        assert view["messages"][0]["body"] == "Il manque mes trimestres de 2019."
        assert view["career_year"] == 2019
        with pytest.raises(InvalidRequest) as caught:
            rpc.staff_close(ADVISOR, thread.id)
        assert caught.value.fields == {"outcome": ["career_outcome"]}
        rpc.staff_close(ADVISOR, thread.id, "corrected")
    [resolved] = spy.wait(1)
    assert resolved["payload"]["flag_id"] == event["payload"]["flag_id"]
    assert resolved["payload"]["outcome"] == "corrected" and resolved["payload"]["year"] == 2019
    assert resolved["payload"]["thread_id"] == thread.id
    spy.close()


def test_a_reply_notifies_the_member_without_its_content(container_factory, make_config,
                                                         smtp_server, tmp_path):
    accounts = make_config("accounts")
    factories.add_member(accounts["DATABASE_URL"], "1234567", email="claire@example.fr")
    factories.add_member(accounts["DATABASE_URL"], "7654321", email=None, last_name="Dupont")
    container_factory(AccountsService, accounts).start()
    container_factory(DocumentsService, make_config("documents")).start()
    container_factory(NotificationsService,
                      make_config("notifications", SMTP_PORT=smtp_server.port)).start()
    config = make_config("messaging")
    container_factory(MessagingService, config).start()
    with ServiceRpcProxy("messaging", config) as rpc:
        for number in ("1234567", "7654321"):
            view = rpc.start_thread(number, "autre", "Question", "Bonjour", new_id())
            rpc.staff_reply(ADVISOR, view["id"], "Réponse confidentielle 4242", new_id())
    [mail] = wait_for(lambda: smtp_server.messages())
    assert mail["To"] == "claire@example.fr"
    assert mail["Subject"] == "Un nouveau message vous attend dans votre espace personnel Carpimko"
    body = mail.get_body(("plain",)).get_content()
    assert "Un nouveau message vous attend dans votre espace personnel" in body
    assert "4242" not in body and "confidentielle" not in body
    letters = wait_for(lambda: list((tmp_path / "data" / "letters").rglob("*.pdf")))
    text = " ".join(PdfReader(str(letters[0])).pages[0].extract_text().split())
    assert "Un nouveau message de la Carpimko vous attend" in text and "4242" not in text
