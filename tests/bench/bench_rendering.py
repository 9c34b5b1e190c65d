"""Rendering throughput of the contribution statement (not a test: a plain script).

    .venv/bin/python tests/bench/bench_rendering.py [count] [--json]

Renders `count` (default 500) distinct one-page statements, each with its own
verification code and QR code, fonts embedded, in ONE process (one core),
after a short warm-up, and prints:

* statements per second (wall time and CPU time of the process: on a shared
  machine the CPU figure is the one-core capacity),
* mean and 95th percentile per statement,
* peak resident memory of the process (ru_maxrss) and the peak of Python
  allocations during one render (tracemalloc, measured separately).

Target (issue #7): at least 100 statements/s on one core.
"""

from __future__ import annotations

import resource
import secrets
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.documents.rendering import render_contribution_statement, render_letter  # noqa: E402

WARMUP = 10


def statement(index: int) -> dict:
    income = 20000 + 137 * index
    code = "-".join(secrets.token_hex(8).upper()[i:i + 4] for i in range(0, 16, 4))
    return {
        "file_number": f"{1000000 + index}",
        "member": {
            "full_name": f"Mme Claire Martin-{index}",
            "address_lines": [f"{index % 90 + 1} rue des Lilas", "69003 Lyon"],
        },
        "year": 2026,
        "status": "regularised" if index % 2 else "provisional",
        "issued_on": "2026-11-28",
        "income_used": f"{income}.00",
        "income_declared": index % 5 != 0,
        "lines": [
            {"scheme": "rb_t1", "label": "Régime de base – tranche 1", "base": f"{income}.00",
             "rate": "8.73", "fixed": "0.00", "amount": "3492.00"},
            {"scheme": "rb_t2", "label": "Régime de base – tranche 2", "base": f"{income}.00",
             "rate": "1.87", "fixed": "0.00", "amount": "748.00"},
            {"scheme": "rc", "label": "Régime complémentaire", "base": f"{income}.00",
             "rate": "8.70", "fixed": "0.00", "amount": "3480.00"},
            {"scheme": "asv", "label": "Avantage social vieillesse (ASV)", "base": f"{income}.00",
             "rate": "0.40", "fixed": "224.00", "amount": "384.00"},
            {"scheme": "id", "label": "Invalidité-décès", "base": None, "rate": None,
             "fixed": "1022.00", "amount": "1022.00"},
        ],
        "total": "9126.00",
        "parameters_version": "2026.1",
        "notes": ["Vos revenus 2026 ont été déclarés le 12/05/2026.",
                  "La part ASV financée par l’Assurance maladie n’est pas à votre charge."],
        "verification": {"code": code, "url": f"https://espace.carpimko.example/verify/{code}"},
    }


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def main() -> None:
    as_json = "--json" in sys.argv
    args = [a for a in sys.argv[1:] if a != "--json"]
    count = int(args[0]) if args else 500
    for index in range(WARMUP):
        render_contribution_statement(statement(index))
    render_letter({
        "file_number": "7654321",
        "member": {"full_name": "M. Jean Dupont", "address_lines": ["3 chemin du Moulin", "29200 Brest"]},
        "issued_on": "2026-11-28", "subject": "Un nouveau document est disponible",
        "document_label": "Relevé de cotisations 2026", "portal_url": "http://127.0.0.1:8000",
    })

    data = [statement(index) for index in range(count)]
    timings = []
    size = 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for item in data:
        start = time.perf_counter()
        pdf = render_contribution_statement(item)
        timings.append((time.perf_counter() - start) * 1000)
        size += len(pdf)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    timings.sort()
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    tracemalloc.start()
    render_contribution_statement(data[0])
    _, peak_alloc = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    if as_json:  # for tests/bench/run.py
        import json
        print(json.dumps({"statements": count, "per_second_wall": count / wall,
                          "per_second_cpu": count / cpu, "p95_ms": percentile(timings, 0.95),
                          "peak_rss_mib": peak_rss_mib, "peak_alloc_kib": peak_alloc / 1024}))
        return
    try:
        import _rl_accel  # noqa: F401
        accel = "rl-accel C extension"
    except ImportError:
        accel = "pure-Python reportlab accelerators"
    print(f"{count} statements with QR code, fonts embedded ({accel}), "
          f"average size {size / count / 1024:.1f} KiB")
    print(f"throughput {count / wall:.0f} statements/s (wall)   "
          f"{count / cpu:.0f} statements/s (CPU time, one core)")
    print(f"per statement: mean {statistics.mean(timings):.2f} ms   "
          f"median {statistics.median(timings):.2f} ms   "
          f"p95 {percentile(timings, 0.95):.2f} ms   min {timings[0]:.2f} ms   "
          f"max {timings[-1]:.2f} ms")
    print(f"peak memory: {peak_rss_mib:.0f} MiB resident (whole process)   "
          f"{peak_alloc / 1024:.0f} KiB Python allocations for one statement")


if __name__ == "__main__":
    main()
