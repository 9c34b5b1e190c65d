"""Email composition and SMTP errors (services/notifications/mailer.py)."""
import re
import socket
from datetime import datetime, timezone
from email import message_from_bytes, policy
from email.utils import parsedate_to_datetime

import eventlet
import pytest

from services.notifications import mailer

NOTIFICATION_ID = "5b0c9f5e-3a41-5f1d-8c55-2a9e7d6b4c31"
MEMBER = {"civility": "Mme", "first_name": "Anne", "last_name": "Durand",
          "file_number": "1234567", "total": "9126.00", "income": "40000.00"}
SUBJECT = "Un nouveau document est disponible dans votre espace personnel Carpimko"


def on_the_wire(outgoing):
    """The message as the SMTP server receives it, parsed back as a mail
    store does (lines ending in LF)."""
    data = (outgoing.data if isinstance(outgoing, mailer.OutgoingEmail)
            else outgoing.as_bytes(policy=policy.SMTP))
    return message_from_bytes(data.replace(b"\r\n", b"\n"), policy=policy.default)


@pytest.fixture
def outgoing():
    return mailer.compose_document_email(
        to="anne.durand@example.fr", sender="Carpimko <ne-pas-repondre@carpimko.local>",
        notification_id=NOTIFICATION_ID, member=MEMBER,
        document_title="Relevé de cotisations 2026", portal_url="https://espace.carpimko.example")


@pytest.fixture
def message(outgoing):
    return on_the_wire(outgoing)


def parts(message):
    return {part.get_content_type(): part.get_content() for part in message.walk()
            if not part.is_multipart()}


def test_headers(message):
    assert message["Subject"] == SUBJECT
    assert message["From"] == "Carpimko <ne-pas-repondre@carpimko.local>"
    assert message["To"] == "anne.durand@example.fr"
    assert message["Message-ID"] == f"<{NOTIFICATION_ID}@carpimko.local>"
    assert message["Auto-Submitted"] == "auto-generated"
    sent = parsedate_to_datetime(message["Date"])
    assert sent.utcoffset().total_seconds() == 0  # UTC
    assert abs((datetime.now(timezone.utc) - sent).total_seconds()) < 60


def test_same_notification_same_message_id():
    again = on_the_wire(mailer.compose_document_email(
        to="x@example.fr", sender="s@example.fr", notification_id=NOTIFICATION_ID,
        member=MEMBER, document_title="t", portal_url="https://p"))
    assert again["Message-ID"] == f"<{NOTIFICATION_ID}@carpimko.local>"
    assert mailer.message_id_for(NOTIFICATION_ID) == again["Message-ID"]


def test_envelope_is_the_bare_addresses(outgoing):
    assert outgoing.sender == "ne-pas-repondre@carpimko.local"
    assert outgoing.recipient == "anne.durand@example.fr"
    assert outgoing.message_id == f"<{NOTIFICATION_ID}@carpimko.local>"


