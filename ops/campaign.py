"""``carpimko campaign yearly-call --year Y [--rate N/s]``: the yearly provisional call of every member.

The work is done by the contributions service (``services/contributions/campaigns.py``) over RPC, so each call
goes through the same reliable path as a declaration (assessment, outbox event, schedule, then documents and
notifications). This command only paces it: it opens the campaign, asks for the members still to call, sends
them in small batches (a few at once, so the service's workers and copies share them) at ``--rate`` members
per second at most, and shows a progress bar. Interrupted (Ctrl-C,
SIGTERM, a crash), it is resumed by running it again: members already done are not called twice.
"""
from __future__ import annotations

import re
import signal
from collections import deque
import sys
import time

from nameko.exceptions import RpcTimeout, UnknownService
from nameko.standalone.rpc import ClusterRpcProxy

import carpimko.errors  # noqa: F401 - registers the errors, so a refusal comes back as itself

BATCH_MAX = 50
PARALLEL = 4  # batches in flight at once (each is one worker of the contributions service)


def parse_rate(text: str | None) -> float | None:
    """``"20/s"`` or ``"20"`` -> 20.0 members per second; None or ``"0"``: as fast as the service goes."""
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(?:/\s*s)?\s*", text)
    if not match:
        raise ValueError(f"--rate {text!r}: expected a number of members per second, e.g. 20/s")
    rate = float(match.group(1))
    return rate or None


class _Stop(Exception):
    pass


def run(amqp_uri: str, year: int, rate: float | None = None, progress: bool = True, as_of: str | None = None,
        timeout: float = 60, parallel: int = PARALLEL, out=sys.stderr) -> int:
    from tqdm import tqdm

    def stop(signum, frame):
        raise _Stop()

    previous_term = signal.signal(signal.SIGTERM, stop)
    batch = BATCH_MAX if rate is None else max(1, min(BATCH_MAX, int(rate) // parallel or 1))
    issued = already = 0
    started = None
    try:
        with ClusterRpcProxy({"AMQP_URI": amqp_uri}, timeout=timeout) as rpc:
            view = rpc.contributions.campaign_start(year)
            cid, pending = view["campaign_id"], view["pending"]
            print(f"{cid}: {view['members_total']} member(s), {view['done']} already done, "
                  f"{len(pending)} to call", file=out)
            bar = tqdm(total=view["members_total"], initial=view["done"], unit="member", disable=not progress,
                       file=out)
            started = time.monotonic()
            sent = 0
            in_flight: deque = deque()

            def collect():
                nonlocal issued, already
                chunk, reply = in_flight.popleft()
                outcomes = reply.result()
                issued += sum(1 for o in outcomes.values() if o == "issued")
                already += sum(1 for o in outcomes.values() if o == "already_called")
                bar.update(len(chunk))

            try:
                for start in range(0, len(pending), batch):
                    chunk = pending[start:start + batch]
                    # up to ``parallel`` batches at once: the service's workers (and copies) share them
                    in_flight.append((chunk, rpc.contributions.campaign_call.call_async(cid, chunk, as_of)))
                    sent += len(chunk)
                    if len(in_flight) >= parallel:
                        collect()
                    if rate:
                        ahead = sent / rate - (time.monotonic() - started)
                        if ahead > 0:
                            time.sleep(ahead)
                while in_flight:
                    collect()
            finally:
                bar.close()
            final = rpc.contributions.campaign_finish(cid)
    except (UnknownService, RpcTimeout) as exc:
        print(f"the contributions service does not answer ({type(exc).__name__}): {issued} call(s) issued in "
              f"this run; start the service and run the same command again to resume", file=out)
        return 1
    except (KeyboardInterrupt, _Stop):
        print(f"interrupted: {issued} call(s) issued in this run; run the same command again to resume",
              file=out)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous_term)
    print(f"{issued} call(s) issued, {already} member(s) already called, {final['not_affiliated']} not yet "
          f"affiliated in total; campaign "
          f"{'finished' if final['finished_at'] else 'not finished'} ({final['done']}/{final['members_total']})")
    return 0 if final["finished_at"] else 1
