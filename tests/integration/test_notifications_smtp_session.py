"""One SMTP connection for a batch of emails (services/notifications/mailer.py,
SmtpSession), against the real SMTP test server: reuse, a connection dropped
between two messages, a refusal in the middle of a batch."""
from __future__ import annotations

import pytest

from services.notifications import mailer
from tests.support.smtp import SmtpServer


def message(to: str, number: int):
    return mailer.compose_document_email(
        to=to, sender="Carpimko <ne-pas-repondre@carpimko.test>",
        notification_id=f"00000000-0000-5000-8000-{number:012d}",
        member={"civility": "Mme", "last_name": "Durand"},
        document_title="Relevé de cotisations 2026", portal_url="https://espace.carpimko.test")


def settings(server: SmtpServer) -> mailer.SmtpSettings:
    return mailer.SmtpSettings("127.0.0.1", server.port, timeout=5)


def message_ids(server: SmtpServer) -> list[str]:
    return sorted(m["Message-ID"] for m in server.messages())


def expected_ids(numbers) -> list[str]:
    return sorted(f"<00000000-0000-5000-8000-{n:012d}@carpimko.local>" for n in numbers)


def test_a_batch_goes_through_one_connection(smtp_server):
    with mailer.SmtpSession(settings(smtp_server)) as smtp:
        for number in range(6):
            smtp.send(message(f"membre{number}@example.fr", number))
        assert smtp.connections == 1
    assert message_ids(smtp_server) == expected_ids(range(6))
    assert sorted(m["To"] for m in smtp_server.messages()) == [
        f"membre{n}@example.fr" for n in range(6)]


def test_no_message_no_connection(smtp_server):
    smtp_server.stop()  # nothing listens: connecting would fail
    with mailer.SmtpSession(settings(smtp_server)) as smtp:
        pass
    assert smtp.connections == 0


def test_a_connection_dropped_between_messages_is_reopened_without_losing_or_doubling(
        smtp_server):
    smtp_server.restart("--drop-after", "2")  # every connection dies when its 3rd mail starts
    with mailer.SmtpSession(settings(smtp_server)) as smtp:
        for number in range(7):
            smtp.send(message(f"membre{number}@example.fr", number))
        assert smtp.connections == 4  # 2 + 2 + 2 + 1
    assert message_ids(smtp_server) == expected_ids(range(7))  # each exactly once


def test_a_5xx_refusal_mid_batch_is_permanent_for_that_message_only(smtp_server):
    smtp_server.restart("--refuse-recipients", "550", "--refuse-matching", "rebond")
    outcomes = []
    with mailer.SmtpSession(settings(smtp_server)) as smtp:
        for number, to in enumerate(["a@example.fr", "rebond@example.fr", "c@example.fr",
                                     "rebond2@example.fr", "e@example.fr"]):
            try:
                smtp.send(message(to, number))
                outcomes.append("sent")
            except mailer.PermanentDeliveryError as exc:
                outcomes.append(exc.code)
                assert "rebond" in exc.reason and "rejected" in exc.reason
        assert smtp.connections == 1  # the refusal left the connection usable
    assert outcomes == ["sent", 550, "sent", 550, "sent"]
    assert sorted(m["To"] for m in smtp_server.messages()) == [
        "a@example.fr", "c@example.fr", "e@example.fr"]


def test_a_4xx_at_data_mid_batch_is_transient_and_the_next_message_goes(smtp_server):
    smtp_server.restart("--replies", "250,451")
    with mailer.SmtpSession(settings(smtp_server)) as smtp:
        smtp.send(message("a@example.fr", 0))
        with pytest.raises(mailer.TransientDeliveryError, match="SMTP 451"):
            smtp.send(message("b@example.fr", 1))
        smtp.send(message("c@example.fr", 2))
    assert message_ids(smtp_server) == expected_ids([0, 2])


def test_server_gone_mid_batch_is_transient_then_the_session_reconnects(smtp_server):
    with mailer.SmtpSession(settings(smtp_server)) as smtp:
        smtp.send(message("a@example.fr", 0))
        smtp_server.stop()
        with pytest.raises(mailer.TransientDeliveryError, match="unreachable"):
            smtp.send(message("b@example.fr", 1))
        smtp_server.start()
        smtp.send(message("c@example.fr", 2))
        assert smtp.connections == 2
    assert message_ids(smtp_server) == expected_ids([0, 2])


def test_send_alone_still_uses_a_connection_of_its_own(smtp_server):
    mailer.send(message("a@example.fr", 0), settings(smtp_server))
    smtp_server.restart("--refuse-recipients", "550")
    with pytest.raises(mailer.PermanentDeliveryError):
        mailer.send(message("b@example.fr", 1), settings(smtp_server))
    assert message_ids(smtp_server) == expected_ids([0])


# -- connections kept from one batch to the next (mailer.SmtpPool) --

class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_batches_one_after_the_other_share_one_connection(smtp_server):
    pool = mailer.SmtpPool(settings(smtp_server))
    for number in range(3):  # three batches of one, as at a steady rate
        with pool.session() as smtp:
            smtp.send(message(f"membre{number}@example.fr", number))
    assert smtp.connections == 1
    pool.close()
    assert message_ids(smtp_server) == expected_ids(range(3))


def test_a_connection_the_relay_closed_between_batches_is_reopened_without_a_duplicate(
        smtp_server):
    pool = mailer.SmtpPool(settings(smtp_server))
    with pool.session() as smtp:
        smtp.send(message("a@example.fr", 0))
    smtp_server.restart()  # the relay's idle timeout, or a restart, while the pool waits
    with pool.session() as smtp:
        smtp.send(message("b@example.fr", 1))
        assert smtp.connections == 2
    pool.close()
    assert message_ids(smtp_server) == expected_ids([0, 1])  # each exactly once


def test_a_batch_that_fails_does_not_hand_its_connection_back(smtp_server):
    pool = mailer.SmtpPool(settings(smtp_server))
    with pytest.raises(RuntimeError):
        with pool.session() as smtp:
            smtp.send(message("a@example.fr", 0))
            raise RuntimeError("the database went away mid-batch")
    assert smtp._smtp is None  # closed
    with pool.session() as other:
        other.send(message("b@example.fr", 1))
    assert other is not smtp
    pool.close()
    assert message_ids(smtp_server) == expected_ids([0, 1])


def test_a_connection_idle_too_long_is_closed_at_the_next_use(smtp_server):
    clock = Clock()
    pool = mailer.SmtpPool(settings(smtp_server), idle_seconds=30, clock=clock)
    with pool.session() as first:
        first.send(message("a@example.fr", 0))
    clock.now += 10
    with pool.session() as smtp:
        assert smtp is first  # recent: reused
    clock.now += 31
    with pool.session() as smtp:
        assert smtp is not first
        assert first._smtp is None  # QUIT sent, socket closed
    pool.close()
