"""The contributions write path alone: SQL statements and CPU per declaration, batched as in the chain.

``--members`` members (as the chain benchmark's population: affiliated in 2010, three in four
conventionnés) each declare their 2025 income; the events go through the service's own
``on_income_declared`` in batches of ``--batch`` (the chain's batch size under load), one
transaction per batch, on PostgreSQL (a scratch database, created and dropped) and without a
broker. With ``--history`` every member first gets the provisional calls of 2025 and 2026 (as the
yearly-call campaign gives them), so the declaration replaces calls instead of issuing first ones.

With ``--broker``, the whole stage instead, as the chain runs it: the service started as ``make run`` starts
it (``python -m ops.serve contributions``, its own RabbitMQ vhost), the events published to its queue, the
clock stopped once every call is assessed and its outbox published; the CPU is the service process's (nameko,
the batch handler, the outbox relay and its publisher confirms) and its PostgreSQL backends', from ``/proc``.
The service's day is then today's, not the fixed one.

With ``--campaign``, the yearly-call campaign instead: every member (with a declaration of 2024, so the
provisional call of 2026 is on income) called through the service's ``campaign_call`` in batches of ``--batch``
(as ``carpimko campaign yearly-call`` sends them); the figures are then per member called.

Prints, per declaration: SQL statements (counted with a ``before_cursor_execute`` listener, by
kind and table), CPU of this process and of its PostgreSQL backends (``/proc``, so PostgreSQL must
run on this machine), and wall time. ``--profile FILE`` writes a cProfile (CPU clock) of the
batches. Calls nothing but the service's entrypoint, so it runs unchanged on older commits.

Usage: python tests/bench/bench_contributions.py --database-url postgresql://postgres@127.0.0.1/postgres
       [--members 1000] [--batch 50] [--history] [--campaign] [--profile FILE] [--broker] [--json]
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import re
import sys
import time
import uuid
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

YEAR = 2025
TODAY = date(2026, 11, 28)  # the chain benchmark's day when this was written: Y+1 is the current year
TICKS = os.sysconf("SC_CLK_TCK")


def _backend_cpu(pids) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def _kind(statement: str) -> str:
    """``INSERT outbox``, ``SELECT contributors``, ``SAVEPOINT``...: what a statement is, in two words."""
    words = statement.split(None, 1)
    verb = words[0].upper() if words else "?"
    if verb in {"SAVEPOINT", "RELEASE", "ROLLBACK"}:
        return verb
    pattern = {"INSERT": r"INTO\s+(\w+)", "UPDATE": r"UPDATE\s+(\w+)", "DELETE": r"FROM\s+(\w+)",
               "SELECT": r"FROM\s+(\w+)"}.get(verb)
    match = re.search(pattern, statement, re.I) if pattern else None
    return f"{verb} {match.group(1) if match else '?'}"


def _scratch_database(database_url: str, members: int, history: bool):
    """A fresh contributions database with ``members`` contributors (and their provisional calls);
    (admin engine, scratch name, its URL, the income_declared envelopes)."""
    from sqlalchemy import create_engine, insert, text

    from carpimko import migrations
    from carpimko.db import Database
    from carpimko.events import new_event
    from services.contributions import campaigns
    from services.contributions.models import Contributor

    scratch = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {scratch}"))
    url = database_url.rsplit("/", 1)[0] + "/" + scratch
    migrations.upgrade("contributions", url)
    db = Database(url, pool_size=2)
    numbers = [str(3_000_000 + i) for i in range(members)]
    with db.transaction() as session:
        session.execute(insert(Contributor), [
            dict(file_number=n, profession="infirmier", conventionne=int(n) % 4 != 0,
                 affiliation_date=date(2010, 1, 1)) for n in numbers])
    if history:
        for year in (YEAR, YEAR + 1):
            with db.transaction() as session:
                cid = campaigns.start(session, year)["campaign_id"]
            for n in numbers:
                with db.transaction() as session:
                    campaigns.call_member(session, cid, n, date(year, 1, 2))
    db.dispose()
    now = datetime.now(timezone.utc)
    envelopes = [new_event(
        "income_declared",
        {"declaration_id": str(uuid.uuid4()), "year": YEAR,
         "professional_income": Decimal(18000 + (i * 7919) % 90000),
         "conventioned_income": None, "source": "batch", "declared_at": now},
        member_id=n, correlation_id=None) for i, n in enumerate(numbers)]
    return admin, scratch, url, envelopes


def _drop(admin, scratch: str) -> None:
    from sqlalchemy import text
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE {scratch} WITH (FORCE)"))
    admin.dispose()


def _seed_declarations(url: str, numbers: list[str], year: int) -> None:
    """A declaration of ``year`` for each member (Core, no assessment): what their provisional calls use."""
    from sqlalchemy import insert

    from carpimko.db import Database
    from services.contributions.models import Declaration

    db = Database(url, pool_size=1)
    now = datetime.now(timezone.utc)
    with db.transaction() as session:
        session.execute(insert(Declaration), [
            dict(id=str(uuid.uuid4()), file_number=n, year=year,
                 professional_income=Decimal(18000 + (i * 7919) % 90000), conventioned_income=None, source="batch", declared_at=now, recorded_at=now)
            for i, n in enumerate(numbers)])
    db.dispose()


def run(database_url: str, members: int, batch: int, history: bool, profile: str | None,
        campaign: bool = False) -> dict:
    from sqlalchemy import event, text

    from carpimko.db import Database
    from carpimko.events import parse_event
    from services.contributions.service import ContributionsService

    admin, scratch, url, envelopes = _scratch_database(database_url, members, history)
    try:
        db = Database(url, pool_size=2)
        events = [parse_event(envelope) for envelope in envelopes]
        service = SimpleNamespace(db=db, outbox=SimpleNamespace(nudge=lambda: None),
                                  _today=lambda as_of=None: TODAY)

        counts: collections.Counter = collections.Counter()

        def count(conn, cursor, statement, parameters, context, executemany):
            counts[_kind(statement)] += 1

        with admin.connect() as conn:
            db.engine.dispose()
            # warm the pool so that its backends exist, and find them
            with db.engine.connect() as c1, db.engine.connect() as c2:
                c1.execute(text("SELECT 1")), c2.execute(text("SELECT 1"))
            pids = [row[0] for row in conn.execute(
                text("SELECT pid FROM pg_stat_activity WHERE datname = :d"), {"d": scratch})]
        with db.transaction() as session:
            outbox_before = session.scalar(text("SELECT count(*) FROM outbox"))
        numbers = [envelope["member_id"] for envelope in envelopes]
        cid = None
        if campaign:
            from services.contributions import campaigns
            _seed_declarations(url, numbers, YEAR - 1)
            with db.transaction() as session:
                cid = campaigns.start(session, TODAY.year)["campaign_id"]
        event.listen(db.engine, "before_cursor_execute", count)
        profiler = None
        if profile:
            import cProfile
            profiler = cProfile.Profile(time.process_time)
        pg_before, cpu_before, wall_before = _backend_cpu(pids), time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for start in range(0, members, batch):
            if campaign:
                outcomes = ContributionsService.campaign_call(service, cid, numbers[start:start + batch])
                assert set(outcomes.values()) == {"issued"}, outcomes
            else:
                ContributionsService.on_income_declared(service, events[start:start + batch])
        if profiler:
            profiler.disable()
            profiler.dump_stats(profile)
        wall = time.perf_counter() - wall_before
        cpu = time.process_time() - cpu_before
        pg = _backend_cpu(pids) - pg_before
        event.remove(db.engine, "before_cursor_execute", count)
        with db.transaction() as session:
            outbox_rows = session.scalar(text("SELECT count(*) FROM outbox")) - outbox_before
            assessments = session.scalar(text("SELECT count(*) FROM assessments"))
        db.dispose()
        return {"members": members, "batch": batch, "history": history, "campaign": campaign,
                "statements_per_declaration": sum(counts.values()) / members,
                "statements": {k: round(v / members, 2) for k, v in counts.most_common()},
                "cpu_ms_per_declaration": cpu / members * 1000,
                "postgresql_cpu_ms_per_declaration": pg / members * 1000,
                "wall_ms_per_declaration": wall / members * 1000,
                "outbox_rows": outbox_rows, "assessments": assessments}
    finally:
        _drop(admin, scratch)


def run_broker(database_url: str, members: int, history: bool, amqp_uri: str, api_uri: str) -> dict:
    """The service process on the broker (see the module): CPU per declaration of the stage."""
    import signal
    import subprocess
    import tempfile
    from urllib.parse import urlparse

    import requests
    from sqlalchemy import create_engine, text

    from carpimko import broker
    from carpimko.broker import EventPublisher

    admin, scratch, url, envelopes = _scratch_database(database_url, members, history)
    vhost = f"bench_{uuid.uuid4().hex[:8]}"
    api = api_uri.rstrip("/")
    user = urlparse(amqp_uri).username or "guest"
    requests.put(f"{api}/api/vhosts/{vhost}", timeout=10).raise_for_status()
    requests.put(f"{api}/api/permissions/{vhost}/{user}", json={"configure": ".*", "write": ".*", "read": ".*"},
                 timeout=10).raise_for_status()
    u = urlparse(amqp_uri)
    amqp = f"{u.scheme}://{u.netloc}/{vhost}"
    watcher = create_engine(url, pool_size=1)
    proc = None
    try:
        with watcher.connect() as conn:
            own = conn.execute(text("SELECT pg_backend_pid()")).scalar()
            before_assessments = conn.execute(text("SELECT count(*) FROM assessments")).scalar()
            conn.commit()
        queue = broker.queue_name("income_declared", "contributions", "on_income_declared")
        with tempfile.TemporaryDirectory() as tmp:
            env = dict(os.environ, CARPIMKO_AMQP_URI=amqp, CARPIMKO_CONTRIBUTIONS_DATABASE_URL=url,
                       CARPIMKO_DATA_DIR=tmp, CARPIMKO_LOG_LEVEL="WARNING", PYTHONPATH=str(ROOT))
            proc = subprocess.Popen([sys.executable, "-m", "ops.serve", "contributions"], cwd=ROOT, env=env)
            deadline = time.monotonic() + 60
            while True:  # consuming: the queue has its consumer
                response = requests.get(f"{api}/api/queues/{vhost}/{queue}", timeout=10)
                if response.ok and response.json().get("consumers"):
                    break
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit("the contributions service did not start")
                time.sleep(0.3)
            time.sleep(2)  # idle

            def backends():
                with watcher.connect() as conn:
                    return [row[0] for row in conn.execute(
                        text("SELECT pid FROM pg_stat_activity WHERE datname = :d AND pid != :own"),
                        {"d": scratch, "own": own})]

            pg_before = {pid: _backend_cpu([pid]) for pid in backends()}
            cpu_before = _backend_cpu([proc.pid])
            started = time.perf_counter()
            publisher = EventPublisher(amqp)
            for start in range(0, len(envelopes), 500):
                publisher.publish_many(envelopes[start:start + 500])
            publisher.close()
            wanted = before_assessments + 2 * members
            while True:
                with watcher.connect() as conn:
                    done = conn.execute(text("SELECT count(*) FROM assessments")).scalar()
                    pending = conn.execute(text("SELECT count(*) FROM outbox WHERE status = 'pending'")).scalar()
                if done >= wanted and pending == 0:
                    break
                if proc.poll() is not None or time.perf_counter() - started > 1800:
                    raise SystemExit("the contributions service stopped or did not finish")
                time.sleep(0.2)
            wall = time.perf_counter() - started
            cpu = _backend_cpu([proc.pid]) - cpu_before
            pg = sum(_backend_cpu([pid]) - pg_before.get(pid, 0.0) for pid in backends())
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=60)
            proc = None
        return {"members": members, "history": history, "broker": True,
                "cpu_ms_per_declaration": cpu / members * 1000,
                "postgresql_cpu_ms_per_declaration": pg / members * 1000,
                "wall_ms_per_declaration": wall / members * 1000}
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()
        watcher.dispose()
        requests.delete(f"{api}/api/vhosts/{vhost}", timeout=10)
        _drop(admin, scratch)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("CARPIMKO_TEST_DATABASE_URL"))
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--history", action="store_true", help="provisional calls of 2025 and 2026 first")
    parser.add_argument("--campaign", action="store_true",
                        help="the yearly-call campaign's calls instead of declarations (see above)")
    parser.add_argument("--profile", default=None, help="write a cProfile of the batches to this file")
    parser.add_argument("--broker", action="store_true", help="the service process on RabbitMQ (see above)")
    parser.add_argument("--amqp-uri", default="pyamqp://guest:guest@localhost:5672/")
    parser.add_argument("--rabbit-api-uri", default="http://guest:guest@localhost:15672")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("a PostgreSQL --database-url (or CARPIMKO_TEST_DATABASE_URL) is needed")
    if args.broker:
        figures = run_broker(args.database_url, args.members, args.history, args.amqp_uri, args.rabbit_api_uri)
        print(json.dumps(figures) if args.json else
              f"{figures['members']} declarations through the contributions service on RabbitMQ"
              f"{' (members with provisional calls)' if figures['history'] else ''}: "
              f"{figures['cpu_ms_per_declaration']:.2f} ms CPU (the service process), "
              f"{figures['postgresql_cpu_ms_per_declaration']:.2f} ms CPU (its PostgreSQL backends), "
              f"{figures['wall_ms_per_declaration']:.2f} ms wall per declaration")
        return 0
    figures = run(args.database_url, args.members, args.batch, args.history, args.profile, args.campaign)
    if args.json:
        print(json.dumps(figures))
        return 0
    if args.campaign:
        what, each = "members called by the yearly-call campaign", "member"
    else:
        what, each = "declarations", "declaration"
    print(f"{figures['members']} {what} in batches of {figures['batch']}"
          f"{' (members with provisional calls)' if figures['history'] else ''}: "
          f"{figures['statements_per_declaration']:.2f} SQL statements "
          f"({figures['statements_per_declaration'] * figures['batch']:.0f} a batch), "
          f"{figures['cpu_ms_per_declaration']:.2f} ms CPU (this process), "
          f"{figures['postgresql_cpu_ms_per_declaration']:.2f} ms CPU (PostgreSQL), "
          f"{figures['wall_ms_per_declaration']:.2f} ms wall per {each}; "
          f"{figures['assessments']} assessments, {figures['outbox_rows']} outbox rows")
    for kind, per in figures["statements"].items():
        print(f"  {per:6.2f}  {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
