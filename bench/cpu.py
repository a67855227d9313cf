"""Where the cores went during a load run: CPU seconds of the API's workers, the projection
worker and PostgreSQL, each per request answered.

A ratio to a ceiling says how far off a figure is; this says why. On a machine of two cores,
a load run that keeps both busy is bounded by the CPU every request costs across all the
processes serving it, whatever the latency of any one of them.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.load import LoadResult, children

TICKS = os.sysconf("SC_CLK_TCK")
# A process group: a name, and how to find its processes (asked before and after the run).
Group = Callable[[], list[int]]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time a process has spent so far (0 for one that is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def tree(pid: int) -> Group:
    """A process and its descendants (uvicorn's supervisor and its workers)."""
    return lambda: [pid, *children(pid)]


def named(name: str) -> Group:
    """Every process of a command name (PostgreSQL's server and its backends)."""

    def find() -> list[int]:
        found = []
        for entry in Path("/proc").iterdir():
            try:
                if entry.name.isdigit() and (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                continue
        return found

    return find


@contextmanager
def cpu_used(groups: dict[str, Group]) -> Iterator[dict[str, float]]:
    """CPU seconds each group spent inside the block, filled in when it ends. A process that
    starts during the block counts from zero; one that ends during it is not counted."""
    before = {name: {pid: cpu_seconds(pid) for pid in find()} for name, find in groups.items()}
    used: dict[str, float] = {}
    yield used
    for name, find in groups.items():
        pids = set(find()) | set(before[name])
        used[name] = sum(max(0.0, cpu_seconds(p) - before[name].get(p, 0.0)) for p in pids)


def per_request(used: dict[str, float], requests: int, seconds: float) -> dict[str, float]:
    """Milliseconds of CPU per request answered, by group and in all, and the cores kept busy."""
    shares = {f"{name}_ms": 1000 * spent / max(requests, 1) for name, spent in used.items()}
    return shares | {
        "total_ms": sum(shares.values()),  # the shares' own sum, to the last digit
        "cores_busy": sum(used.values()) / seconds if seconds else 0.0,
    }


def accounted(groups: dict[str, Group], run: Callable[[], LoadResult]) -> LoadResult:
    """`run()`, a load run, with what its requests cost each group in `extra["cpu"]`."""
    started = time.monotonic()
    with cpu_used(groups) as used:
        result = run()
    result.extra["cpu"] = per_request(used, result.requests, time.monotonic() - started)
    return result
