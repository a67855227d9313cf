"""Helpers for the operations tests: raw SQL on the stores, the `complaints` command as a
subprocess, and `complaints serve` processes that are always stopped.

Raw SQL is how the tests tamper with stored rows or plant idempotency claims: statements use `?`
placeholders and run on SQLite (a file) or PostgreSQL alike.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO

import httpx
import psycopg

from tests.support import JWT_SECRET, MASTER_KEY

COMPLAINTS = str(Path(sys.executable).parent / "complaints")
CLI_TIMEOUT = 60.0
START_TIMEOUT = 30.0


def is_sqlite(database_url: str) -> bool:
    return database_url.startswith("sqlite:")


def raw_sql(database_url: str, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Runs one statement in its own transaction; returns the rows it produced (if any)."""
    if is_sqlite(database_url):
        lite = sqlite3.connect(database_url.removeprefix("sqlite:///"), timeout=10)
        try:
            with lite:
                return [tuple(row) for row in lite.execute(statement, tuple(params)).fetchall()]
        finally:
            lite.close()
    with psycopg.connect(database_url, autocommit=False) as connection:
        cursor = connection.execute(statement.replace("?", "%s"), tuple(params))
        rows = cursor.fetchall() if cursor.description else []
        connection.commit()
        return [tuple(row) for row in rows]


def event_count(database_url: str) -> int:
    table = "stored_events" if is_sqlite(database_url) else "complaints_events"
    return int(raw_sql(database_url, f"SELECT count(*) FROM {table}")[0][0])


@contextmanager
def connections_refused(admin_url: str, database_url: str) -> Iterator[None]:
    """The PostgreSQL database of `database_url` is unreachable (an outage) inside the block."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
        )
        try:
            yield
        finally:
            admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')


def cli_env(database_url: str | None = None, **settings: str) -> dict[str, str]:
    """This process's environment without any COMPLAINTS_ setting (nor a terminal width, so
    that output is laid out as in a container's log), plus the given settings."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("COMPLAINTS_", "PROMETHEUS_")) and key not in ("COLUMNS", "LINES")
    }
    env["COMPLAINTS_JWT_SECRET"] = JWT_SECRET
    env["COMPLAINTS_MASTER_KEY"] = MASTER_KEY
    if database_url is not None:
        env["COMPLAINTS_DATABASE_URL"] = database_url
    env |= {f"COMPLAINTS_{key.upper()}": value for key, value in settings.items()}
    return env


def run_cli(
    args: Sequence[str], env: dict[str, str], cwd: Path, timeout: float = CLI_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """`complaints ARGS` to completion (killed, and the test failed, after `timeout`)."""
    return subprocess.run(
        [COMPLAINTS, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Server:
    """One `complaints serve` process; its stderr goes to a file that tests read."""

    def __init__(self, env: dict[str, str], cwd: Path, *extra: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = cwd / f"serve-{self.port}.log"
        self._log: TextIO = self.log_path.open("w")
        self.process = subprocess.Popen(
            [COMPLAINTS, "serve", "--host", "127.0.0.1", "--port", str(self.port), *extra],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=self._log,
        )

    def wait_live(self, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited {self.process.returncode}: {self.log()}")
            try:
                if httpx.get(f"{self.url}/health/live", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"serve did not come up in {timeout}s: {self.log()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


@contextmanager
def serving(env: dict[str, str], cwd: Path, count: int = 1, *extra: str) -> Iterator[list[Server]]:
    """`count` servers on one database, each answering /health/live; stopped afterwards."""
    servers: list[Server] = []
    try:
        for _ in range(count):
            servers.append(Server(env, cwd, *extra))
        for server in servers:
            server.wait_live()
        yield servers
    finally:
        for server in servers:
            server.stop()
