"""Notification throughput on this machine.

Publishes N ``document_generated`` events for the member with an email and N
for the member without one into a running suite (``deploy/run.py``, SQLite
unless --database-url), and prints emails per second into the real local
SMTP server and letters per second queued, then the time to close them into
one print batch. The outbound email rate limit is lifted for the measure
(``CARPIMKO_EMAIL_RATE_PER_SECOND=0``); in production it caps campaigns.
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
from tests.support import factories  # noqa: E402
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


def measure(count: int, database_url: str, amqp_uri: str, rabbit_api_uri: str) -> dict:
    figures = {}
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
                start = time.monotonic()
                for _ in range(count):
                    publisher.publish(factories.document_generated(member))
                end = wait_until(lambda: len(count_files()) >= before + count, 600)
                figures[f"{label}_per_second"] = count / (end - start)
            publisher.close()
            start = time.monotonic()
            closed = suite.carpimko("letters", "close")
            figures["print_batch_seconds"] = time.monotonic() - start
            figures["print_batch"] = closed.stdout.splitlines()[0] if closed.stdout else closed.stderr
            figures["smtp_ceiling_per_second"] = smtp_ceiling(suite, count)
        finally:
            suite.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--database-url", default=os.environ.get("CARPIMKO_TEST_DATABASE_URL", ""))
    parser.add_argument("--amqp-uri", default="pyamqp://guest:guest@localhost:5672/")
    parser.add_argument("--rabbit-api-uri", default="http://guest:guest@localhost:15672")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = measure(args.count, args.database_url, args.amqp_uri, args.rabbit_api_uri)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{args.count} emails: {figures['emails_per_second']:.1f} emails/s "
          f"(raw SMTP ceiling {figures['smtp_ceiling_per_second']:.0f}/s)")
    print(f"{args.count} letters: {figures['letters_per_second']:.1f} letters/s")
    print(f"print batch of {args.count} letters closed in {figures['print_batch_seconds']:.1f} s "
          f"({figures['print_batch']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
