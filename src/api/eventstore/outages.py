"""What counts as the database being unavailable, from any driver: the one list of them.

A command that meets one of these recorded nothing, and is answered 503 with Retry-After; the
HTTP layer takes the list from here rather than knowing the drivers itself.
"""

from __future__ import annotations

import sqlite3

import psycopg
from eventsourcing.persistence import PersistenceError

STORE_OUTAGES: tuple[type[Exception], ...] = (
    PersistenceError,
    psycopg.OperationalError,
    sqlite3.OperationalError,
    TimeoutError,
)
