"""``carpimko documents render-pending``: draw and store every issued document
that was never read, through the documents service (RPC), a batch at a time.

Why an operator runs it: documents of the chain are drawn on first read, by
the layout version they were issued under (see
``services/documents/deferred.py``). Before deploying a change of
``rendering.LAYOUT_VERSION``, every document issued under the current one must
be drawn by the service still running it: run this until it says none is
left, then deploy."""
from __future__ import annotations

import sys

from nameko.standalone.rpc import ClusterRpcProxy

BATCH = 100


def render_pending(amqp_uri: str, batch: int = BATCH, timeout: float = 120, out=sys.stdout) -> int:
    """Ask the documents service for batches of ``batch`` until none is left;
    how many were drawn in all."""
    if isinstance(batch, bool) or not isinstance(batch, int) or not 1 <= batch <= 10_000:
        raise ValueError("--batch must be an integer from 1 to 10000")
    total = 0
    with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as rpc:
        while True:
            drawn = rpc.documents.render_pending(batch)
            total += drawn
            if drawn:
                print(f"{total} document(s) drawn and stored so far", file=out, flush=True)
            if drawn < batch:
                break
    print(f"done: {total} document(s) drawn; none left unread", file=out)
    return total
