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
