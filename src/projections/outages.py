"""Is an error the database's, for now, or the event's, for good? `is_transient` decides.

A projection that meets a transient error retries from the same position shortly; one that
meets any other error has found an event it cannot process, and is parked (`runner`).
"""

from __future__ import annotations

import sqlite3

import eventsourcing.persistence
import psycopg
import psycopg_pool

# SQLite result codes (the primary code: the low byte of an extended one) for a file that is
# busy, locked or out of reach for now; and SQLite's messages for them, for an error that
# carries no code (one raised by hand, say).
_SQLITE_TRANSIENT_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
    }
)
_SQLITE_TRANSIENT_MESSAGES = (
    "database is locked",
    "database table is locked",
    "database schema is locked",
    "disk i/o error",
    "database or disk is full",
    "unable to open database file",
    "locking protocol",
)
# PostgreSQL SQLSTATE classes of an outage or of contention: 08 connection exception, 40
# transaction rollback (serialization failure, deadlock), 53 insufficient resources, 57 operator
# intervention (shutdown, cancel, starting up), 58 system error; and 55P03 lock_not_available.
# Not 54, program limit exceeded: a statement too big stays too big however often it is tried.
_POSTGRES_TRANSIENT_CLASSES = frozenset({"08", "40", "53", "57", "58"})
_POSTGRES_TRANSIENT_STATES = frozenset({"55P03"})


def is_transient(error: BaseException) -> bool:
    """Whether `error` is the database being unavailable or contended, which passes if retried,
    rather than something about the events being processed, which would fail again."""
    if isinstance(error, TimeoutError | ConnectionError):
        return True
    if isinstance(
        error, eventsourcing.persistence.OperationalError | eventsourcing.persistence.InterfaceError
    ):
        return True  # the event store's wrappers of an outage (its recorders retry these too)
    if isinstance(error, sqlite3.OperationalError):
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None:
            return code & 0xFF in _SQLITE_TRANSIENT_CODES
        return str(error).lower().startswith(_SQLITE_TRANSIENT_MESSAGES)
    if isinstance(error, psycopg_pool.PoolClosed):
        return False  # this process closed its own store: retrying would never end
    if isinstance(error, psycopg.OperationalError):
        state = error.sqlstate
        if state is None:  # raised by the client: connection refused or lost, pool timeout
            return True
        return state[:2] in _POSTGRES_TRANSIENT_CLASSES or state in _POSTGRES_TRANSIENT_STATES
    return False
