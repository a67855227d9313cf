"""Setting up the tables: processes that start at once take turns, on either store."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from api.settings import Settings

# Names "a process setting up its tables" among PostgreSQL advisory locks. The read store
# also takes a lock of its own (projections.store.READ_MODEL_SCHEMA_LOCK) around each of its
# schema transactions, for processes that set up read models alone (a rebuild).
PROCESS_SETUP_LOCK = 0x436F6D7073636D  # "Compscm"


@contextmanager
def schema_guard(settings: Settings) -> Iterator[None]:
    """Serialises table creation between processes starting at once (replicas, the worker):
    PostgreSQL's CREATE ... IF NOT EXISTS is not safe against a concurrent twin."""
    if not settings.is_postgres:
        # SQLite refuses at once ("database is locked") a twin switching the file to WAL or
        # creating tables at the same moment; a file lock beside the database makes them queue.
        settings.prepare_sqlite_folder()  # a fresh clone has no ./var yet
        with open(f"{settings.sqlite_path}.schema.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield
        return
    with psycopg.connect(settings.postgres_conninfo(), autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (PROCESS_SETUP_LOCK,))
        yield
