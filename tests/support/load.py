"""Run the locust scenario against a running suite and read its figures.

Three sets of figures come out of one run:

- the whole run, from locust's own statistics (``requests``, ``p99_ms``,
  ``by_endpoint``...: ramp-up and logins included, as before);
- ``logins``: ``POST /api/v1/session`` alone (argon2 runs on every one);
- ``steady``: every request that ended after the last member had logged in
  plus ``warmup`` seconds, when 50 members browse and nobody logs in: the
  dashboard figure of record. Computed from each request's end time and
  duration (``CARPIMKO_LOAD_SAMPLES``, see ``tests/load/locustfile.py``).
"""
from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOGIN = "POST /api/v1/session"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for no value)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(n * q), at least 1
    return float(ordered[int(rank) - 1])


def summary(samples: list[tuple[float, str, float, int]], seconds: float) -> dict:
    """Counts and percentiles of ``(end, name, ms, ok)`` samples, overall and by name."""
    def figures(rows):
        times = [ms for _, _, ms, _ in rows]
        return {"requests": len(rows), "failures": sum(1 for r in rows if not r[3]),
                "rps": len(rows) / seconds if seconds > 0 else 0.0,
                "p50_ms": percentile(times, 0.50), "p95_ms": percentile(times, 0.95),
                "p99_ms": percentile(times, 0.99), "max_ms": max(times, default=0.0)}
    names = sorted({s[1] for s in samples})
    return {**figures(samples), "seconds": seconds,
            "by_endpoint": {n: figures([s for s in samples if s[1] == n]) for n in names}}


def split(samples: list[tuple[float, str, float, int]], users: int, warmup: float) -> dict:
    """The logins, and the steady state: requests ending ``warmup`` seconds or
    more after the ``users``-th successful login ended (the last member in),
    none of them a login. ``steady`` is None when fewer than ``users`` logins
    succeeded or nothing is left after the warm-up."""
    samples = sorted(samples)
    logins = [s for s in samples if s[1] == LOGIN]
    out = {"logins": summary(logins, 0.0), "steady": None}
    del out["logins"]["rps"], out["logins"]["by_endpoint"], out["logins"]["seconds"]
    succeeded = [s for s in logins if s[3]]
    if len(succeeded) < users or not samples:
        return out
    start = succeeded[users - 1][0] + warmup
    steady = [s for s in samples if s[0] >= start and s[1] != LOGIN]
    if steady:
        out["steady"] = summary(steady, samples[-1][0] - start)
        out["steady"]["warmup_seconds"] = warmup
        out["steady"]["starts_after_seconds"] = start - samples[0][0]
    return out


def read_samples(path: Path) -> list[tuple[float, str, float, int]]:
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        return [(float(r["end"]), r["name"], float(r["ms"]), int(r["ok"]))
                for r in csv.DictReader(fh)]


def run_locust(host: str, users: int, spawn_rate: float, duration: str, workdir: Path,
               env: dict | None = None, warmup: float = 5.0) -> dict:
    prefix = workdir / "locust"
    samples_path = workdir / "locust_samples.csv"
    run_env = dict(os.environ, **(env or {}), CARPIMKO_LOAD_SAMPLES=str(samples_path))
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "tests/load/locustfile.py"), "--headless",
         "-u", str(users), "-r", str(spawn_rate), "-t", duration, "--host", host,
         "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
        cwd=ROOT, capture_output=True, text=True, env=run_env, timeout=3600)
    with open(f"{prefix}_stats.csv", newline="") as fh:
        rows = {row["Name"]: row for row in csv.DictReader(fh)}
    total = rows["Aggregated"]
    failures_path = Path(f"{prefix}_failures.csv")
    failures = list(csv.DictReader(failures_path.open())) if failures_path.exists() else []
    return {
        "users": users,
        "spawn_rate": spawn_rate,
        "requests": int(total["Request Count"]),
        "failures": int(total["Failure Count"]),
        "rps": float(total["Requests/s"]),
        "p50_ms": float(total["50%"]),
        "p95_ms": float(total["95%"]),
        "p99_ms": float(total["99%"]),
        "by_endpoint": {name: {"requests": int(r["Request Count"]), "failures": int(r["Failure Count"]),
                               "p50_ms": float(r["50%"]), "p95_ms": float(r["95%"]),
                               "p99_ms": float(r["99%"]), "rps": float(r["Requests/s"])}
                        for name, r in rows.items() if name != "Aggregated"},
        **split(read_samples(samples_path), users, warmup),
        "failure_details": failures,
        "exit_code": result.returncode,
        "stderr": result.stderr[-3000:],
    }
