"""Which process projects, and how it hears about new events.

PostgreSQL: the active worker holds a session advisory lock on a connection of its own, which
also LISTENs on the channel the event store NOTIFYs on every write; a standby keeps trying the
lock and takes over within a second of the holder's death (the server frees the lock when the
session ends). SQLite: an exclusive `flock` on a file beside the database elects one process
among the API's workers; writes in this process wake the runner at once, other processes' writes
are seen within the poll interval.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import time
from pathlib import Path
from typing import IO, Any

import psycopg

from projections.runner import Coordinator

log = logging.getLogger("complaints.projections")

# An arbitrary constant that names "the projection worker" among advisory locks.
ADVISORY_LOCK_KEY = 0x436F6D706C61  # "Compla"
# The leader's session is checked at most this often, not before every batch: a round trip
# per batch is a share of a fresh read model's delay under load. A session lost in between
# is found by the next check (or the next wait); meanwhile a second runner may have started,
# which costs work and no harm: each batch claims its positions (`claim_tracking`).
LEAD_CHECK_SECONDS = 1.0


class SQLiteCoordinator(Coordinator):
    def __init__(self, database_path: str, *, poll_seconds: float = 0.5) -> None:
        self.lock_path = Path(f"{database_path}.projector.lock")
        self.poll_seconds = poll_seconds
        self._lock_file: IO[str] | None = None
        self._woken = threading.Event()

    def wake(self, _: int = 0) -> None:
        self._woken.set()

    def lead(self) -> bool:
        if self._lock_file is not None:
            return True
        handle = self.lock_path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self._lock_file = handle
        log.info("projecting in process %d", os.getpid())
        return True

    def wait(self, timeout: float) -> None:
        self._woken.wait(min(timeout, self.poll_seconds))
        self._woken.clear()

    def close(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing releases the flock
            self._lock_file = None


class PostgresCoordinator(Coordinator):
    def __init__(self, conninfo: str, channel: str) -> None:
        self.conninfo = conninfo
        self.channel = channel
        self._connection: psycopg.Connection[Any] | None = None
        self._leading = False
        self._checked_at = 0.0  # when the session holding the lock was last seen alive

    def _connect(self) -> psycopg.Connection[Any]:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self.conninfo, autocommit=True)
            self._connection.execute(f'LISTEN "{self.channel}"')
            self._leading = False
        return self._connection

    def lead(self) -> bool:
        try:
            connection = self._connect()
            if not self._leading:
                row = connection.execute(
                    "SELECT pg_try_advisory_lock(%s)", (ADVISORY_LOCK_KEY,)
                ).fetchone()
                self._leading = bool(row and row[0])
                if self._leading:
                    log.info("projecting in process %d (advisory lock held)", os.getpid())
                self._checked_at = time.monotonic()
            elif time.monotonic() - self._checked_at >= LEAD_CHECK_SECONDS:
                connection.execute("SELECT 1")  # the lock lives as long as this session
                self._checked_at = time.monotonic()
        except psycopg.Error:
            self._drop()
        return self._leading

    def wait(self, timeout: float) -> None:
        try:
            for _ in self._connect().notifies(timeout=timeout, stop_after=1):
                break
        except psycopg.Error:
            self._drop()

    def _drop(self) -> None:
        self._leading = False
        if self._connection is not None:
            with contextlib.suppress(psycopg.Error):
                self._connection.close()
        self._connection = None

    def close(self) -> None:
        self._drop()
