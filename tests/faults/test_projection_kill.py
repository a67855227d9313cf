"""`complaints project` killed (SIGKILL) at random moments while it catches up, on SQLite.

PostgreSQL is covered by tests/projections/test_project_process.py (the same scenario), so this
runs on SQLite only: there the write lock, the WAL and the projector's `flock` are what a
killed process leaves behind.

The log holds 1500 seeded complaints (about 4700 events) and no read model yet. A worker is
started; as soon as it has committed progress it is killed after a random few milliseconds,
mid-batch or between batches, and started again, several times. The last worker runs to the
head and stops cleanly. Its rows must be exactly those `complaints rebuild` builds from scratch:
nothing lost, nothing counted twice.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest

from projections.catalogue import PROJECTIONS
from tests.faults.harness import (
    caught_up,
    cli_env,
    differences,
    head,
    positions,
    projector,
    read_model_rows,
    rebuilt_rows,
    run_cli,
    wait_until,
)

CASES = 1500
KILLS = 3  # kills that must land after some progress and before the end
MAX_STARTS = 8
PROGRESS_TIMEOUT = 60.0
CATCH_UP_TIMEOUT = 90.0


@pytest.fixture
def seeded(sqlite_url: str, tmp_path: Path) -> str:
    run_cli(["seed", "--cases", str(CASES), "--seed", "7"], cli_env(sqlite_url), tmp_path, 180)
    return sqlite_url


def _progress(url: str, since: dict[str, int]) -> dict[str, int] | None:
    """The positions once some read model has moved past `since` (or None)."""
    now = positions(url)
    moved = any(now.get(name, 0) > since.get(name, 0) for name in PROJECTIONS)
    return now if moved else None


def _start_and_kill(url: str, env: dict[str, str], cwd: Path, rng: random.Random) -> dict[str, int]:
    """Starts a worker, SIGKILLs it 0-30 ms after it has committed some progress; returns the
    positions it left."""
    before = positions(url)
    worker = projector(env, cwd)
    try:
        wait_until(
            lambda: worker.popen.poll() is not None or _progress(url, before),
            PROGRESS_TIMEOUT,
            "the worker made no progress",
            interval=0.005,
        )
        assert worker.alive(), f"the worker exited:\n{worker.log()[-3000:]}"
        time.sleep(rng.uniform(0.0, 0.03))
    finally:
        worker.kill()
    return positions(url)


def test_a_worker_killed_at_random_moments_leaves_the_rows_of_a_clean_rebuild(
    seeded: str, tmp_path: Path
) -> None:
    url = seeded
    target = head(url)
    assert target > 3000, target
    seed = int(os.environ.get("COMPLAINTS_FAULT_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    env = cli_env(url, projections="external")
    kills: list[dict[str, int]] = []  # positions after each kill that left work undone
    for _ in range(MAX_STARTS):
        after = _start_and_kill(url, env, tmp_path, rng)
        if all(after.get(name) == target for name in PROJECTIONS):
            break  # it finished before the kill: that start does not count
        kills.append(after)
        if len(kills) >= KILLS:
            break
    assert len(kills) >= KILLS, (
        f"only {len(kills)} kills landed mid-way (seed {seed}): {kills}; the log is too short "
        "for this machine"
    )

    print(f"seed {seed}; positions after each kill: {kills}; head {target}")
    final = projector(env, tmp_path)
    try:
        wait_until(lambda: caught_up(url), CATCH_UP_TIMEOUT, "the last worker did not catch up")
        assert final.alive()
    finally:
        status = final.stop()
    assert status == 0, f"SIGTERM did not stop the worker cleanly:\n{final.log()[-3000:]}"
    assert "Traceback" not in final.log(), final.log()[-3000:]

    live = read_model_rows(url)
    assert len(live["case_list"]) == CASES
    rebuilt = rebuilt_rows(url, tmp_path)
    assert differences(live, rebuilt) == {}, f"seed {seed}, kills at {kills}"
    assert live == rebuilt
