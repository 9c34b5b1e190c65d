"""Run the locust scenario against a running suite and read its figures."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_locust(host: str, users: int, spawn_rate: int, duration: str, workdir: Path,
               env: dict | None = None) -> dict:
    prefix = workdir / "locust"
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "tests/load/locustfile.py"), "--headless",
         "-u", str(users), "-r", str(spawn_rate), "-t", duration, "--host", host,
         "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=3600)
    with open(f"{prefix}_stats.csv", newline="") as fh:
        rows = {row["Name"]: row for row in csv.DictReader(fh)}
    total = rows["Aggregated"]
    failures_path = Path(f"{prefix}_failures.csv")
    failures = list(csv.DictReader(failures_path.open())) if failures_path.exists() else []
    return {
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
        "failure_details": failures,
        "exit_code": result.returncode,
        "stderr": result.stderr[-3000:],
    }
