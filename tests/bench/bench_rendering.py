"""Render time of the contribution statement (not a test: a plain script).

    .venv/bin/python tests/bench/bench_rendering.py [count]

Renders `count` (default 200) distinct one-page statements after a short
warm-up and prints the mean and the 95th percentile of the wall time of
`render_contribution_statement` (validation + jinja2 + z3c.rml layout + PDF).
Target: under 50 ms per statement.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.documents.rendering import render_contribution_statement, render_letter  # noqa: E402

WARMUP = 5


def statement(index: int) -> dict:
    income = 20000 + 137 * index
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
        "verification_code": f"VC-{index:06d}" if index % 3 == 0 else None,
    }


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, round(fraction * len(sorted_values) + 0.5))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    for index in range(WARMUP):
        render_contribution_statement(statement(index))
    render_letter({
        "file_number": "7654321",
        "member": {"full_name": "M. Jean Dupont", "address_lines": ["3 chemin du Moulin", "29200 Brest"]},
        "issued_on": "2026-11-28", "subject": "Un nouveau document est disponible",
        "document_label": "Relevé de cotisations 2026", "portal_url": "http://127.0.0.1:8000",
    })

    timings = []
    size = 0
    for index in range(count):
        data = statement(index)
        start = time.perf_counter()
        pdf = render_contribution_statement(data)
        timings.append((time.perf_counter() - start) * 1000)
        size += len(pdf)
    timings.sort()

    try:
        import _rl_accel  # noqa: F401
        accel = "rl-accel C extension"
    except ImportError:
        accel = "pure-Python reportlab accelerators"
    print(f"{count} statements ({accel}), average size {size / count / 1024:.1f} KiB")
    print(f"mean {statistics.mean(timings):.1f} ms   p95 {percentile(timings, 0.95):.1f} ms   "
          f"min {timings[0]:.1f} ms   max {timings[-1]:.1f} ms")


if __name__ == "__main__":
    main()
