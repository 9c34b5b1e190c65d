"""The main chain on this machine: declaration -> assessment -> document ->
email or letter, every service one copy (or ``--scale SERVICE=N``).

1. Throughput: ``--declarations`` members (a bench population, see
   ``population.py``: one in five notified by post) each declare their 2025
   income, published by ``carpimko declarations import`` as a campaign would;
   the clock runs from the start of the import to the last email or letter.
   Prints declarations per second and, from ``/proc``, the CPU each stage
   (service, RabbitMQ, PostgreSQL) used per declaration: the stage nearest to
   one core per second is the bottleneck.
2. Latency: ``--latency-rate`` declarations per second for
   ``--latency-seconds``, each published as its own ``income_declared``
   event for a member with an email; the time from publication to that
   member's email in the SMTP server's folder (p50, p99, max).

The outbound email rate limit is lifted (``CARPIMKO_EMAIL_RATE_PER_SECOND=0``):
it is a production setting sized to the mail relay, not a property of the
suite. Each run has its own RabbitMQ vhost, databases and folder.
3. With ``--campaign`` (first): ``carpimko campaign yearly-call --year 2026``
   over the whole population, each member's provisional call through the
   chain to the member; members per second, and the time 200,000 would take.

Usage: python tests/bench/bench_chain.py [--declarations 20000] [--latency-rate 10]
       [--latency-seconds 30] [--scale documents=2] [--campaign] [--database-url URL] [--json]
"""
from __future__ import annotations

import argparse
import email
import json
import os
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from carpimko.broker import EventPublisher  # noqa: E402
from carpimko.events import new_event  # noqa: E402
from ops.demo_data import DEMO_PASSWORD  # noqa: E402
from tests.bench import cpu, population  # noqa: E402
from tests.bench.suite_options import add_suite_arguments  # noqa: E402
from tests.support.suite import RunningSuite  # noqa: E402

YEAR = 2025


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _count(folder: Path, suffix: str) -> int:
    """Files ending in ``suffix`` under ``folder``. ``os.walk`` (scandir, names
    only): ``Path.rglob`` cost about 10 ms of CPU per call at 3,000 emails, on
    the same two cores as the suite being measured."""
    return sum(1 for _, _, names in os.walk(folder) for name in names if name.endswith(suffix))


class MailFolder:
    """The SMTP server's folder, watched for new emails cheaply.

    Why not list it every few milliseconds: after the campaign it holds
    thousands of emails, and globbing them 200 times a second took about a
    core of the two the suite runs on, slowing down the very chain whose
    latency was measured. The folder is listed again only when its mtime
    changes (or 50 ms went by: an mtime can stay the same for two files
    written within one clock tick), names only."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.seen = self._names()
        self._mtime, self._listed = None, 0.0

    def _names(self) -> set[str]:
        try:
            with os.scandir(self.folder) as entries:
                return {entry.name for entry in entries if entry.name.endswith(".eml")}
        except FileNotFoundError:
            return set()

    def new_emails(self) -> list[Path]:
        try:
            mtime = os.stat(self.folder).st_mtime_ns
        except FileNotFoundError:
            return []
        now = time.monotonic()
        if mtime == self._mtime and now - self._listed < 0.05:
            return []
        self._mtime, self._listed = mtime, now
        names = self._names()
        fresh = names - self.seen
        self.seen = names
        return [self.folder / name for name in sorted(fresh)]


def notified(suite: RunningSuite) -> int:
    return _count(suite.data_dir / "mail", ".eml") + _count(suite.data_dir / "letters", ".pdf")


def broker_messages(suite: RunningSuite) -> int:
    """Messages published in the suite's vhost so far (events, retries and
    RPC requests and replies alike), from the management API."""
    import requests
    from urllib.parse import quote
    for _ in range(20):  # the statistics lag a few seconds behind
        stats = requests.get(f"{suite.rabbit_api_uri}/api/vhosts/{quote(suite.vhost, safe='')}",
                             timeout=10).json().get("message_stats", {})
        if "publish" in stats:
            return int(stats["publish"])
        time.sleep(0.5)
    return 0


def queued(suite: RunningSuite) -> int:
    """Messages waiting or in flight in the suite's queues (management API)."""
    import requests
    from urllib.parse import quote
    queues = requests.get(f"{suite.rabbit_api_uri}/api/queues/{quote(suite.vhost, safe='')}",
                          timeout=10).json()
    return sum(int(q.get("messages", 0) or 0) for q in queues
               if not q["name"].endswith((".dlq", ".retry")))


