"""document_generated handled in batches (NotificationsService.on_document_generated)
on a real RabbitMQ, with accounts, documents and the real SMTP server: many
events published at once give exactly one email per announced event, a
batch's duplicates are no-ops, post and hard bounces go as before, and a
poison event is dead-lettered alone while the rest of its batch is delivered."""
from __future__ import annotations

import time

from sqlalchemy import func, select

from carpimko.db import Database
from services.notifications.models import Inbox
from tests.integration.test_notifications_service import (  # noqa: F401 (fixtures)
    notifications, queued_letters, start_suite)
from tests.support import bus, factories
from tests.support.waiting import wait_for

MEMBERS = [str(4000000 + i) for i in range(12)]  # each with an email of their own


def add_members(config, *numbers, email=None):
    for number in numbers:
        factories.add_member(config["ACCOUNTS_CONFIG"]["DATABASE_URL"], number,
                             email=email or f"m{number}@example.fr")


def inbox_count(config) -> int:
    db = Database(config["DATABASE_URL"], pool_size=1)
    with db.transaction() as session:
        count = session.scalar(select(func.count()).select_from(Inbox))
    db.dispose()
    return count


def emails_by_recipient(smtp_server) -> dict[str, int]:
    counts: dict[str, int] = {}
    for mail in smtp_server.messages():
        counts[mail["To"]] = counts.get(mail["To"], 0) + 1
    return counts


def publish_under_their_type(config, *events):
    """As producers did before silent announcements got a routing key of their
    own (``broker.routing_key``): every event under its type, so the silent ones
    reach notifications, as those still queued at an upgrade do, and are claimed
    and skipped."""
    for event in events:
        bus.publish_raw(config["AMQP_URI"], event, event["type"])


def settle(predicate, timeout=60):
    """Wait for ``predicate``, then a little longer: nothing more may come."""
    wait_for(lambda: predicate() or None, timeout=timeout)
    time.sleep(1.5)


def test_many_events_at_once_give_exactly_one_email_per_announced_event(start_suite,
                                                                        smtp_server):
    config = start_suite(BATCH_CONCURRENCY=1)
    add_members(config, *MEMBERS)
    announced = [factories.document_generated(n) for n in MEMBERS for _ in range(3)]
    claimed_only = [factories.document_generated(n, notify=False) for n in MEMBERS
                    for _ in range(2)]
    events = [e for pair in zip(announced, claimed_only) for e in pair]
    events += announced[len(claimed_only):]
    publish_under_their_type(config, *events)
    settle(lambda: inbox_count(config) == len(events))
    assert len(smtp_server.messages()) == len(announced)
    assert emails_by_recipient(smtp_server) == {f"m{n}@example.fr": 3 for n in MEMBERS}
    rows = notifications(config)
    assert len(rows) == len(announced) and {r.channel for r in rows} == {"email"}
    assert ({m["Message-ID"] for m in smtp_server.messages()} == {r.reference for r in rows})
    assert {r.document_id for r in rows} == {e["payload"]["document_id"] for e in announced}


def test_duplicates_in_a_batch_and_after_it_are_no_ops(start_suite, smtp_server):
    config = start_suite(BATCH_CONCURRENCY=1)
    add_members(config, *MEMBERS[:4])
    twice = factories.document_generated(MEMBERS[0])
    others = [factories.document_generated(n) for n in MEMBERS[1:4]]
    quiet = factories.document_generated(MEMBERS[0], notify=False)
    publish_under_their_type(config, twice, *others, twice, quiet, twice, quiet, *others)
    settle(lambda: len(notifications(config)) == 4)
    assert emails_by_recipient(smtp_server) == {f"m{n}@example.fr": 1 for n in MEMBERS[:4]}
    assert inbox_count(config) == 5
    publish_under_their_type(config, twice, quiet, *others)  # redelivered later: nothing
    time.sleep(2)
    assert len(smtp_server.messages()) == 4 and len(notifications(config)) == 4


