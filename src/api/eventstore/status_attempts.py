"""The status page's lock-out: at most `MAX_FAILURES` failed tries per reference in `WINDOW`.

Failures are rows of `status_failures` in the read store, so every `serve` process on one
database counts the same tries. A row names the reference by a keyed hash of the string the
caller typed (normalised), whether or not a complaint has that reference, so the table reveals
neither which references exist nor which were looked up.

A try first takes a row (in one transaction that also counts the window, serialised per
reference: SQLite's write lock, or an advisory lock on PostgreSQL), and gives it back if the code
was right. Counting before checking, rather than after, keeps the limit exact however many
processes or threads try at once: the eleventh concurrent try is locked out, not let through.
A try while locked out takes no row, so it does not stretch the lock-out; it lifts when enough
of the counted failures are `WINDOW` old. Tries count only the rows of the last `WINDOW`; older
rows are deleted now and then by a thread of each API process (`start_forgetting`), so that no
request deletes a row another transaction may be deleting too.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from api.eventstore.clear_out import PeriodicClearOut
from projections.store import ReadStore

WINDOW = timedelta(hours=1)
MAX_FAILURES = 10
FORGET_EVERY = 600.0  # seconds between clear-outs of rows older than WINDOW

DDL = (
    "CREATE TABLE IF NOT EXISTS status_failures ("
    " reference_hash TEXT NOT NULL, attempt_id TEXT NOT NULL, failed_at TEXT NOT NULL,"
    " PRIMARY KEY (reference_hash, attempt_id))",
    # The clear-out deletes by age across all references.
    "CREATE INDEX IF NOT EXISTS status_failures_by_age ON status_failures (failed_at)",
)

# Names "counting one reference's tries" among PostgreSQL advisory locks (two-key form, so it
# cannot meet the one-key locks elsewhere: the schema locks).
_LOCK_CLASS = 0x53746174  # "Stat"


@dataclass(frozen=True)
class Attempt:
    """A try under way: counted as a failure unless `StatusAttempts.succeeded` gives it back."""

    reference_hash: str
    attempt_id: str


@dataclass(frozen=True)
class LockedOut:
    """Too many failures for this reference: try again in `retry_after` seconds."""

    retry_after: int


def _instant(moment: datetime) -> str:
    # One fixed format in UTC, so that the text compares as the instant does.
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class StatusAttempts:
    def __init__(
        self,
        store: ReadStore,
        *,
        clock: Callable[[], datetime],
        max_failures: int = MAX_FAILURES,
        window: timedelta = WINDOW,
    ) -> None:
        self.store = store
        self.clock = clock
        self.max_failures = max_failures
        self.window = window
        with store.schema_transaction() as cursor:
            for statement in DDL:
                cursor.execute(statement)
        self._clear_out = PeriodicClearOut(
            self.forget_old, name="forget-status-failures", what="old status failures"
        )

    def begin(self, reference_hash: str) -> Attempt | LockedOut:
        """Counts a try for the reference, or says it is locked out (and counts nothing)."""
        now = self.clock()
        attempt = Attempt(reference_hash, secrets.token_hex(16))
        with self.store.transaction() as cursor:
            if self.store.dialect == "postgres":
                lock = int(reference_hash[:8], 16) - 2**31  # a signed 32-bit key
                cursor.execute(
                    "SELECT pg_advisory_xact_lock(CAST(? AS INTEGER), CAST(? AS INTEGER))",
                    (_LOCK_CLASS, lock),
                )
            cursor.execute(
                "SELECT failed_at FROM status_failures WHERE reference_hash = ? "
                "AND failed_at >= ? ORDER BY failed_at",
                (reference_hash, _instant(now - self.window)),
            )
            counted = [str(row[0]) for row in cursor.fetchall()]
            if len(counted) >= self.max_failures:
                # Unlocked once all but max_failures - 1 of them have aged out of the window.
                lifts_at = datetime.fromisoformat(counted[-self.max_failures]) + self.window
                wait = (lifts_at - now.astimezone(UTC)).total_seconds()
                return LockedOut(max(1, math.ceil(wait)))
            cursor.execute(
                "INSERT INTO status_failures (reference_hash, attempt_id, failed_at) "
                "VALUES (?, ?, ?)",
                (attempt.reference_hash, attempt.attempt_id, _instant(now)),
            )
        return attempt

    def succeeded(self, attempt: Attempt) -> None:
        """The code was right: the try is not a failure."""
        with self.store.transaction() as cursor:
            cursor.execute(
                "DELETE FROM status_failures WHERE reference_hash = ? AND attempt_id = ?",
                (attempt.reference_hash, attempt.attempt_id),
            )

    def failures(self, reference_hash: str) -> int:
        """How many failures are counted for the reference now."""
        with self.store.reading() as cursor:
            cursor.execute(
                "SELECT count(*) FROM status_failures WHERE reference_hash = ? AND failed_at >= ?",
                (reference_hash, _instant(self.clock() - self.window)),
            )
            return int(cursor.fetchone()[0])

    def forget_old(self) -> int:
        """Deletes the rows that no longer count; returns how many."""
        with self.store.transaction() as cursor:
            cursor.execute(
                "DELETE FROM status_failures WHERE failed_at < ?",
                (_instant(self.clock() - self.window),),
            )
            return int(cursor.rowcount)

    def start_forgetting(self, every: float = FORGET_EVERY) -> threading.Thread:
        """`forget_old` now and every `every` seconds, on a thread of its own."""
        return self._clear_out.start(every)

    def close(self) -> None:
        """Stops the clear-outs, waiting for one under way, before the store's pool closes."""
        self._clear_out.close()
