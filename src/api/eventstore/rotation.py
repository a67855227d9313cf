"""Rotating the master key: every live data key re-wrapped under a new one.

docs/DOMAIN.md part C and the crypto-shredding notes (point 3): erasure sets a key row to
NULL, but copies of the wrapped key may survive in the WAL, in dead rows or in backups. Once
every row is wrapped under a new master key and the old one is gone, those copies are noise.

`rewrap_all` works in batches, each in its own transaction, in the order of the key table's
primary key (keyset pagination), so a pass interrupted at any moment leaves every row wrapped
under one key or the other, never half-done, and running it again finishes the job: rows
already under the new key are not selected. A row under neither key means the old key given
is not the current one (or a third key is in play): nothing is changed and the rows are named.

A destroyed key (`wrapped` NULL) is never touched, so rotation cannot bring one back; the
update also re-checks, row by row, that the row is still wrapped under the old key, so an
erasure that lands between our read and our write wins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from api.eventstore.keys import MasterKey, MasterKeyError

Progress = Callable[[int, int], None]
SHOWN = 5  # rows named in the error about rows under neither key


def rewrap_all(
    datastore: Any,
    dialect: str,
    old: MasterKey,
    new: MasterKey,
    *,
    batch: int = 1000,
    progress: Progress | None = None,
) -> int:
    """Re-wraps every live data key under `old` with `new`; returns how many it re-wrapped.

    `progress(done, total)` is called after each batch (total: the rows under `old` at the
    start). `MasterKeyError` if a live row is wrapped under neither key (nothing is changed).
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    if old.id == new.id:
        return 0
    total = _check_and_count(datastore, dialect, old, new)
    done = 0
    after = ("", "")  # every complaint id and part sorts after the empty strings
    while True:
        with _write_transaction(datastore, dialect) as cursor:
            rows = _next_batch(cursor, dialect, old, after, batch)
            if not rows:
                break
            done += _rewrap(cursor, dialect, old, new, rows)
        after = (rows[-1][0], rows[-1][1])
        if progress is not None:
            progress(done, max(total, done))
    if progress is not None:
        progress(done, max(total, done))
    return done


def _check_and_count(datastore: Any, dialect: str, old: MasterKey, new: MasterKey) -> int:
    """The rows under `old`; refuses when any live row is under neither key."""
    with _write_transaction(datastore, dialect) as cursor:
        cursor.execute(
            _param(
                "SELECT complaint_id, part, master_key_id FROM complaint_keys "
                "WHERE wrapped IS NOT NULL AND (master_key_id IS NULL OR master_key_id "
                "NOT IN (?, ?)) ORDER BY complaint_id, part LIMIT ?",
                dialect,
            ),
            (old.id, new.id, SHOWN + 1),
        )
        strays = [_row(r, "complaint_id", "part", "master_key_id") for r in cursor.fetchall()]
        cursor.execute(
            _param(
                "SELECT count(*) AS n FROM complaint_keys "
                "WHERE wrapped IS NOT NULL AND master_key_id = ?",
                dialect,
            ),
            (old.id,),
        )
        total = int(_row(cursor.fetchone(), "n")[0])
    if strays:
        named = ", ".join(f"{c} ({p}, key id {k})" for c, p, k in strays[:SHOWN])
        more = " and more" if len(strays) > SHOWN else ""
        raise MasterKeyError(
            f"data keys wrapped under neither the current master key (id {old.id}) nor the "
            f"new one (id {new.id}): {named}{more}; COMPLAINTS_MASTER_KEY must be the key "
            "they are wrapped under"
        )
    return total


def _next_batch(
    cursor: Any, dialect: str, old: MasterKey, after: tuple[str, str], batch: int
) -> list[tuple[str, str, bytes]]:
    # FOR UPDATE: an erasure of one of these rows waits for this batch (or went first and the
    # row is no longer selected); SQLite holds the whole write lock already.
    lock = " FOR UPDATE" if dialect == "postgres" else ""
    cursor.execute(
        _param(
            "SELECT complaint_id, part, wrapped FROM complaint_keys "
            "WHERE master_key_id = ? AND wrapped IS NOT NULL AND (complaint_id, part) > (?, ?) "
            f"ORDER BY complaint_id, part LIMIT ?{lock}",
            dialect,
        ),
        (old.id, after[0], after[1], batch),
    )
    rows = [_row(r, "complaint_id", "part", "wrapped") for r in cursor.fetchall()]
    return [(str(c), str(p), bytes(w)) for c, p, w in rows]


def _rewrap(
    cursor: Any, dialect: str, old: MasterKey, new: MasterKey, rows: list[tuple[str, str, bytes]]
) -> int:
    """Writes the batch re-wrapped; returns the rows changed. The owner and part are the
    associated data of both wraps, so a key stays bound to its complaint and part."""
    update = _param(
        "UPDATE complaint_keys SET wrapped = ?, master_key_id = ? WHERE complaint_id = ? "
        "AND part = ? AND master_key_id = ? AND wrapped IS NOT NULL",
        dialect,
    )
    cursor.executemany(
        update,
        [
            (new.wrap(owner, part, old.unwrap(owner, part, wrapped)), new.id, owner, part, old.id)
            for owner, part, wrapped in rows
        ],
    )
    # Both drivers sum the rows changed over an executemany.
    return max(int(cursor.rowcount), 0)


@contextmanager
def _write_transaction(datastore: Any, dialect: str) -> Iterator[Any]:
    """A cursor (with `rowcount`) in a transaction that commits unless the block raises."""
    if dialect == "postgres":
        with datastore.transaction(commit=True) as cursor:
            yield cursor
        return
    # As the recorder does: IMMEDIATE takes the write lock first (waiting the busy timeout),
    # so no writer can come between our read of a batch and our update of it.
    with datastore.get_connection(commit=True) as connection:
        cursor = connection.cursor().sqlite_cursor
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        cursor.execute("COMMIT")


def _row(row: Any, *names: str) -> tuple[Any, ...]:
    # psycopg gives dict rows here, sqlite3 gives sqlite3.Row: both are read by name.
    return tuple(row[name] for name in names)


def _param(sql: str, dialect: str) -> str:
    return sql.replace("?", "%s") if dialect == "postgres" else sql
