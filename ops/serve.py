"""Run one service (one copy) in this process, until SIGTERM or Ctrl-C.

SIGTERM drains: the container stops taking new messages, lets in-flight
workers finish for up to ``CARPIMKO_SHUTDOWN_TIMEOUT`` seconds (default 20),
then kills what is left (unacked messages are redelivered to another copy).
"""
from __future__ import annotations

import carpimko.green  # noqa: F401 - first: eventlet monkey patching

import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402

import eventlet  # noqa: E402
from nameko.runners import ServiceRunner  # noqa: E402

from carpimko import config, logs  # noqa: E402

from .registry import service_class  # noqa: E402

log = logging.getLogger("carpimko.serve")


def _profiler(name: str):
    """``CARPIMKO_PROFILE_DIR`` set: profile this process (cProfile) and write
    ``<dir>/<name>-<pid>.prof`` when it stops (see docs/benchmarks.md).

    The clock is the process's CPU time, not the wall clock: on a machine
    shared with other work, wall-clock timings include the time the process
    waited for a core, and under eventlet the time greenlets waited for I/O;
    CPU time is what each function costs."""
    folder = os.environ.get("CARPIMKO_PROFILE_DIR")
    if not folder:
        return None
    import cProfile
    import time
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    return lambda: (profiler.disable(), os.makedirs(folder, exist_ok=True),
                    profiler.dump_stats(os.path.join(folder, f"{name}-{os.getpid()}.prof")))


def serve(name: str) -> int:
    logs.setup(name)
    stop_profiling = _profiler(name)
    settings = config.load()
    if name == "documents" and not settings.verification_key:
        log.error("CARPIMKO_VERIFICATION_KEY is not set: the documents service derives the "
                  "verification codes of its documents from it (a long random secret, the "
                  "same for every copy, never changed while documents are unread)")
        return 2
    db_service = name if name != "gateway" else None
    runner = ServiceRunner(settings.nameko_config(db_service))
    runner.add_service(service_class(name))
    stop_requested = eventlet.event.Event()

    def on_signal(signum, _frame):
        if not stop_requested.ready():
            stop_requested.send(signum)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.start()
    log.info("%s started (pid %d)", name, os.getpid())
    parent = int(os.environ.get("CARPIMKO_PARENT_PID", "0") or 0)
    if parent:
        def watch_parent():  # started by the runner: do not outlive it
            while not stop_requested.ready():
                if os.getppid() != parent:
                    log.warning("%s: the runner is gone; stopping", name)
                    stop_requested.send(signal.SIGTERM)
                    return
                eventlet.sleep(1)
        eventlet.spawn(watch_parent)
    stop_requested.wait()
    timeout = float(os.environ.get("CARPIMKO_SHUTDOWN_TIMEOUT", "20"))
    log.info("%s stopping (draining up to %.0fs)", name, timeout)
    try:
        with eventlet.Timeout(timeout):
            runner.stop()
    except eventlet.Timeout:
        log.warning("%s: in-flight work did not finish in %.0fs; killing", name, timeout)
        runner.kill()
    log.info("%s stopped", name)
    if stop_profiling:
        stop_profiling()
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
