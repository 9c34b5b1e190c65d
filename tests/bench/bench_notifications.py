"""Notification throughput on this machine.

Publishes N ``document_generated`` events for the member with an email and N
for the member without one into a running suite (``deploy/run.py``, SQLite
unless --database-url), and prints emails per second into the real local
SMTP server and letters per second queued, then the time to close them into
one print batch; N/3 emails one at a time (20/s: batches of one, as in the
chain at a steady rate). Events with ``notify: false`` (documents announced
with another one of their chain) are no longer measured here: they are routed
away from notifications (``broker.routing_key``) and never reach it. For each
line, the CPU each process used per event (``/proc``: notifications, the SMTP
server, documents rendering the letters; PostgreSQL and RabbitMQ are the
whole machine's). The outbound email rate limit is lifted for the measure
(``CARPIMKO_EMAIL_RATE_PER_SECOND=0``); in production it caps campaigns.
Events are published in batches with one confirm wait each (as the outbox
relay does), so the publisher is not what is measured.
Usage: python tests/bench/bench_notifications.py [--count 300]
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from carpimko.broker import EventPublisher  # noqa: E402
from tests.bench import cpu  # noqa: E402
from tests.support import factories  # noqa: E402
from tests.bench.suite_options import add_suite_arguments  # noqa: E402
from tests.support.suite import RunningSuite  # noqa: E402


def wait_until(predicate, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(0.05)
    raise TimeoutError


def smtp_ceiling(suite: RunningSuite, count: int) -> float:
    """Emails/s one process sends to the same local SMTP server with
    smtplib, one connection per message as the service does: the ceiling of
    the notifications stage on this machine."""
    import smtplib
    from email.message import EmailMessage
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = ("ne-pas-repondre@carpimko.local",
                                                          "plafond@bench.example", "Plafond")
    message.set_content("Un nouveau document est disponible dans votre espace personnel.")
    start = time.monotonic()
    for _ in range(count):
        with smtplib.SMTP("127.0.0.1", suite.smtp_port, timeout=10) as smtp:
            smtp.send_message(message)
    return count / (time.monotonic() - start)


def queues_empty(suite: RunningSuite) -> bool:
    import requests
    u = suite.rabbit_api_uri
    response = requests.get(f"{u}/api/queues/{suite.vhost}", timeout=5)
    response.raise_for_status()
    return all(q.get("messages", 0) == 0 for q in response.json()
               if not q["name"].endswith(".dlq"))


def publish_all(publisher: EventPublisher, events: list[dict]) -> None:
    for start in range(0, len(events), 100):
        publisher.publish_many(events[start:start + 100])


TRICKLE_RATE = 20.0  # emails/s, one at a time


def measure(count: int, database_url: str, amqp_uri: str, rabbit_api_uri: str) -> dict:
    figures = {}
    trickle = max(1, count // 3)
    with tempfile.TemporaryDirectory(prefix="carpimko-bench-") as tmp:
        suite = RunningSuite(Path(tmp), amqp_uri, rabbit_api_uri, database_url,
                             extra_env={"CARPIMKO_LOG_LEVEL": "ERROR",
                                        "CARPIMKO_EMAIL_RATE_PER_SECOND": "0"})
        suite.start()
        try:
            publisher = EventPublisher(suite.amqp_uri)
            for label, member, count_files in (("emails", "1234567", suite.mails),
                                               ("letters", "7654321", suite.letters)):
                before = len(count_files())
                events = [factories.document_generated(member) for _ in range(count)]
                before_cpu = cpu.snapshot(suite.proc.pid)
                start = time.monotonic()
                publish_all(publisher, events)
                end = wait_until(lambda: len(count_files()) >= before + count, 600)
                wait_until(lambda: queues_empty(suite), 60)  # the outbox's events consumed too
                figures[f"{label}_per_second"] = count / (end - start)
                figures[f"{label}_cpu_ms"] = _per_event(before_cpu, suite, count)
            # the same emails arriving one by one, as in the chain at a steady rate: each
            # batch is one event, so what is paid per batch is paid per email
            before = len(suite.mails())
            before_cpu = cpu.snapshot(suite.proc.pid)
            start = time.monotonic()
            for number in range(trickle):
                publisher.publish(factories.document_generated("1234567"))
                time.sleep(max(0.0, start + (number + 1) / TRICKLE_RATE - time.monotonic()))
            wait_until(lambda: len(suite.mails()) >= before + trickle, 600)
            wait_until(lambda: queues_empty(suite), 60)
            figures["trickle_cpu_ms"] = _per_event(before_cpu, suite, trickle)
            publisher.close()
            start = time.monotonic()
            closed = suite.carpimko("letters", "close")
            figures["print_batch_seconds"] = time.monotonic() - start
            figures["print_batch"] = closed.stdout.splitlines()[0] if closed.stdout else closed.stderr
            figures["smtp_ceiling_per_second"] = smtp_ceiling(suite, count)
        finally:
            suite.stop()
    return figures


def _per_event(before_cpu: dict, suite: RunningSuite, count: int) -> dict:
    used = cpu.usage(before_cpu, cpu.snapshot(suite.proc.pid))
    return {name: round(seconds / count * 1000, 3) for name, seconds in sorted(used.items())
            if name in ("notifications", "ops.smtp_sink", "documents", "postgresql", "rabbitmq")}


def _cpu_line(ms: dict) -> str:
    return ", ".join(f"{name} {value:.2f}" for name, value in ms.items())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    add_suite_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = measure(args.count, args.database_url, args.amqp_uri, args.rabbit_api_uri)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{args.count} emails: {figures['emails_per_second']:.1f} emails/s "
          f"(raw SMTP ceiling {figures['smtp_ceiling_per_second']:.0f}/s)")
    print(f"  CPU ms per email: {_cpu_line(figures['emails_cpu_ms'])}")
    print(f"{max(1, args.count // 3)} emails one at a time ({TRICKLE_RATE:.0f}/s)")
    print(f"  CPU ms per email: {_cpu_line(figures['trickle_cpu_ms'])}")
    print(f"{args.count} letters: {figures['letters_per_second']:.1f} letters/s")
    print(f"  CPU ms per letter: {_cpu_line(figures['letters_cpu_ms'])}")
    print(f"print batch of {args.count} letters closed in {figures['print_batch_seconds']:.1f} s "
          f"({figures['print_batch']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
