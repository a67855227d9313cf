"""Where read models keep their rows: the event store's own database, SQLite or PostgreSQL.

Projections write SQL once, with `?` placeholders and the common subset of both dialects
(`INSERT … ON CONFLICT … DO UPDATE`, `RETURNING`); this module adapts it. Each projection's
position lives in `projection_tracking`, updated in the same transaction as its rows, which is
what makes a projection exactly-once: a batch either lands with its position or not at all.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from typing import Any, Protocol

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import ConnectionPool


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...
    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...
    def executemany(self, sql: str, params: Sequence[Sequence[Any]], /) -> Any: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def key_in(self, column: str, keys: Sequence[Any]) -> list[tuple[str, Sequence[Any]]]: ...
    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        conflict: Sequence[str],
        update: str,
    ) -> None: ...


def _upsert_statement(
    table: str, columns: Sequence[str], conflict: Sequence[str], update: str, source: str
) -> str:
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) {source} "
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {update}"
    )


class StaleTrackingError(Exception):
    """Another process moved the projection's position first; this batch was rolled back."""


# Names "changing the read models' schema" among PostgreSQL advisory locks.
READ_MODEL_SCHEMA_LOCK = 0x436F6D7076696577  # "Compview": the read models' tables
# A pooled connection's state once a statement has begun a transaction on it.
IN_TRANSACTION, IN_ERROR = TransactionStatus.INTRANS, TransactionStatus.INERROR

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_tracking ("
    " projection TEXT PRIMARY KEY, position BIGINT NOT NULL)"
)
# The schema each read model's tables were built under (`projections.schema`).
SCHEMA_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_schema ("
    " projection TEXT PRIMARY KEY, fingerprint TEXT NOT NULL)"
)


POSITION = "SELECT position FROM projection_tracking WHERE projection = ?"


@cache
def _to_pyformat(statement: str) -> str:
    # Our statements never hold a literal `?` or `%`, so this rewrite is safe.
    return re.sub(r"\?", "%s", statement)


