"""Helpers for the fault tests: `complaints` processes that are always stopped, raw SQL on
either store, read-model rows as the database holds them, and bounded waiting."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx
import psycopg

from projections.catalogue import PROJECTIONS
from tests.faults.cluster import free_port
from tests.ops_support import cli_env

COMPLAINTS = str(Path(sys.executable).with_name("complaints"))
START_TIMEOUT = 60.0
T = TypeVar("T")
Rows = dict[str, list[tuple[Any, ...]]]


def run_cli(
    args: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = 120.0
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [COMPLAINTS, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"complaints {' '.join(args)}: {result.stderr[-3000:]}"
    return result


class Process:
    """A `complaints …` subprocess whose stderr and stdout go to a file; `stop()` always ends it."""

    def __init__(self, args: Sequence[str], env: dict[str, str], cwd: Path, name: str) -> None:
        self.log_path = cwd / f"{name}-{time.monotonic_ns()}.log"
        self._log: TextIO = self.log_path.open("w")
        self.popen = subprocess.Popen(
            [COMPLAINTS, *args], env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL, and reap it."""
        if self.alive():
            self.popen.send_signal(signal.SIGKILL)
        self.popen.wait(timeout=15)
        self._log.close()

    def stop(self, timeout: float = 20.0) -> int:
        """SIGTERM (SIGKILL after `timeout`); returns the exit status."""
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=15)
        self._log.close()
        return int(self.popen.returncode)

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")


def projector(env: dict[str, str], cwd: Path) -> Process:
    return Process(["project"], env, cwd, "project")


class Server(Process):
    """`complaints serve` on a free port of 127.0.0.1."""

    def __init__(self, env: dict[str, str], cwd: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        super().__init__([*args, "--workers", str(workers)], env, cwd, "serve")

    def wait_ready(self, timeout: float = START_TIMEOUT) -> None:
        def ready() -> bool:
            assert self.alive(), f"serve exited {self.popen.returncode}:\n{self.log()}"
            try:
                return httpx.get(f"{self.url}/health/ready", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, timeout, f"serve was not ready:\n{self.log()}")


def wait_until(
    condition: Callable[[], T | None], timeout: float, message: str = "", interval: float = 0.1
) -> T:
    """The first truthy value of `condition()`, polled until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {message}"[:6000])
        time.sleep(interval)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (from /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# ---- the stores, read with the drivers themselves -------------------------------------------


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def sql(url: str, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """One statement (`?` placeholders) in its own transaction; the rows it returned."""
    if is_sqlite(url):
        lite = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=20)
        with closing(lite), lite:
            return [tuple(row) for row in lite.execute(statement, tuple(params))]
    with psycopg.connect(url, connect_timeout=10) as connection:
        cursor = connection.execute(statement.replace("?", "%s"), tuple(params))
        return [tuple(row) for row in cursor.fetchall()] if cursor.description else []


def events_table(url: str) -> str:
    return "stored_events" if is_sqlite(url) else "complaints_events"


def position_column(url: str) -> str:
    return "rowid" if is_sqlite(url) else "notification_id"


def head(url: str) -> int:
    table, column = events_table(url), position_column(url)
    return int(sql(url, f"SELECT COALESCE(MAX({column}), 0) FROM {table}")[0][0])


def positions(url: str) -> dict[str, int]:
    """Each read model's position (an empty dict before the tracking table exists)."""
    try:
        rows = sql(url, "SELECT projection, position FROM projection_tracking")
    except (sqlite3.Error, psycopg.Error):
        return {}
    return {str(name): int(position) for name, position in rows}


def caught_up(url: str) -> bool:
    at = positions(url)
    target = head(url)
    return all(at.get(name) == target for name in PROJECTIONS)


def read_model_rows(url: str) -> Rows:
    """Every row of every read-model table, sorted, and each read model's position."""
    rows: Rows = {}
    for projection in PROJECTIONS.values():
        for table in projection.tables:
            rows[table] = sorted(sql(url, f"SELECT * FROM {table}"), key=repr)
    rows["positions"] = sorted(
        (name, position) for name, position in positions(url).items() if name in PROJECTIONS
    )
    return rows


def rebuilt_rows(url: str, cwd: Path) -> Rows:
    """The rows `complaints rebuild` leaves (run as a subprocess, as an operator would)."""
    run_cli(["rebuild"], cli_env(url), cwd)
    return read_model_rows(url)


def differences(live: Rows, rebuilt: Rows) -> dict[str, dict[str, Any]]:
    """Per table: how many rows only one side has, and a few examples."""
    found: dict[str, dict[str, Any]] = {}
    for table in sorted(set(live) | set(rebuilt)):
        mine, theirs = set(live.get(table, [])), set(rebuilt.get(table, []))
        if mine != theirs or len(live.get(table, [])) != len(rebuilt.get(table, [])):
            found[table] = {
                "only_live": sorted(mine - theirs, key=repr)[:5],
                "only_rebuilt": sorted(theirs - mine, key=repr)[:5],
                "rows": (len(live.get(table, [])), len(rebuilt.get(table, []))),
            }
    return found
