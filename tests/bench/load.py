"""Load: 50 concurrent members for two minutes against the suite (``make load``).

The suite is started in its own vhost and databases; ``--users`` members of a
bench population (``population.py``) are seeded, and each gets a history
first: a declaration of 2024 and one of 2025 pushed through the whole chain
(statements, the 2026 adjusted call, schedules, emails or letters), so their
dashboards show what a member's does. Then locust (``tests/load/locustfile.py``)
runs one simulated user per member: they arrive ``--spawn-rate`` a second and
log in (argon2), then browse, each declaring at most once.

Prints the logins (``POST /api/v1/session``) as their own figure, and the
steady state: every request ending ``--warmup`` seconds or more after the last
member logged in (the dashboard figure of record); the whole run's figures are
in the JSON too, with the CPU each process used during the run (``/proc``;
RabbitMQ and PostgreSQL are the machine's, shared with anything else running).
Usage: python tests/bench/load.py [--users 50] [--duration 2m] [--spawn-rate 2] [--warmup 5]"""
from __future__ import annotations

import argparse
import json
import time
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from ops.demo_data import DEMO_PASSWORD  # noqa: E402
from tests.bench import cpu, population  # noqa: E402
from tests.bench.bench_chain import through_chain  # noqa: E402
from tests.support.load import run_locust  # noqa: E402
from tests.bench.suite_options import add_suite_arguments, members_suite  # noqa: E402
from tests.support.suite import RunningSuite  # noqa: E402

HISTORY_YEARS = (2024, 2025)


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


def give_history(suite: RunningSuite, members: list[str], workdir: Path) -> dict:
    """A declaration of each of ``HISTORY_YEARS`` for every member, through the
    chain until every member was told and the queues are empty."""
    csv_path = workdir / "history.csv"
    rows = [(m, year, 20000 + (i * 7919 + year) % 70000)
            for i, m in enumerate(members) for year in HISTORY_YEARS]
    with open(csv_path, "w") as fh:
        fh.write("file_number,year,professional_income,conventioned_income\n")
        fh.writelines(f"{m},{year},{income}.00,\n" for m, year, income in rows)
    run = through_chain(suite, [m for m, _, _ in rows], "declarations", "import", str(csv_path))
    return {"declarations": len(rows), "seconds": run["chain_seconds"], "told": run["told"]}


def seed_members(suite: RunningSuite, users: int, workdir: Path) -> tuple[list[str], dict]:
    members = population.seed(suite.databases.url("accounts", migrate=False),
                              suite.databases.url("contributions", migrate=False), users,
                              DEMO_PASSWORD)
    return members, give_history(suite, members, workdir)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--duration", default="2m", help="the whole locust run, ramp-up included")
    parser.add_argument("--spawn-rate", type=float, default=2.0,
                        help="members arriving (and logging in) per second")
    parser.add_argument("--warmup", type=float, default=5.0,
                        help="seconds after the last login before the steady state is measured")
    add_suite_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="carpimko-load-") as tmp:
        suite = members_suite(Path(tmp), args)
        suite.start()
        try:
            members, history = seed_members(suite, args.users, Path(tmp))
            from services.contributions.domain.parameters import available_years
            before = cpu.snapshot(suite.proc.pid)
            figures = run_locust(suite.url, args.users, args.spawn_rate, args.duration, Path(tmp),
                                 env={"CARPIMKO_LOAD_MEMBERS": ",".join(members),
                                      "CARPIMKO_LOAD_PASSWORD": DEMO_PASSWORD,
                                      "CARPIMKO_LOAD_YEARS": ",".join(map(str, available_years()))},
                                 warmup=args.warmup)
            figures["cpu_seconds"] = cpu.usage(before, cpu.snapshot(suite.proc.pid))
            figures["history"] = history
            figures["static_ceiling_per_second"] = static_ceiling(suite.url, args.users)
        finally:
            suite.stop()
    if args.json:
        print(json.dumps(figures))
        return 0 if figures["failures"] == 0 else 1
    print(f"{args.users} members for {args.duration} (whole run): {figures['requests']} requests, "
          f"{figures['rps']:.1f} req/s, p50 {figures['p50_ms']:.0f} ms, p95 {figures['p95_ms']:.0f} ms, "
          f"p99 {figures['p99_ms']:.0f} ms, errors {figures['failures']}")
    logins = figures["logins"]
    print(f"logins: {logins['requests']}, p50 {logins['p50_ms']:.0f} ms, "
          f"p99 {logins['p99_ms']:.0f} ms, max {logins['max_ms']:.0f} ms")
    steady = figures["steady"]
    if steady:
        print(f"steady state ({steady['seconds']:.0f} s from {steady['starts_after_seconds']:.0f} s): "
              f"{steady['requests']} requests, {steady['rps']:.1f} req/s")
        for name, row in sorted(steady["by_endpoint"].items()):
            print(f"  {name:<42} {row['requests']:>6} req  p50 {row['p50_ms']:>5.0f}  "
                  f"p95 {row['p95_ms']:>5.0f}  p99 {row['p99_ms']:>5.0f} ms  errors {row['failures']}")
    else:
        print("no steady state: not every member logged in, or the run ended first")
    print("CPU seconds during the run: " + ", ".join(
        f"{k} {v:.1f}" for k, v in sorted(figures["cpu_seconds"].items(), key=lambda kv: -kv[1])))
    for failure in figures["failure_details"][:10]:
        print("  failure:", failure)
    return 0 if figures["failures"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
