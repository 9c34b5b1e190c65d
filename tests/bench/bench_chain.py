"""Benchmark of the main chain on this machine (``make bench``).

1. Latency: one member declares over HTTP, 20 times; the time from the POST
   to the email file written by the real SMTP server. Prints median and p95.
2. Throughput: 1,000 declarations (half for the member with an email, half
   for the member notified by post) imported with ``carpimko declarations
   import``; prints the import's own duration and the time until the last
   email or letter went out, as declarations per second.

The suite runs as ``make run`` runs it (SQLite by default; PostgreSQL with
``--database-url``), in its own RabbitMQ vhost and temporary folder.
Usage: python tests/bench/bench_chain.py [--count 1000] [--samples 20]
       [--database-url postgresql://postgres@127.0.0.1/postgres] [--scale documents=2]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from ops.demo_data import DEMO_PASSWORD  # noqa: E402
from tests.support.suite import RunningSuite  # noqa: E402


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def wait_until(predicate, timeout, interval=0.01):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return time.monotonic()
        time.sleep(interval)
    raise TimeoutError("timed out")


def latency(suite: RunningSuite, samples: int) -> list[float]:
    session = requests.Session()
    session.post(f"{suite.url}/api/v1/session",
                 json={"file_number": "1234567", "password": DEMO_PASSWORD}).raise_for_status()
    results = []
    for i in range(samples):
        before = len(suite.mails())
        start = time.monotonic()
        r = session.post(f"{suite.url}/api/v1/declarations",
                         json={"year": 2026, "professional_income": f"{40000 + i}.00",
                               "conventioned_income": None})
        r.raise_for_status()
        end = wait_until(lambda: len(suite.mails()) > before, timeout=60)
        results.append(end - start)
    return results


def throughput(suite: RunningSuite, count: int, workdir: Path) -> dict:
    csv_path = workdir / "bench.csv"
    with open(csv_path, "w") as fh:
        fh.write("file_number,year,professional_income,conventioned_income\n")
        for i in range(count):
            member = "1234567" if i % 2 == 0 else "7654321"
            fh.write(f"{member},{2024 + i % 3},{30000 + i}.00,\n")
    mails, letters = len(suite.mails()), len(suite.letters())
    start = time.monotonic()
    result = suite.carpimko("declarations", "import", str(csv_path), "--no-progress")
    imported = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"import failed: {result.stderr}")
    done = wait_until(lambda: len(suite.mails()) + len(suite.letters()) >= mails + letters + count,
                      timeout=1800, interval=0.2)
    total = done - start
    return {"count": count, "import_seconds": imported, "chain_seconds": total,
            "per_second": count / total}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--database-url", default=os.environ.get("CARPIMKO_TEST_DATABASE_URL", ""))
    parser.add_argument("--amqp-uri", default="pyamqp://guest:guest@localhost:5672/")
    parser.add_argument("--rabbit-api-uri", default="http://guest:guest@localhost:15672")
    parser.add_argument("--scale", action="append", default=[], metavar="SERVICE=N")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carpimko-bench-") as tmp:
        run_args = [arg for s in args.scale for arg in ("--scale", s)]
        suite = RunningSuite(Path(tmp), args.amqp_uri, args.rabbit_api_uri, args.database_url,
                             extra_env={"CARPIMKO_LOG_LEVEL": "ERROR"}, run_args=run_args)
        suite.start()
        try:
            db = "PostgreSQL" if args.database_url else "SQLite"
            print(f"suite: one copy of each service{' + ' + ', '.join(args.scale) if args.scale else ''}, {db}, {os.cpu_count()} cores")
            lat = latency(suite, args.samples)
            print(f"declaration -> email, {len(lat)} samples: median {statistics.median(lat) * 1000:.0f} ms, "
                  f"p95 {percentile(lat, 0.95) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms")
            tp = throughput(suite, args.count, Path(tmp))
            print(f"batch import of {tp['count']} declarations: published in {tp['import_seconds']:.1f} s; "
                  f"all notified after {tp['chain_seconds']:.1f} s = {tp['per_second']:.1f} declarations/s "
                  "end to end")
        finally:
            suite.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
