"""The benchmark's CPU accounting (bench/cpu.py): what each process group spent during a load
run and only then, a process started meanwhile counted from zero, and the arithmetic."""

from __future__ import annotations

import subprocess
import sys
import time

from bench.cpu import cpu_seconds, cpu_used, named, per_request, tree

BUSY = "import time\nend = time.process_time() + {0}\nwhile time.process_time() < end: pass"
SPAWNS = "import subprocess, sys\nsubprocess.run([sys.executable, '-c', {spin!r}])"


def test_a_busy_child_is_counted_in_its_parents_tree_and_not_in_the_parent_alone() -> None:
    spin = BUSY.format(0.4) + "\ntime.sleep(30)"
    parent = subprocess.Popen([sys.executable, "-c", SPAWNS.format(spin=spin)])
    try:
        with cpu_used({"tree": tree(parent.pid), "parent": lambda: [parent.pid]}) as used:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(
                cpu_seconds(child) >= 0.4 for child in tree(parent.pid)()[1:]
            ):
                time.sleep(0.05)
        assert used["tree"] >= 0.3
        assert used["parent"] < used["tree"] - 0.2
    finally:
        for pid in tree(parent.pid)()[1:]:
            subprocess.run(["kill", "-9", str(pid)], check=False)
        parent.kill()
        parent.wait()


def test_only_the_cpu_spent_inside_the_block_is_counted() -> None:
    spinner = subprocess.Popen([sys.executable, "-c", BUSY.format(0.4) + "\ntime.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while cpu_seconds(spinner.pid) < 0.4 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cpu_seconds(spinner.pid) >= 0.4  # spent before the block
        with cpu_used({"spinner": lambda: [spinner.pid]}) as used:
            time.sleep(0.2)  # it sleeps now
        assert used["spinner"] < 0.1
    finally:
        spinner.kill()
        spinner.wait()


def test_a_process_is_found_by_its_command_name() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        deadline = time.monotonic() + 5  # until the child has become `sleep` (exec)
        while sleeper.pid not in named("sleep")() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert sleeper.pid in named("sleep")()
        assert sleeper.pid not in named("not-a-command")()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert cpu_seconds(sleeper.pid) == 0.0  # gone


def test_per_request_divides_by_requests_and_counts_the_cores_kept_busy() -> None:
    shares = per_request({"api": 2.0, "postgres": 1.0}, requests=1000, seconds=2.0)
    assert shares == {"api_ms": 2.0, "postgres_ms": 1.0, "total_ms": 3.0, "cores_busy": 1.5}
    assert per_request({"api": 1.0}, requests=0, seconds=0)["cores_busy"] == 0.0
