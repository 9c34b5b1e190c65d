"""Benchmark of the pure contribution calculation on one core (issue #5: target >= 20,000 member-years/s).

A "member-year" is one full yearly cycle computation for one member and one year: the regularised assessment on
the year's own income (``cycle.yearly_call(..., "regularised", ...)``, i.e. every scheme, ceilings, floors, rounding)
plus its 12 monthly instalments (``schedule.build_schedule``). Incomes are drawn at random (seeded) between
0 and 300,000 euros with cents; a quarter of the members are conventionnés, 5 % have declared nothing (5 PASS).
Runs in a single process, single thread; prints the best of ``--rounds`` rounds.

With ``--service N``, also measures the contributions service layer without the broker: N members' yearly call
recalculated through ``declarations.assess_declared_income`` (inbox claim, assessment with its lines, the schedule
respread, two events staged in the outbox), one transaction per member, on a fresh database (SQLite in a
temporary folder, or ``--database-url`` for PostgreSQL: a scratch database is created and dropped).

Usage: python tests/bench/bench_calculation.py [--members 100000] [--rounds 3] [--service 5000]
       [--database-url postgresql://postgres@127.0.0.1/postgres]
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.contributions.domain import cycle, schedule  # noqa: E402
from services.contributions.domain.parameters import available_years, load_parameters  # noqa: E402


def population(count: int, seed: int = 2026):
    rng = random.Random(seed)
    years = available_years()
    members = []
    for _ in range(count):
        year = rng.choice(years)
        income = None if rng.random() < 0.05 else Decimal(rng.randrange(0, 30_000_000)) / 100
        members.append((year, income, rng.random() < 0.25))
    return members


def run(members) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process): on a shared machine the CPU time is the fair figure."""
    params = {year: load_parameters(year) for year in available_years()}
    started, cpu = time.perf_counter(), time.process_time()
    for year, income, conventionne in members:
        call = cycle.yearly_call(params[year], "regularised", {year: income}, conventionne)
        schedule.build_schedule(year, "monthly", call.total)
    return time.perf_counter() - started, time.process_time() - cpu


def run_service(count: int, database_url: str | None) -> float:
    import tempfile
    import uuid
    from datetime import date, datetime, timezone

    from carpimko import migrations
    from carpimko.db import Database
    from carpimko.events import new_event, parse_event
    from services.contributions import declarations
    from services.contributions.models import Contributor

    with tempfile.TemporaryDirectory() as tmp:
        scratch = None
        if database_url:
            from sqlalchemy import create_engine, text
            scratch = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f"CREATE DATABASE {scratch}"))
            url = database_url.rsplit("/", 1)[0] + "/" + scratch
        else:
            url = f"sqlite:///{tmp}/contributions.db"
        try:
            migrations.upgrade("contributions", url)
            db = Database(url, pool_size=2)
            numbers = [f"{1000000 + i}" for i in range(count)]
            with db.transaction() as session:
                session.add_all(Contributor(file_number=n, profession="infirmier", conventionne=i % 4 == 0,
                                            affiliation_date=date(2010, 1, 1)) for i, n in enumerate(numbers))
            rng = random.Random(7)
            now = datetime.now(timezone.utc)
            events = [parse_event(new_event(
                "income_declared",
                {"declaration_id": str(uuid.uuid4()), "year": 2026,
                 "professional_income": Decimal(rng.randrange(0, 20_000_000)) / 100,
                 "conventioned_income": None, "source": "batch", "declared_at": now},
                member_id=n)) for n in numbers]
            as_of = date(2026, 6, 1)
            started = time.perf_counter()
            for event in events:
                with db.transaction() as session:
                    declarations.assess_declared_income(session, event, as_of=as_of)
            elapsed = time.perf_counter() - started
            db.dispose()
            return elapsed
        finally:
            if scratch:
                with admin.connect() as conn:
                    conn.execute(text(f"DROP DATABASE {scratch}"))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--service", type=int, default=0, help="members recalculated through the service layer")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    members = population(args.members)
    rounds = [run(members) for _ in range(args.rounds)]
    wall = min(r[0] for r in rounds)
    cpu = min(r[1] for r in rounds)
    if args.json:  # for tests/bench/run.py
        import json
        figures = {"member_years": args.members, "per_second_wall": args.members / wall,
                   "per_cpu_second": args.members / cpu}
        if args.service:
            figures["service_members_per_second"] = args.service / run_service(args.service,
                                                                               args.database_url)
        print(json.dumps(figures))
        return 0
    print(f"pure calculation: {args.members} member-years, best of {args.rounds}: {wall:.2f} s wall "
          f"= {args.members / wall:,.0f} member-years/s; {cpu:.2f} s CPU = {args.members / cpu:,.0f} "
          f"member-years per CPU-second on one core (target >= 20,000)")
    if args.service:
        elapsed = run_service(args.service, args.database_url)
        where = "PostgreSQL" if args.database_url else "SQLite"
        print(f"service layer ({where}, no broker): {args.service} yearly calls recalculated in {elapsed:.2f} s "
              f"= {args.service / elapsed:,.0f} members/s, one transaction each; 200,000 members "
              f"= {200_000 / (args.service / elapsed) / 60:.1f} min at this rate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
