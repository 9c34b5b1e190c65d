"""Load: 50 concurrent members for two minutes against the running suite
(``make load``). Prints requests per second, p50/p95/p99 and errors.
Usage: python tests/bench/load.py [--users 50] [--duration 2m]"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.load import run_locust  # noqa: E402
from tests.support.suite import RunningSuite  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", default="2m")
    parser.add_argument("--database-url", default=os.environ.get("CARPIMKO_TEST_DATABASE_URL", ""))
    parser.add_argument("--amqp-uri", default="pyamqp://guest:guest@localhost:5672/")
    parser.add_argument("--rabbit-api-uri", default="http://guest:guest@localhost:15672")
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
        finally:
            suite.stop()
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
