"""Durable file writes that do not stall a green (eventlet) process."""
from __future__ import annotations

import os


def fsync(fd: int) -> None:
    """``os.fsync`` in a real OS thread when eventlet runs the process: the
    call blocks for milliseconds, and would otherwise stop every other worker
    of the service while the disk catches up."""
    from eventlet import patcher, tpool
    if patcher.is_monkey_patched("thread"):
        tpool.execute(os.fsync, fd)
    else:
        os.fsync(fd)