class ReadStore:
    """A connection source for read models, with the dialect's quirks hidden."""

    dialect: str

    def __init__(
        self,
        *,
        sqlite_path: str | None = None,
        conninfo: str | None = None,
        timeout: float = 5,
        pool_size: int = 8,
    ) -> None:
        if (sqlite_path is None) == (conninfo is None):
            raise ValueError("give exactly one of sqlite_path and conninfo")
        self._sqlite_path = sqlite_path
        self._local = threading.local()
        self._pool: ConnectionPool[Any] | None = None
        if conninfo is not None:
            self.dialect = "postgres"
            self._pool = ConnectionPool(
                conninfo,
                min_size=1,
                max_size=pool_size,
                open=True,
                timeout=timeout,
                kwargs={"autocommit": True},
            )
            # After a server restart, pooled connections are dead: test them before use.
            check_when_idle(self._pool)
        else:
            self.dialect = "sqlite"
        with self.schema_transaction() as cursor:
            cursor.execute(TRACKING_DDL)
            cursor.execute(SCHEMA_DDL)

    # ---- connections ----------------------------------------------------------------------

    def _sqlite(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            assert self._sqlite_path is not None
            connection = sqlite3.connect(
                self._sqlite_path, isolation_level=None, check_same_thread=False, timeout=10
            )
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA busy_timeout=10000")
            self._local.connection = connection
        return connection

    @contextmanager
    def transaction(self, *, pipelined: bool = False) -> Iterator[Cursor]:
        """One write transaction: committed on success, rolled back on any error.

        `pipelined` (PostgreSQL): statements whose results nobody reads are sent without
        waiting for them, and go with the next one that is read, or with the COMMIT. A small
        batch of the live runner then costs a round trip per read, not per statement, which is
        most of what stands between a command and its read models under load. An error of a
        statement sent ahead is raised at that next read (or at the commit), and the
        transaction rolls back as it would have. (COPY is not allowed in a pipeline: `upsert`
        then sends its rows as one pipelined batch of INSERTs instead.)
        """
        if self._pool is None:
            connection = self._sqlite()
            # IMMEDIATE takes the write lock up front, so the busy timeout applies to it.
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteCursor(connection.cursor())
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
            return
        with self._pool.connection() as pg:
            if not pipelined:
                with pg.transaction():
                    yield _PostgresCursor(pg.cursor())
                return
            yield from _pipelined_transaction(pg)

    @contextmanager
    def schema_transaction(self) -> Iterator[Cursor]:
        """A transaction for DDL. PostgreSQL's CREATE ... IF NOT EXISTS fails when a twin runs
        at the same moment (two processes starting at once), so they take turns."""
        with self.transaction() as cursor:
            if self.dialect == "postgres":
                cursor.execute("SELECT pg_advisory_xact_lock(?)", (READ_MODEL_SCHEMA_LOCK,))
            yield cursor

    @contextmanager
    def reading(self) -> Iterator[Cursor]:
        """A read-only snapshot for queries: every statement in it sees the same state."""
        if self._pool is None:
            connection = self._sqlite()
            connection.execute("BEGIN")
            try:
                yield _SQLiteCursor(connection.cursor())
            finally:
                connection.execute("ROLLBACK")
            return
        with self._pool.connection() as pg:
            # All said in the BEGIN, not by a statement after it: a round trip fewer per read.
            # REPEATABLE READ is what makes it a snapshot (READ COMMITTED takes one per
            # statement); a read-only transaction under it is never refused as a conflict.
            pg.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield _PostgresCursor(pg.cursor())
            finally:  # a broken connection has no transaction left to end; the pool drops it
                if pg.info.transaction_status in (IN_TRANSACTION, IN_ERROR):
                    pg.execute("ROLLBACK")  # nothing was written: ending it is all

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()

    # ---- tracking -------------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        rows = self.fetch("SELECT projection, position FROM projection_tracking")
        return {name: int(position) for name, position in rows}

    def position(self, projection: str) -> int:
        rows = self.fetch(POSITION, (projection,))
        return int(rows[0][0]) if rows else 0

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one statement, which is a snapshot of its own: no transaction around
        it, so no BEGIN and no ROLLBACK, two round trips of the three a `reading` takes. Every
        read-model request asks for a position first."""
        if self._pool is None:
            return self._sqlite().execute(sql, params).fetchall()
        with self._pool.connection() as pg:
            return list(pg.execute(_to_pyformat(sql), params).fetchall())


def _pipelined_transaction(pg: Any) -> Iterator[Cursor]:
    """BEGIN and COMMIT said in the pipeline like every other statement, not by psycopg's
    `transaction()`, which waits for the BEGIN's answer and syncs once more before the COMMIT:
    two round trips of a small batch's few. An error of any statement is raised by the sync
    after the COMMIT at the latest; the server then skipped the COMMIT, and the transaction,
    left aborted, is rolled back here."""
    cursor = pg.cursor()
    try:
        with pg.pipeline() as pipeline:
            cursor.execute("BEGIN")
            yield _PostgresCursor(cursor, pipelined=True)
            cursor.execute("COMMIT")
            pipeline.sync()
    except BaseException:
        # A connection the error broke has no transaction left; the pool drops it. The error
        # raised is the statement's, not the ROLLBACK's.
        if pg.info.transaction_status in (IN_TRANSACTION, IN_ERROR):
            with contextlib.suppress(psycopg.Error):
                pg.execute("ROLLBACK")
        raise


def position_in(cursor: Cursor, projection: str) -> int:
    """`projection`'s position as `cursor`'s snapshot sees it (0 before its first batch)."""
    cursor.execute(POSITION, (projection,))
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def claim_tracking(cursor: Cursor, dialect: str, projections: Sequence[str], expected: int) -> None:
    """First statements of a batch's transaction: lock the projections' positions, check them.

    Taking the tracking rows' locks first orders every writer of a read model (the live runner,
    a rebuild's swap) on them, so they queue instead of deadlocking on the model's tables. One
    statement for all the projections of a batch, their rows locked in the order of their
    names, so that two writers locking several always take them in the same order.
    """
    names = sorted(projections)
    cursor.execute(
        "INSERT INTO projection_tracking (projection, position) VALUES "
        + ", ".join("(?, 0)" for _ in names)
        + " ON CONFLICT (projection) DO NOTHING",
        names,
    )
    lock = " FOR UPDATE" if dialect == "postgres" else ""
    found: dict[str, int] = {}
    for match, params in cursor.key_in("projection", names):
        cursor.execute(
            f"SELECT projection, position FROM projection_tracking WHERE {match} "
            f"ORDER BY projection{lock}",
            params,
        )
        found.update((name, int(position)) for name, position in cursor.fetchall())
    stale = [name for name in names if found.get(name) != expected]
    if stale:
        raise StaleTrackingError(f"{', '.join(stale)} no longer at {expected}")


def advance_tracking(cursor: Cursor, projections: Sequence[str], position: int) -> None:
    for match, params in cursor.key_in("projection", list(projections)):
        cursor.execute(
            f"UPDATE projection_tracking SET position = ? WHERE {match}", [position, *params]
        )


def check_when_idle(pool: ConnectionPool[Any], idle_seconds: float = 1.0) -> None:
    """Pings a pooled connection on checkout only if it has not been checked out for a while.

    A connection a server restart has killed is found before use, as with the library's
    pre-ping, without a round trip on every busy request. psycopg_pool takes its check callback
    only at construction, which the library does, hence the attribute. The time is taken at
    checkout, not at return: a reset callback would do that, but psycopg_pool hands every
    connection given back with one to its worker thread, a thread hop per query, and keeps the
    connection from the next request until that thread has run (under load, a twentieth of a
    command's time). Counting from checkout, a connection held long is only pinged sooner.
    """
    checked_out: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def check(connection: Any) -> None:
        now = time.monotonic()
        last, checked_out[connection] = checked_out.get(connection, 0.0), now
        if now - last > idle_seconds:
            ConnectionPool.check_connection(connection)

    pool._check = check


class _SQLiteCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql, params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(sql, params)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    def key_in(self, column: str, keys: Sequence[Any]) -> list[tuple[str, Sequence[Any]]]:
        """`column IN (…)` clauses and their parameters, in chunks SQLite accepts."""
        chunks = [keys[start : start + 500] for start in range(0, len(keys), 500)]
        return [(f"{column} IN ({','.join('?' * len(chunk))})", chunk) for chunk in chunks]

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        conflict: Sequence[str],
        update: str,
    ) -> None:
        values = f"VALUES ({','.join('?' * len(columns))})"
        self._cursor.executemany(_upsert_statement(table, columns, conflict, update, values), rows)


# Above this many rows, COPY into a staging table beats one INSERT per row by a wide margin.
COPY_THRESHOLD = 64


class _PostgresCursor:
    def __init__(self, cursor: Any, *, pipelined: bool = False) -> None:
        self._cursor = cursor
        self._pipelined = pipelined

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(_to_pyformat(sql), params)

    def executemany(self, sql: str, params: Sequence[Sequence[Any]]) -> Any:
        return self._cursor.executemany(_to_pyformat(sql), params)

    def fetchone(self) -> Any:
        return self._cursor.fetchone()

    def fetchall(self) -> list[Any]:
        return list(self._cursor.fetchall())

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount)

    def key_in(self, column: str, keys: Sequence[Any]) -> list[tuple[str, Sequence[Any]]]:
        """One `column = ANY(array)`: a statement whose text is the same whatever the number of
        keys, so that psycopg and the server parse it once, not once per batch."""
        return [(f"{column} = ANY(?)", [list(keys)])] if keys else []

    def upsert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        conflict: Sequence[str],
        update: str,
    ) -> None:
        names = ", ".join(columns)
        if len(rows) < COPY_THRESHOLD or self._pipelined:
            values = f"VALUES ({','.join(['%s'] * len(columns))})"
            statement = _upsert_statement(table, columns, conflict, update, values)
            self._cursor.executemany(statement, rows)
            return
        stage = f"stage_{table}"
        self._cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {stage} (LIKE {table}) ON COMMIT DELETE ROWS"
        )
        with self._cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        source = f"SELECT {names} FROM {stage}"
        self._cursor.execute(_upsert_statement(table, columns, conflict, update, source))
        self._cursor.execute(f"DELETE FROM {stage}")
