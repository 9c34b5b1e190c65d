"""The contributions write path alone: SQL statements and CPU per declaration, batched as in the chain.

``--members`` members (as the chain benchmark's population: affiliated in 2010, three in four
conventionnés) each declare their 2025 income; the events go through the service's own
``on_income_declared`` in batches of ``--batch`` (the chain's batch size under load), one
transaction per batch, on PostgreSQL (a scratch database, created and dropped) and without a
broker. With ``--history`` every member first gets the provisional calls of 2025 and 2026 (as the
yearly-call campaign gives them), so the declaration replaces calls instead of issuing first ones.

Prints, per declaration: SQL statements (counted with a ``before_cursor_execute`` listener, by
kind and table), CPU of this process and of its PostgreSQL backends (``/proc``, so PostgreSQL must
run on this machine), and wall time. ``--profile FILE`` writes a cProfile (CPU clock) of the
batches. Calls nothing but the service's entrypoint, so it runs unchanged on older commits.

Usage: python tests/bench/bench_contributions.py --database-url postgresql://postgres@127.0.0.1/postgres
       [--members 1000] [--batch 50] [--history] [--profile FILE] [--json]
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


def run(database_url: str, members: int, batch: int, history: bool, profile: str | None) -> dict:
    from sqlalchemy import create_engine, event, insert, text

    from carpimko import migrations
    from carpimko.db import Database
    from carpimko.events import new_event, parse_event
    from services.contributions import campaigns
    from services.contributions.models import Contributor
    from services.contributions.service import ContributionsService

    scratch = f"bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {scratch}"))
    url = database_url.rsplit("/", 1)[0] + "/" + scratch
    try:
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
        now = datetime.now(timezone.utc)
        events = [parse_event(new_event(
            "income_declared",
            {"declaration_id": str(uuid.uuid4()), "year": YEAR,
             "professional_income": Decimal(18000 + (i * 7919) % 90000),
             "conventioned_income": None, "source": "batch", "declared_at": now},
            member_id=n, correlation_id=None)) for i, n in enumerate(numbers)]
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
        event.listen(db.engine, "before_cursor_execute", count)
        profiler = None
        if profile:
            import cProfile
            profiler = cProfile.Profile(time.process_time)
        pg_before, cpu_before, wall_before = _backend_cpu(pids), time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        for start in range(0, members, batch):
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
        return {"members": members, "batch": batch, "history": history,
                "statements_per_declaration": sum(counts.values()) / members,
                "statements": {k: round(v / members, 2) for k, v in counts.most_common()},
                "cpu_ms_per_declaration": cpu / members * 1000,
                "postgresql_cpu_ms_per_declaration": pg / members * 1000,
                "wall_ms_per_declaration": wall / members * 1000,
                "outbox_rows": outbox_rows, "assessments": assessments}
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {scratch} WITH (FORCE)"))
        admin.dispose()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("CARPIMKO_TEST_DATABASE_URL"))
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--history", action="store_true", help="provisional calls of 2025 and 2026 first")
    parser.add_argument("--profile", default=None, help="write a cProfile of the batches to this file")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not args.database_url or not args.database_url.startswith("postgresql"):
        parser.error("a PostgreSQL --database-url (or CARPIMKO_TEST_DATABASE_URL) is needed")
    figures = run(args.database_url, args.members, args.batch, args.history, args.profile)
    if args.json:
        print(json.dumps(figures))
        return 0
    print(f"{figures['members']} declarations in batches of {figures['batch']}"
          f"{' (members with provisional calls)' if figures['history'] else ''}: "
          f"{figures['statements_per_declaration']:.1f} SQL statements, "
          f"{figures['cpu_ms_per_declaration']:.2f} ms CPU (this process), "
          f"{figures['postgresql_cpu_ms_per_declaration']:.2f} ms CPU (PostgreSQL), "
          f"{figures['wall_ms_per_declaration']:.2f} ms wall per declaration; "
          f"{figures['assessments']} assessments, {figures['outbox_rows']} outbox rows")
    for kind, per in figures["statements"].items():
        print(f"  {per:6.2f}  {kind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
