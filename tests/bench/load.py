"""Load: 50 concurrent members for two minutes against the running suite
(``make load``). Prints requests per second, p50/p95/p99 and errors.
Usage: python tests/bench/load.py [--users 50] [--duration 2m]"""
from __future__ import annotations

import argparse
import json
import os
import time
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.load import run_locust  # noqa: E402
from tests.support.suite import RunningSuite  # noqa: E402


def static_ceiling(url: str, clients: int, seconds: float = 10.0) -> float:
    """Requests/s the gateway answers for a static file with ``clients``
    concurrent connections and no think time: its HTTP stack alone, with no
    service behind it, the ceiling of any page."""
    import threading
    import requests
    stop = time.monotonic() + seconds
    counts = []

    def client():
        done = 0
        with requests.Session() as http:
            while time.monotonic() < stop:
                http.get(f"{url}/static/carpimko.css", timeout=10).raise_for_status()
                done += 1
        counts.append(done)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", default="2m")
    parser.add_argument("--database-url", default=os.environ.get("CARPIMKO_TEST_DATABASE_URL", ""))
    parser.add_argument("--amqp-uri", default="pyamqp://guest:guest@localhost:5672/")
    parser.add_argument("--rabbit-api-uri", default="http://guest:guest@localhost:15672")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carpimko-load-") as tmp:
        suite = RunningSuite(Path(tmp), args.amqp_uri, args.rabbit_api_uri, args.database_url,
                             # 50 members behind one address (like a NAT): the per-client
                             # login limit is raised, or it would refuse most of them
                             extra_env={"CARPIMKO_LOG_LEVEL": "ERROR",
                                        "CARPIMKO_LOGIN_RATE_LIMIT": "10000/900"})
        suite.start()
        try:
            figures = run_locust(suite.url, args.users, 10, args.duration, Path(tmp))
            figures["static_ceiling_per_second"] = static_ceiling(suite.url, args.users)
        finally:
            suite.stop()
    if args.json:
        print(json.dumps(figures))
        return 0 if figures["failures"] == 0 else 1
    print(f"{args.users} members for {args.duration}: {figures['requests']} requests, "
          f"{figures['rps']:.1f} req/s, p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, "
          f"p99 {figures['p99_ms']:.0f} ms, errors {figures['failures']}")
    for name, row in sorted(figures["by_endpoint"].items()):
        print(f"  {name:<42} {row['requests']:>6} req  p95 {row['p95_ms']:>6.0f} ms  errors {row['failures']}")
    for failure in figures["failure_details"][:10]:
        print("  failure:", failure)
    return 0 if figures["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