def test_written_for_any_relay(outgoing):
    """CRLF lines within 78 characters, 7-bit (quoted-printable UTF-8): no
    8BITMIME or SMTPUTF8 asked of the relay."""
    data = outgoing.data
    assert data.isascii()
    lines = data.split(b"\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert max(len(line) for line in lines) <= 78
    assert b"MIME-Version: 1.0" in lines
    assert data.endswith(b"--\r\n")


def test_accented_titles_and_several_documents_survive_the_encoding():
    titles = ["Avis de régularisation 2025 — « définitif »", "Échéancier 2026"]
    parsed = on_the_wire(mailer.compose_document_email(
        to="a@example.fr", sender="s@example.fr", notification_id=NOTIFICATION_ID,
        member={"civility": "Mme", "last_name": "Lefèvre-Œillet"},
        document_title="Relevé de cotisations 2026", portal_url="https://p", also_issued=titles))
    text = parsed.get_body(("plain",)).get_content()
    html = parsed.get_body(("html",)).get_content()
    assert parsed["Subject"].startswith("De nouveaux documents sont disponibles")
    assert text.startswith("Bonjour Mme Lefèvre-Œillet,\n")
    assert "- Relevé de cotisations 2026\n- Avis de régularisation 2025 — « définitif »\n" in text
    assert "<li><strong>Échéancier 2026</strong></li>" in html
    assert text.rstrip().endswith("merci de ne pas y répondre.")


def test_a_line_break_in_a_header_is_refused():
    with pytest.raises(ValueError, match="To header may not contain a line break"):
        mailer.compose_document_email(
            to="a@example.fr\r\nBcc: b@example.fr", sender="s@example.fr",
            notification_id=NOTIFICATION_ID, member=MEMBER, document_title="t",
            portal_url="https://p")


def test_an_internationalised_address_is_left_to_the_email_package():
    msg = mailer.compose_document_email(
        to="anne@société.fr", sender="s@example.fr", notification_id=NOTIFICATION_ID,
        member=MEMBER, document_title="t", portal_url="https://p")
    assert not isinstance(msg, mailer.OutgoingEmail)
    assert msg["To"] == "anne@société.fr"
    assert msg.get_body(("plain",)).get_content().startswith("Bonjour Mme Durand,\n")


def test_multipart_text_and_html_without_attachment(message):
    assert message.get_content_type() == "multipart/alternative"
    assert set(parts(message)) == {"text/plain", "text/html"}
    assert list(message.iter_attachments()) == []
    assert all(p.get_content_disposition() is None for p in message.walk())


def test_text_body_in_french(message):
    text = parts(message)["text/plain"]
    assert text.startswith("Bonjour Mme Durand,\n")
    assert "Un nouveau document (Relevé de cotisations 2026) est disponible" in text
    assert "(https://espace.carpimko.example)" in text
    assert "ne contient ni montant, ni pièce jointe, ni lien de connexion" in text


def test_html_body(message):
    html = parts(message)["text/html"]
    assert '<html lang="fr">' in html
    assert "<p>Bonjour Mme Durand,</p>" in html
    assert "<strong>Relevé de cotisations 2026</strong>" in html
    assert "<a " not in html  # no link to click


def test_no_amount_and_no_personal_figure(message):
    for body in parts(message).values():
        assert "€" not in body
        assert "1234567" not in body
        for amount in ("9126", "9 126", "9\u202f126", "40000", "40 000"):
            assert amount not in body
        # the only digits: the title's year and the opening hours
        digits = re.findall(r"\d+", re.sub(r"<[^>]+>", "", body))
        assert sorted(set(digits)) == ["12", "2026", "45", "8"]


def test_html_escapes_the_title():
    msg = on_the_wire(mailer.compose_document_email(
        to="a@example.fr", sender="s@example.fr", notification_id=NOTIFICATION_ID,
        member={"civility": "M.", "last_name": "<b>O'Neil</b>"},
        document_title="<script>alert(1)</script>", portal_url="https://p"))
    html = parts(msg)["text/html"]
    assert "<script>" not in html and "<b>O" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_message_serialises_and_parses_back(message):
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)  # and again
    # the long subject is folded right after "Subject:"; the stdlib keeps the fold's space
    assert parsed["Subject"].strip() == SUBJECT
    assert parsed["Message-ID"] == f"<{NOTIFICATION_ID}@carpimko.local>"
    assert parsed.get_body(("plain",)).get_content().startswith("Bonjour Mme Durand")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_send_to_a_closed_port_is_transient(outgoing):
    with pytest.raises(mailer.TransientDeliveryError, match="SMTP server unreachable"):
        mailer.send(outgoing, mailer.SmtpSettings("127.0.0.1", closed_port(), timeout=2))


@pytest.fixture
def greeting_server():
    """A one-line SMTP server: answers every connection with a fixed greeting."""
    servers = []

    def start(greeting: bytes) -> int:
        listener = eventlet.listen(("127.0.0.1", 0))

        def serve():
            while True:
                conn, _ = listener.accept()
                conn.sendall(greeting)
                eventlet.sleep(0.05)
                conn.close()

        servers.append((listener, eventlet.spawn(serve)))
        return listener.getsockname()[1]

    yield start
    for listener, thread in servers:
        thread.kill()
        listener.close()


def test_send_4xx_is_transient(outgoing, greeting_server):
    port = greeting_server(b"421 4.3.2 Service not available, try later\r\n")
    with pytest.raises(mailer.TransientDeliveryError, match="SMTP 421"):
        mailer.send(outgoing, mailer.SmtpSettings("127.0.0.1", port, timeout=2))


def test_send_5xx_is_a_permanent_failure(outgoing, greeting_server):
    port = greeting_server(b"554 5.7.1 No SMTP service here\r\n")
    with pytest.raises(mailer.PermanentDeliveryError) as info:
        mailer.send(outgoing, mailer.SmtpSettings("127.0.0.1", port, timeout=2))
    assert not isinstance(info.value, mailer.TransientDeliveryError)
    assert info.value.code == 554 and "No SMTP service here" in info.value.reason


def test_rate_limiter_spaces_sends():
    limiter = mailer.RateLimiter(20)
    hub = eventlet.hubs.get_hub()
    start = hub.clock()
    for _ in range(11):
        limiter.wait()
    assert hub.clock() - start >= 0.5 - 0.01  # 10 intervals of 50 ms


def test_rate_limiter_zero_means_unlimited():
    limiter = mailer.RateLimiter(0)
    hub = eventlet.hubs.get_hub()
    start = hub.clock()
    for _ in range(1000):
        limiter.wait()
    assert hub.clock() - start < 0.5
