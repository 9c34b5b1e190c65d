"""Blocking work that must not stall a green (eventlet) process."""
from __future__ import annotations

import os


def in_thread(func, *args):
    """Run ``func(*args)`` in a real OS thread when eventlet runs the process
    (its result or exception comes back here), else directly. For calls that
    block or burn CPU in C with the GIL released (fsync, argon2): on the green
    hub they would stop every other worker of the service meanwhile."""
    from eventlet import patcher, tpool
    if patcher.is_monkey_patched("thread"):
        return tpool.execute(func, *args)
    return func(*args)


def fsync(fd: int) -> None:
    """``os.fsync`` off the green hub (see :func:`in_thread`)."""
    in_thread(os.fsync, fd)


class Slots:
    """At most ``size`` calls of :func:`in_thread` at once; a caller waits at
    most ``wait`` seconds for a slot, then gets
    :class:`~carpimko.errors.Overloaded`.

    Why: real threads take CPU-bound work (argon2) off the green hub, but
    twenty logins at once would then run twenty hashes on two cores, and
    every other request of the machine would wait behind them. Near the core
    count, the hashes queue here instead, and a queue longer than the
    caller's patience answers "overloaded" at once rather than a timeout."""

    def __init__(self, size: int, wait: float):
        if size < 1:
            raise ValueError("Slots needs a size of at least 1")
        self.size = size
        self.wait = wait
        self._semaphore = None

    def run(self, func, *args):
        semaphore = self._ensure()
        if not semaphore.acquire(timeout=self.wait):
            from .errors import Overloaded
            raise Overloaded(f"no free slot for {getattr(func, '__name__', 'work')} "
                             f"within {self.wait:g} s ({self.size} at once)")
        try:
            return in_thread(func, *args)
        finally:
            semaphore.release()

    def _ensure(self):
        # made at first use: green once eventlet has patched the process
        if self._semaphore is None:
            from eventlet import patcher
            if patcher.is_monkey_patched("thread"):
                from eventlet.semaphore import Semaphore
                self._semaphore = Semaphore(self.size)
            else:
                import threading
                self._semaphore = threading.Semaphore(self.size)
        return self._semaphore