def test_a_member_without_email_gets_a_letter_within_a_batch(start_suite, smtp_server, tmp_path):
    config = start_suite(BATCH_CONCURRENCY=1)
    add_members(config, *MEMBERS[:6])
    events = [factories.document_generated(n) for n in MEMBERS[:3]]
    events.append(factories.document_generated("7654321"))  # no email on file
    events.append(factories.document_generated("3333333"))  # prefers paper
    events.append(factories.document_generated("2222222"))  # no usable postal address
    events += [factories.document_generated(n) for n in MEMBERS[3:6]]
    bus.publish(config["AMQP_URI"], *events)
    settle(lambda: len(notifications(config)) == len(events))
    assert emails_by_recipient(smtp_server) == {f"m{n}@example.fr": 1 for n in MEMBERS[:6]}
    post = {r.file_number: r for r in notifications(config, channel="post")}
    assert set(post) == {"7654321", "3333333", "2222222"}
    assert "Aucune adresse électronique" in post["7654321"].note
    assert "courrier" in post["3333333"].note
    assert post["2222222"].status == "failed"
    assert sorted(l.file_number for l in queued_letters(config)) == ["3333333", "7654321"]
    assert len(list((tmp_path / "data" / "letters").rglob("*.pdf"))) == 2


def test_a_hard_bounce_mid_batch_goes_by_post_and_the_others_by_email(start_suite, smtp_server):
    smtp_server.restart("--refuse-recipients", "550", "--refuse-matching", "rebond")
    config = start_suite(BATCH_CONCURRENCY=1)
    add_members(config, *MEMBERS[:6])
    add_members(config, "4999999", email="rebond@example.fr")
    spy = bus.EventSpy(config["AMQP_URI"], "email_bounced")
    events = [factories.document_generated(n) for n in MEMBERS[:3]]
    events.append(factories.document_generated("4999999"))
    events += [factories.document_generated(n) for n in MEMBERS[3:6]]
    bus.publish(config["AMQP_URI"], *events)
    bounced = spy.wait(1)[0]
    assert bounced["payload"]["address"] == "rebond@example.fr"
    assert bounced["payload"]["smtp_code"] == 550
    settle(lambda: len(notifications(config)) == len(events))
    assert emails_by_recipient(smtp_server) == {f"m{n}@example.fr": 1 for n in MEMBERS[:6]}
    [letter] = notifications(config, channel="post")
    assert letter.file_number == "4999999" and "refusé notre courriel (550)" in letter.note
    assert [l.file_number for l in queued_letters(config)] == ["4999999"]


def test_a_connection_dropped_mid_batch_sends_each_email_once(start_suite, smtp_server):
    smtp_server.restart("--drop-after", "2")
    config = start_suite(BATCH_CONCURRENCY=1)
    add_members(config, *MEMBERS)
    events = [factories.document_generated(n) for n in MEMBERS for _ in range(2)]
    bus.publish(config["AMQP_URI"], *events)
    settle(lambda: len(notifications(config)) == len(events))
    assert emails_by_recipient(smtp_server) == {f"m{n}@example.fr": 2 for n in MEMBERS}
    assert len({m["Message-ID"] for m in smtp_server.messages()}) == len(events)


def test_a_poison_event_is_dead_lettered_alone_and_its_batch_is_delivered(start_suite,
                                                                        smtp_server):
    config = start_suite(BATCH_CONCURRENCY=1, MAX_ATTEMPTS=3)
    add_members(config, *MEMBERS)
    events = [factories.document_generated(n) for n in MEMBERS[:6]]
    events.append(factories.document_generated("9999999"))  # no such member
    events += [factories.document_generated(n) for n in MEMBERS[6:]]
    bus.publish(config["AMQP_URI"], *events)
    settle(lambda: len(notifications(config)) == len(MEMBERS))
    dead = wait_for(lambda: bus.dead_letters(config["AMQP_URI"], "document_generated",
                                             "notifications", "on_document_generated") or None,
                    timeout=30)
    assert [d.payload["member_id"] for d in dead] == ["9999999"]
    assert "9999999" in dead[0].headers["x-carpimko-error"]
    assert emails_by_recipient(smtp_server) == {f"m{n}@example.fr": 1 for n in MEMBERS}
    assert inbox_count(config) == len(MEMBERS)


def test_a_failure_later_in_a_batch_never_resends_the_emails_already_sent(start_suite,
                                                                         smtp_server):
    # the 4th DATA is refused for now (451): the batch it is in fails after
    # emails before it went out; each event is then handled alone
    smtp_server.restart("--replies", "250,250,250,451")
    config = start_suite(BATCH_CONCURRENCY=1)
    add_members(config, *MEMBERS[:8])
    events = [factories.document_generated(n) for n in MEMBERS[:8]]
    bus.publish(config["AMQP_URI"], *events)
    settle(lambda: len(notifications(config)) == len(events))
    assert emails_by_recipient(smtp_server) == {f"m{n}@example.fr": 1 for n in MEMBERS[:8]}
    assert len(notifications(config)) == len(events)
