"""Micro-benchmark of the event machinery (``carpimko.events``): ``new_event`` and ``parse_event`` per type.

Why: every event is validated by its producer (``new_event``) and by each consumer (``parse_event``); on the
main chain this is a visible share of the services' CPU (docs/benchmarks.md). The payloads are the ones the
test factories build (``tests/support/factories.py``), captured as the factories pass them to ``new_event``,
so the figures follow the contracts as they are. ``parse_event`` is given the JSON round trip of a built
event, as a consumer receives it. One process, one thread; prints the best of ``--rounds`` rounds, in
milliseconds per call.

Usage: python tests/bench/bench_events.py [--count 2000] [--rounds 5]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from carpimko import events  # noqa: E402
from tests.support import factories  # noqa: E402

FILE_NUMBER = "1234567"


def captured_calls() -> dict[str, tuple[tuple, dict]]:
    """``(args, kwargs)`` of the ``new_event`` call each factory makes, by event type."""
    calls: dict[str, tuple[tuple, dict]] = {}
    real = factories.new_event

    def recording(*args, **kwargs):
        calls[args[0]] = (args, kwargs)
        return real(*args, **kwargs)

    factories.new_event = recording
    try:
        factories.income_declared(FILE_NUMBER)
        factories.contributions_recalculated(FILE_NUMBER, previous_total="9000.00")
        factories.schedule_changed(FILE_NUMBER)
        factories.document_generated(FILE_NUMBER, also_issued=("Avis de régularisation 2026",))
    finally:
        factories.new_event = real
    return calls


def best_ms(call, count: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(count):
            call()
        best = min(best, time.perf_counter() - start)
    return best / count * 1000


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)

    print(f"{'event type':<28} {'new_event ms':>13} {'parse_event ms':>15}")
    for etype, (cargs, ckwargs) in captured_calls().items():
        body = json.loads(json.dumps(events.new_event(*cargs, **ckwargs)))
        new_ms = best_ms(lambda: events.new_event(*cargs, **ckwargs), args.count, args.rounds)
        parse_ms = best_ms(lambda: events.parse_event(body), args.count, args.rounds)
        print(f"{etype:<28} {new_ms:>13.3f} {parse_ms:>15.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
