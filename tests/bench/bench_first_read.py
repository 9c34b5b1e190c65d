"""The documents service's own CPU for reading a document rendered on first
read: the first read (draw the snapshot, hash, write and fsync the file)
against a later read (read the stored file back, check its hash), per
document, in one process, CPU time. The RPC and the row's UPDATE around both
are the same and are not counted.

    PYTHONPATH=. python tests/bench/bench_first_read.py [--documents 300]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from services.documents import deferred  # noqa: E402
from services.documents.storage import FilesystemStore  # noqa: E402
from tests.unit.documents.test_deferred import KINDS, pending_of  # noqa: E402

KEY = b"bench-verification-key"


def main() -> dict:
    parser = argparse.ArgumentParser()
    parser.add_argument("--documents", type=int, default=300)
    args = parser.parse_args()
    kinds = sorted(KINDS)
    pendings = []
    for n in range(args.documents):
        kind = kinds[n % len(kinds)]

        def data_of(block, kind=kind, n=n):  # distinct documents: distinct members
            data = KINDS[kind](block)
            data["member"]["full_name"] = f"Mme Claire MARTIN {n}"
            return data
        pendings.append(pending_of(deferred.issue(kind, "t", 2026, data_of, KEY,
                                                  "https://espace.carpimko.test")))
    with tempfile.TemporaryDirectory() as folder:
        store = FilesystemStore(folder)
        deferred.render(pendings[0], KEY)  # warm the font caches, as a running service has
        started = time.process_time()
        digests = [store.put(deferred.render(p, KEY)) for p in pendings]
        first = (time.process_time() - started) / len(pendings)
        started = time.process_time()
        for digest in digests:
            store.get(digest)
        later = (time.process_time() - started) / len(pendings)
    result = {"documents": len(pendings), "first_read_cpu_ms": round(first * 1000, 2),
              "later_read_cpu_ms": round(later * 1000, 3)}
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