def wait_until_told(suite: RunningSuite, total: int, start: float) -> float:
    """Wait until at least ``total`` emails and letters exist and the chain is
    idle (empty queues, no new email or letter for 3 s); return the time of the
    last one. A declaration tells its member once (a regularisation and
    the next year's adjusted call are two calls, announced together); a
    member's own schedule change or campaign call tells them again."""
    count, last_change = notified(suite), time.monotonic()
    while True:
        if time.monotonic() > start + 7200:
            raise SystemExit("the chain did not finish in two hours")
        time.sleep(0.5)
        now_count = notified(suite)
        if now_count != count:
            count, last_change = now_count, time.monotonic()
        elif count >= total and time.monotonic() - last_change > 3 and queued(suite) == 0:
            return last_change


def through_chain(suite: RunningSuite, members: list[str], *command: str) -> dict:
    """Run a ``carpimko`` command that sets the chain going for ``members``;
    time the command, then the chain until every member was told and it is
    idle; CPU used by each stage meanwhile."""
    before_count = notified(suite)
    before_cpu = cpu.snapshot(suite.proc.pid)
    start = time.monotonic()
    result = suite.carpimko(*command, "--no-progress", timeout=7200)
    command_seconds = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"{command[0]} failed: {result.stdout}{result.stderr}")
    elapsed = wait_until_told(suite, before_count + len(members), start) - start
    return {"command_seconds": command_seconds, "chain_seconds": elapsed,
            "told": notified(suite) - before_count,
            "used": cpu.usage(before_cpu, cpu.snapshot(suite.proc.pid))}


def throughput(suite: RunningSuite, members: list[str], workdir: Path) -> dict:
    csv_path = workdir / "campaign.csv"
    with open(csv_path, "w") as fh:
        fh.write("file_number,year,professional_income,conventioned_income\n")
        for i, member in enumerate(members):
            income = 18000 + (i * 7919) % 90000
            fh.write(f"{member},{YEAR},{income}.00,\n")
    before_messages = broker_messages(suite)
    run = through_chain(suite, members, "declarations", "import", str(csv_path))
    count, elapsed, used = len(members), run["chain_seconds"], run["used"]
    time.sleep(6)  # the management statistics are sampled every 5 s
    messages = broker_messages(suite) - before_messages
    return {"declarations": count, "import_seconds": run["command_seconds"], "chain_seconds": elapsed,
            "per_second": count / elapsed, "broker_messages_per_declaration": messages / count,
            "members_told_per_declaration": run["told"] / count,
            "cpu_ms_per_declaration": {k: v / count * 1000 for k, v in sorted(used.items())},
            "cpu_share_of_a_core": {k: v / elapsed for k, v in sorted(used.items())}}


def campaign(suite: RunningSuite, members: list[str], year: int = 2026) -> dict:
    """``carpimko campaign yearly-call`` over the whole population: each member's
    provisional call computed, stored, rendered and announced. The clock runs
    from the command's start to the last member told."""
    run = through_chain(suite, members, "campaign", "yearly-call", "--year", str(year))
    count, elapsed = len(members), run["chain_seconds"]
    return {"members": count, "command_seconds": run["command_seconds"], "chain_seconds": elapsed,
            "per_second": count / elapsed,
            "minutes_for_200000": 200_000 / (count / elapsed) / 60,
            "told_per_member": run["told"] / count,
            "cpu_ms_per_member": {k: v / count * 1000 for k, v in sorted(run["used"].items())}}


