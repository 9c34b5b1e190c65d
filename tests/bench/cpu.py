"""Where the CPU goes: CPU seconds used by each process of the suite, and by
RabbitMQ and PostgreSQL, between two snapshots (Linux ``/proc``).

Used by the benchmarks to name the slowest stage from measurement, not guess:
a stage whose process burns close to one core per second of the run is the
bottleneck (one nameko process runs Python on one core at most)."""
from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS  # ppid, utime+stime


def _name(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    args = [a.decode(errors="replace") for a in argv if a]
    text = " ".join(args)
    if "beam.smp" in text:
        return "rabbitmq"
    if text.startswith("postgres") or "/postgresql/" in text.split(" ")[0]:
        return "postgresql"
    if "ops.serve" in args:
        return args[args.index("ops.serve") + 1]
    for marker in ("services.", "gateway", "smtp_sink", "franceconnect", "deploy/run.py", "ops.cli"):
        if marker in text:
            for arg in args:
                if marker in arg:
                    name = arg.split(":")[0]
                    return name.replace("services.", "").replace(".service", "")
    return os.path.basename(args[0]) if args else "?"


def snapshot(root: int) -> dict[str, float]:
    """CPU seconds so far of the processes under ``root`` (by name, copies
    summed), RabbitMQ and PostgreSQL."""
    stats = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                stats[int(entry)] = stat
    def under_root(pid: int) -> bool:
        while pid > 1:
            if pid == root:
                return True
            pid = stats.get(pid, (0, 0))[0]
        return False
    totals: dict[str, float] = {}
    for pid, (_, seconds) in stats.items():
        name = _name(pid)
        if under_root(pid) or name in ("rabbitmq", "postgresql"):
            totals[name] = totals.get(name, 0.0) + seconds
    return totals


def usage(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {name: after[name] - before.get(name, 0.0) for name in after
            if after[name] - before.get(name, 0.0) > 0.005}
