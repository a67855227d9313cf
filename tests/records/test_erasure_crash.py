"""Erasure killed (SIGKILL) at random moments: each complaint is wholly erased or untouched.

docs/DOMAIN.md part C: the keys are destroyed in the erasure event's own transaction. A child
process (this module run with `python -m`) erases many resolved complaints one after another
through the service; it is killed a few milliseconds after it has committed some, again and
again, then left to finish. After every kill, each complaint is either erased (its
PersonalDataErased event recorded AND its three keys NULL, its fields reading as null) or not
(no such event AND its keys intact AND its fields reading in clear): never an event without
destroyed keys, nor keys destroyed without the event. The log's chains still verify.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from api.app import build_complaints
from domain.records import ERASURE_TOPIC
from tests.ops_support import cli_env, is_sqlite, raw_sql, run_cli
from tests.records import (
    ERASE,
    RECORDS_MANAGER,
    in_clear,
    lodge_resolved,
    new_marker,
    personal_values,
    settings_for,
)
from tests.support import MASTER_KEY

ROOT = Path(__file__).resolve().parents[2]
CASES = 120
KILLS = 8
MIDWAY_KILLS = 4  # kills that must land after some erasures and before the last
PROGRESS_TIMEOUT = 60.0
PARTS = ["complainant", "narrative", "subject"]


def erase_all(database_url: str, ids_file: str) -> None:
    """The child: erases every complaint listed that is not erased yet, one per transaction."""
    complaints = build_complaints(settings_for(database_url, os.environ["COMPLAINTS_MASTER_KEY"]))
    for line in Path(ids_file).read_text().split():
        complaint_id = UUID(line)
        if complaints.get_complaint(complaint_id).erased is None:
            complaints.act(complaint_id, ERASE, actor=RECORDS_MANAGER)
            print(f"erased {complaint_id}", flush=True)
    complaints.close()


@pytest.fixture
def resolved(database_url: str, tmp_path: Path) -> dict[UUID, str]:
    """Resolved complaints: id -> the marker in its personal fields."""
    complaints = build_complaints(settings_for(database_url, MASTER_KEY))
    try:
        markers = [new_marker() for _ in range(CASES)]
        return {lodge_resolved(complaints, marker): marker for marker in markers}
    finally:
        complaints.close()


def start_eraser(database_url: str, ids_file: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.records.test_erasure_crash", database_url, str(ids_file)],
            env=cli_env(database_url),
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def erasures_logged(log: Path) -> int:
    return log.read_bytes().count(b"erased ")


def kill_after_progress(process: subprocess.Popen[bytes], log: Path, rng: random.Random) -> bool:
    """SIGKILLs the eraser 0-25 ms after it has committed an erasure; True if it was still
    running then (the kill landed mid-run rather than after the last erasure)."""
    deadline = time.monotonic() + PROGRESS_TIMEOUT
    while erasures_logged(log) == 0 and process.poll() is None:
        assert time.monotonic() < deadline, f"no erasure within {PROGRESS_TIMEOUT}s"
        time.sleep(0.002)
    time.sleep(rng.uniform(0.0, 0.025))
    alive = process.poll() is None
    if alive:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert alive or process.returncode == 0, log.read_text(errors="replace")[-3000:]
    return alive


def wait_for_the_dead(database_url: str) -> None:
    """PostgreSQL: until the killed client's backend is gone (it rolls back what it held)."""
    if is_sqlite(database_url):
        return
    others = (
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid()"
    )
    deadline = time.monotonic() + 30
    while raw_sql(database_url, others)[0][0] and time.monotonic() < deadline:
        time.sleep(0.02)


def stored_state(database_url: str) -> tuple[dict[UUID, int], dict[UUID, dict[str, bool]]]:
    """In one snapshot: erasure events per complaint, and each key row's "destroyed" flag."""
    events = f"SELECT originator_id FROM {_events_table(database_url)} WHERE topic = ?"
    keys = "SELECT complaint_id, part, wrapped IS NULL FROM complaint_keys"
    if is_sqlite(database_url):
        lite = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=20)
        try:
            lite.execute("BEGIN")  # one read transaction: one snapshot of the WAL
            found = lite.execute(events, (ERASURE_TOPIC,)).fetchall()
            rows = lite.execute(keys).fetchall()
        finally:
            lite.close()
    else:
        with psycopg.connect(database_url) as connection:
            connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            found = connection.execute(events.replace("?", "%s"), (ERASURE_TOPIC,)).fetchall()
            rows = connection.execute(keys).fetchall()
    erasures: dict[UUID, int] = {}
    for (originator,) in found:
        complaint_id = UUID(str(originator))
        erasures[complaint_id] = erasures.get(complaint_id, 0) + 1
    destroyed: dict[UUID, dict[str, bool]] = {}
    for owner, part, gone in rows:
        if part in PARTS:
            destroyed.setdefault(UUID(str(owner)), {})[part] = bool(gone)
    return erasures, destroyed


def _events_table(database_url: str) -> str:
    return "stored_events" if is_sqlite(database_url) else "complaints_events"


def assert_all_or_nothing(database_url: str, resolved: dict[UUID, str]) -> set[UUID]:
    """Each complaint erased wholly or not at all; returns the erased ones."""
    wait_for_the_dead(database_url)
    erasures, destroyed = stored_state(database_url)
    erased = {cid for cid in resolved if erasures.get(cid)}
    broken: dict[UUID, Any] = {}
    for complaint_id in resolved:
        flags = destroyed.get(complaint_id, {})
        expected = dict.fromkeys(PARTS, complaint_id in erased)
        if flags != expected or erasures.get(complaint_id, 0) > 1:
            broken[complaint_id] = (erasures.get(complaint_id, 0), flags)
    assert not broken, f"half-erased complaints (erasure events, key destroyed): {broken}"
    complaints = build_complaints(settings_for(database_url, MASTER_KEY))
    try:
        for complaint_id, marker in resolved.items():
            wanted = dict.fromkeys(in_clear(marker)) if complaint_id in erased else in_clear(marker)
            assert personal_values(complaints, complaint_id) == wanted, complaint_id
    finally:
        complaints.close()
    return erased


def test_erasure_killed_at_random_moments_is_all_or_nothing(
    database_url: str, resolved: dict[UUID, str], tmp_path: Path
) -> None:
    rng = random.Random(os.getpid())
    ids_file = tmp_path / "ids.txt"
    ids_file.write_text("\n".join(str(cid) for cid in resolved))
    midway = 0
    erased: set[UUID] = set()
    for attempt in range(KILLS):
        log = tmp_path / f"eraser-{attempt}.log"
        was_running = kill_after_progress(start_eraser(database_url, ids_file, log), log, rng)
        now_erased = assert_all_or_nothing(database_url, resolved)
        assert erased <= now_erased  # an erasure once committed stays
        if was_running and 0 < len(now_erased) < CASES:
            midway += 1
        erased = now_erased
    assert midway >= MIDWAY_KILLS, f"only {midway} kills landed mid-run"

    # Left alone, a last run erases the rest.
    log = tmp_path / "eraser-last.log"
    last = start_eraser(database_url, ids_file, log)
    assert last.wait(timeout=120) == 0, log.read_text(errors="replace")[-3000:]
    assert assert_all_or_nothing(database_url, resolved) == set(resolved)
    verified = run_cli(["verify"], cli_env(database_url), tmp_path)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "valid" in verified.stdout


if __name__ == "__main__":
    erase_all(sys.argv[1], sys.argv[2])