def latency(suite: RunningSuite, members: list[str], rate: float, seconds: float) -> dict:
    """Publish one declaration every 1/rate s; watch the mail folder for each
    member's email (the To: header names the member)."""
    wanted = [m for m in members if population.email_of(m)][: int(rate * seconds)]
    published: dict[str, float] = {}
    arrived: dict[str, float] = {}
    mail = MailFolder(suite.data_dir / "mail")
    done = threading.Event()

    def watch():
        while not done.is_set():
            paths = mail.new_emails()
            now = time.monotonic()
            for path in paths:
                with open(path, "rb") as fh:
                    to = email.message_from_binary_file(fh)["To"] or ""
                arrived.setdefault(to.split("@")[0].lstrip("m"), now)
            time.sleep(0.005)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    publisher = EventPublisher(suite.amqp_uri)
    start = time.monotonic()
    for i, member in enumerate(wanted):
        time.sleep(max(0.0, start + i / rate - time.monotonic()))
        declaration_id = str(uuid.uuid4())
        envelope = new_event("income_declared", {
            "declaration_id": declaration_id, "year": YEAR,
            "professional_income": f"{30000 + i}.00", "conventioned_income": None,
            "source": "batch", "declared_at": datetime.now(timezone.utc)},
            member_id=member, correlation_id=declaration_id)
        published[member] = time.monotonic()
        publisher.publish(envelope)
    publisher.close()
    deadline = time.monotonic() + 120
    while len(arrived) < len(wanted) and time.monotonic() < deadline:
        time.sleep(0.05)
    done.set()
    watcher.join()
    delays = [arrived[m] - published[m] for m in wanted if m in arrived]
    if len(delays) < len(wanted):
        raise SystemExit(f"only {len(delays)} of {len(wanted)} emails arrived in time")
    return {"rate": rate, "samples": len(delays), "p50_ms": percentile(delays, 0.5) * 1000,
            "p99_ms": percentile(delays, 0.99) * 1000, "max_ms": max(delays) * 1000}


def measure(declarations: int, latency_rate: float, latency_seconds: float, scale: list[str],
            database_url: str, amqp_uri: str, rabbit_api_uri: str, with_campaign: bool = False) -> dict:
    with tempfile.TemporaryDirectory(prefix="carpimko-bench-") as tmp:
        run_args = [arg for s in scale for arg in ("--scale", s)]
        suite = RunningSuite(Path(tmp), amqp_uri, rabbit_api_uri, database_url,
                             extra_env={"CARPIMKO_LOG_LEVEL": "ERROR",
                                        "CARPIMKO_EMAIL_RATE_PER_SECOND": "0"},
                             run_args=run_args)
        suite.start()
        try:
            latency_members = int(latency_rate * latency_seconds * 1.3) + 10
            members = population.seed(suite.databases.url("accounts", migrate=False),
                                      suite.databases.url("contributions", migrate=False),
                                      declarations + latency_members, DEMO_PASSWORD)
            figures = {"scale": scale, "database": "PostgreSQL" if database_url else "SQLite"}
            if with_campaign:  # first: every member of the population gets the year's call
                figures["campaign"] = campaign(suite, members)
            if latency_seconds > 0:
                figures["latency"] = latency(suite, members[declarations:], latency_rate,
                                             latency_seconds)
            if declarations > 0:
                figures["throughput"] = throughput(suite, members[:declarations], Path(tmp))
        finally:
            suite.stop()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--declarations", type=int, default=20000)
    parser.add_argument("--latency-rate", type=float, default=10.0)
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--scale", action="append", default=[], metavar="SERVICE=N")
    add_suite_arguments(parser)
    parser.add_argument("--campaign", action="store_true",
                        help="first run `carpimko campaign yearly-call` over the whole population")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    figures = measure(args.declarations, args.latency_rate, args.latency_seconds, args.scale,
                      args.database_url, args.amqp_uri, args.rabbit_api_uri, args.campaign)
    if args.json:
        print(json.dumps(figures))
        return 0
    if "campaign" in figures:
        c = figures["campaign"]
        print(f"yearly-call campaign over {c['members']} members: command {c['command_seconds']:.1f} s, "
              f"all told after {c['chain_seconds']:.1f} s = {c['per_second']:.1f} members/s "
              f"({c['minutes_for_200000']:.0f} min for 200,000 at this rate), "
              f"{c['told_per_member']:.2f} emails or letters per member")
        for stage, ms in sorted(c["cpu_ms_per_member"].items(), key=lambda kv: -kv[1]):
            print(f"  {stage:<16} {ms:6.2f} ms CPU per member")
    if "latency" in figures:
        lat = figures["latency"]
        print(f"latency at {lat['rate']:g} declarations/s, {lat['samples']} samples: "
              f"p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms, max {lat['max_ms']:.0f} ms")
    if "throughput" in figures:
        tp = figures["throughput"]
        print(f"{tp['declarations']} declarations: published in {tp['import_seconds']:.1f} s, "
              f"all notified after {tp['chain_seconds']:.1f} s = {tp['per_second']:.1f} declarations/s")
        for stage, ms in sorted(tp["cpu_ms_per_declaration"].items(), key=lambda kv: -kv[1]):
            print(f"  {stage:<16} {ms:6.2f} ms CPU per declaration, "
                  f"{tp['cpu_share_of_a_core'][stage] * 100:4.0f} % of a core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
