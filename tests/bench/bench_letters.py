"""CPU of one notification letter, end to end (not a test: a plain script).

    PYTHONPATH=. .venv/bin/python tests/bench/bench_letters.py [--count N] \
        [--database-url postgresql://postgres@127.0.0.1:5432/postgres] [--profile FILE]

Why: in the chain benchmark one member in five is notified by post, and the
documents service spent most of its busy time drawing those letters while
notifications waited on it. This measures the two halves of one letter in ONE
process (no broker: the RPC is replaced by a JSON round trip of its arguments
and reply, which is what the transport costs in Python), on a scratch
documents database (created and dropped here; SQLite when no URL is given):

* documents: ``DocumentsService.issue_letter("notification_letter", ...)`` as
  the RPC entrypoint runs it (lookup of the issue key, drawing, content stored
  and fsynced, the row committed, the base64 reply), then ``json.dumps`` of
  the reply;
* notifications: ``json.loads`` of the reply, what ``_send_letter`` does with
  the letter (base64 decode, page count, file written and fsynced); its
  own rows (claim, queue, delivery) are not letter-specific and left out;
* a retry of each letter (same issue key: the stored letter given back).

Prints the CPU milliseconds per letter of this process for each part (mean of
``--count`` letters after a warm-up; PostgreSQL's own CPU is not counted) and
the wall time. The data is what notifications sends (see
``NotificationsService._send_letter``).
"""
from __future__ import annotations

import carpimko.green  # noqa: F401  (eventlet first, as in the services)

import argparse  # noqa: E402
import base64  # noqa: E402
import cProfile  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from datetime import date  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nameko.testing.services import worker_factory  # noqa: E402

from carpimko.db import Database  # noqa: E402
from services.documents.service import DocumentsService  # noqa: E402
from services.notifications import letters as notification_letters  # noqa: E402
from tests.support.databases import DatabaseFactory  # noqa: E402

WARMUP = 20
PUBLIC_URL = "https://espace.carpimko.fr"


def letter_data(index: int) -> dict:
    """What ``NotificationsService._send_letter`` sends for a statement and its
    regularisation notice announced together."""
    return {
        "file_number": f"{2000000 + index}",
        "member": {"full_name": f"M. Jean Dupont-{index}",
                   "address_lines": [f"{index % 90 + 1} avenue de la République",
                                     "Bâtiment B", "75011 Paris"]},
        "issued_on": "2026-11-28",
        "subject": "Un nouveau document est disponible",
        "document_label": "Appel et relevé de cotisations 2026, "
                          "Avis de régularisation des cotisations 2025",
        "portal_url": PUBLIC_URL,
    }


def _rpc(args) -> object:
    """What the transport costs in Python for the arguments (JSON)."""
    return json.loads(json.dumps(args))


def issue(service, index: int, key: str) -> str:
    kind, data, issue_key = _rpc(["notification_letter", letter_data(index), key])
    return json.dumps(service.issue_letter(kind, data, issue_key))


def receive(reply: str, root: Path, notification_id: str) -> int:
    pdf = base64.b64decode(json.loads(reply))
    notification_letters.write_letter(root, date(2026, 11, 28), notification_id, pdf)
    return notification_letters.page_count(pdf)


def run(service, root: Path, count: int, offset: int, profile) -> dict:
    documents = notifications = retries = 0.0
    started = time.perf_counter()
    for index in range(offset, offset + count):
        key = f"bench-{offset}-{index}"
        if profile:
            profile.enable()
        t0 = time.process_time()
        reply = issue(service, index, key)
        t1 = time.process_time()
        pages = receive(reply, root, key)
        t2 = time.process_time()
        again = issue(service, index, key)
        t3 = time.process_time()
        if profile:
            profile.disable()
        if again != reply or pages != 1:
            raise SystemExit(f"letter {index}: a retry gave another letter or pages={pages}")
        documents += t1 - t0
        notifications += t2 - t1
        retries += t3 - t2
    wall = time.perf_counter() - started
    return {"documents_ms": 1000 * documents / count,
            "notifications_ms": 1000 * notifications / count,
            "retry_ms": 1000 * retries / count, "wall_ms": 1000 * wall / count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=300)
    parser.add_argument("--database-url",
                        default=os.environ.get("CARPIMKO_TEST_DATABASE_URL", ""))
    parser.add_argument("--profile", help="write a cProfile of the measured letters here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-letters-") as tmp:
        factory = DatabaseFactory(args.database_url, Path(tmp))
        database = None
        try:
            database = Database(factory.url("documents"), pool_size=2)
            service = worker_factory(DocumentsService, db=database,
                                     config={"DATA_DIR": tmp, "PUBLIC_URL": PUBLIC_URL})
            root = Path(tmp) / "letters"
            run(service, root, WARMUP, 10_000_000, None)
            profile = cProfile.Profile() if args.profile else None
            result = run(service, root, args.count, 0, profile)
            if profile:
                profile.dump_stats(args.profile)
        finally:
            if database is not None:
                database.engine.dispose()
            factory.drop_all()
    print(f"{args.count} notification letters, "
          f"{'PostgreSQL' if args.database_url else 'SQLite'}, CPU ms per letter:")
    print(f"  documents (issue_letter + reply)     {result['documents_ms']:7.2f}")
    print(f"  notifications (decode, pages, write) {result['notifications_ms']:7.2f}")
    print(f"  total                                "
          f"{result['documents_ms'] + result['notifications_ms']:7.2f}")
    print(f"  a retry (same issue key)             {result['retry_ms']:7.2f}")
    print(f"  wall ms per letter (all three)       {result['wall_ms']:7.2f}")


if __name__ == "__main__":
    main()
