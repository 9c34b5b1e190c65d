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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--database-url", default=os.environ.get("CARPIMKO_TEST_DATABASE_URL", ""))
    parser.add_argument("--amqp-uri", default="pyamqp://guest:guest@localhost:5672/")
    parser.add_argument("--rabbit-api-uri", default="http://guest:guest@localhost:15672")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carpimko-bench-") as tmp:
        suite = RunningSuite(Path(tmp), args.amqp_uri, args.rabbit_api_uri, args.database_url,
                             extra_env={"CARPIMKO_LOG_LEVEL": "ERROR",
                                        "CARPIMKO_EMAIL_RATE_PER_SECOND": "0"})
        suite.start()
        try:
            publisher = EventPublisher(suite.amqp_uri)
            for label, member, count_files in (("emails", "1234567", suite.mails),
                                               ("letters", "7654321", suite.letters)):
                before = len(count_files())
                start = time.monotonic()
                for _ in range(args.count):
                    publisher.publish(factories.document_generated(member))
                end = wait_until(lambda: len(count_files()) >= before + args.count, 600)
                print(f"{args.count} {label}: {end - start:.1f} s = "
                      f"{args.count / (end - start):.1f} {label}/s")
            publisher.close()
            start = time.monotonic()
            closed = suite.carpimko("letters", "close")
            print(f"print batch of {args.count} letters closed in {time.monotonic() - start:.1f} s "
                  f"({closed.stdout.splitlines()[0] if closed.stdout else closed.stderr})")
        finally:
            suite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
