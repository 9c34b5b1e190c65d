"""CPU per dashboard: members with a history (as ``load.py`` seeds them) log in,
then their dashboards (``GET /``) are read one after the other, no think time,
and the CPU each process used is divided by the pages (``/proc``; RabbitMQ's and
PostgreSQL's are the whole machine's, so run it on a quiet machine, and compare
two commits back to back). Latency here is one page at a time, not under load.

Usage: python tests/bench/dashboard_cpu.py [--members 10] [--pages 300] [--json]"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from ops.demo_data import DEMO_PASSWORD  # noqa: E402
from tests.bench import cpu  # noqa: E402
from tests.bench.load import seed_members  # noqa: E402
from tests.bench.suite_options import add_suite_arguments, members_suite  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=10)
    parser.add_argument("--pages", type=int, default=300)
    add_suite_arguments(parser)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carpimko-dashcpu-") as tmp:
        suite = members_suite(Path(tmp), args)
        suite.start()
        try:
            members, _ = seed_members(suite, args.members, Path(tmp))
            browsers = []
            for member in members:
                browser = requests.Session()
                r = browser.post(f"{suite.url}/api/v1/session",
                                 json={"file_number": member, "password": DEMO_PASSWORD})
                r.raise_for_status()
                browser.get(f"{suite.url}/").raise_for_status()  # warm
                browsers.append(browser)
            before = cpu.snapshot(suite.proc.pid)
            started = time.monotonic()
            durations = []
            for i in range(args.pages):
                t = time.monotonic()
                r = browsers[i % len(browsers)].get(f"{suite.url}/", allow_redirects=False)
                durations.append(1000 * (time.monotonic() - t))
                if r.status_code != 200:
                    raise SystemExit(f"dashboard answered {r.status_code}")
            seconds = time.monotonic() - started
            used = cpu.usage(before, cpu.snapshot(suite.proc.pid))
        finally:
            suite.stop()
    per_page = {name: 1000 * value / args.pages for name, value in used.items() if value > 0}
    own = sum(v for k, v in per_page.items() if k not in ("rabbitmq", "postgresql"))
    figures = {"pages": args.pages, "members": args.members, "seconds": seconds,
               "p50_ms": statistics.median(durations),
               "p99_ms": sorted(durations)[int(0.99 * (len(durations) - 1))],
               "cpu_ms_per_page": per_page, "suite_cpu_ms_per_page": own,
               "all_cpu_ms_per_page": sum(per_page.values())}
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{args.pages} dashboards of {args.members} members in {seconds:.1f} s, one at a time: "
          f"p50 {figures['p50_ms']:.1f} ms, p99 {figures['p99_ms']:.1f} ms")
    print(f"CPU ms per dashboard: suite {own:.1f}, with RabbitMQ and PostgreSQL "
          f"{figures['all_cpu_ms_per_page']:.1f}: " + ", ".join(
              f"{k} {v:.2f}" for k, v in sorted(per_page.items(), key=lambda kv: -kv[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
