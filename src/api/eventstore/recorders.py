"""The event store's recorders: the library's, plus hash chains and atomic companions.

Each `save()` runs in a transaction that (as the library does) serialises writers, so positions
commit in order; on PostgreSQL, saves that arrive together share one such transaction
(`api.eventstore.group_commit`). The transaction also
- computes each event's `event_hash` and `log_hash` (see `api.eventstore.chaining`) from the
  stored bytes and the heads of the chains read inside the same transaction, refusing an event
  that does not follow its complaint's last (a conflict) before anything is written;
- writes whatever the caller attached with `save(..., record_with=...)`: the idempotency record
  of the HTTP request, so that "events saved" and "request remembered" cannot come apart;
- writes what its standing `companions` keep beside every event: the key ring's data keys and
  blind-index entries, and the destruction of erased keys (`api.eventstore.sealing`).
It does not retry a failed write (the library does, for seconds): the caller gets a prompt
error and, with an idempotency key, can retry safely.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Composable, Composed, Identifier

from api.eventstore import notifications
from api.eventstore.chaining import Head, chain, complaint_ids
from api.eventstore.group_commit import GroupCommit, Save
from api.eventstore.keys import key_table_ddl
from domain.integrity import LOG_GENESIS, StoredLink


class Companion(Protocol):
    """Something to write in the same transaction as the events."""

    def write(
        self, cursor: Any, dialect: str, events: Sequence[StoredEvent], positions: list[int]
    ) -> None: ...


def _accept(
    saves: list[Save], heads: dict[UUID, Head], last_log: bytes
) -> tuple[list[Save], list[tuple[bytes, bytes]]]:
    """The saves that follow their complaints' heads, in order, and their events' hashes;
    each other save is refused with IntegrityError (its version is taken)."""
    written, hashes = [], []
    for save in saves:
        try:
            chained, moved, last = chain(save.events, heads, last_log)
        except IntegrityError as error:
            save.refuse(error)
            continue
        heads, last_log = {**heads, **moved}, last
        written.append(save)
        hashes.extend(chained)
    return written, hashes


def rendered(statement: Composable) -> Composed:
    """The statement as plain SQL text (identifiers quoted once and for all)."""
    text: Any = statement.as_string()  # psycopg's own quoting of our names: no outside input
    return Composed([SQL(text)])


def _once(method: Any) -> Any:
    """The library's method without its retry loop (10 tries, 0.2 s apart, each waiting for a
    connection): a request in an outage then fails within one connect timeout, as a 503."""
    return getattr(method, "__wrapped__", method)


class _Chained:
    """What both recorders share: events come with an optional companion (`record_with`)
    written in their transaction; each store inserts them its own way."""

    companions: Sequence[Companion] = ()

    def _companions(self, companion: Companion | None) -> list[Companion]:
        return [*self.companions, *([] if companion is None else [companion])]

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        try:
            return self._insert_events_with(stored_events, kwargs.get("record_with"))
        finally:
            # Written or not, what companions held for these events is done with; they keep
            # it until now, so that a shared transaction that failed can be written again.
            for each in self.companions:
                settle = getattr(each, "settle", None)
                if settle is not None:
                    settle(stored_events)

    def _insert_events_with(
        self, stored_events: Sequence[StoredEvent], companion: Companion | None
    ) -> list[int]:
        raise NotImplementedError


class ChainedPostgresRecorder(_Chained, PostgresApplicationRecorder):
    select_events = _once(PostgresApplicationRecorder.select_events)
    max_notification_id = _once(PostgresApplicationRecorder.max_notification_id)
    select_notifications = notifications.select_notifications  # the library's, lighter

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # psycopg renders a composed statement's identifiers at every execution, a libpq
        # escape each: the statements run per request are rendered once, here, as plain SQL.
        self.select_events_statement = rendered(self.select_events_statement)
        self.max_notification_id_statement = rendered(self.max_notification_id_statement)
        locks = self.lock_table_statements  # the library's: composed, each
        self.lock_table_statements = [rendered(cast(Composable, lock)) for lock in locks]
        self._notify = rendered(SQL("NOTIFY {0}").format(Identifier(self.channel_name)))
        table = rendered(Identifier(self.datastore.schema, self.events_table_name))
        self.quoted_table = table.as_string()
        self.sql_create_statements.append(
            SQL(
                "ALTER TABLE {0} ADD COLUMN IF NOT EXISTS event_hash bytea, "
                "ADD COLUMN IF NOT EXISTS log_hash bytea"
            ).format(table)
        )
        self.sql_create_statements.extend(SQL(ddl).format() for ddl in key_table_ddl("postgres"))
        self._table = table
        self._insert = SQL(
            "INSERT INTO {0} (originator_id, originator_version, topic, state, event_hash, "
            "log_hash) SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::text[], %s::bytea[], "
            "%s::bytea[], %s::bytea[]) RETURNING notification_id"
        ).format(table)
        self._select_last_log = SQL(
            "SELECT log_hash FROM {0} ORDER BY notification_id DESC LIMIT 1"
        ).format(table)
        self._select_heads = SQL(
            "SELECT h.* FROM unnest(%s::uuid[]) AS c(id) CROSS JOIN LATERAL "
            "(SELECT originator_id, originator_version, event_hash FROM {0} "
            "WHERE originator_id = c.id ORDER BY originator_version DESC LIMIT 1) h"
        ).format(table)
        self._group = GroupCommit(self._write_saves)

    def _insert_events_with(
        self, stored_events: Sequence[StoredEvent], companion: Companion | None
    ) -> list[int]:
        return self._group.save(stored_events, companion)

    def _write_saves(self, saves: list[Save]) -> None:
        failure: Exception | None = None
        # Pipelined: the lock, the wake-up and both look-ups of heads travel in one round
        # trip, the insert and the companions in a second, the commit in a third.
        with self.datastore.get_connection() as conn:
            with conn.pipeline():
                try:
                    with conn.transaction():
                        self._insert_saves(conn, saves)
                except Exception as error:  # re-raised outside the pipeline, as the library does
                    failure = error
            if failure is not None:
                raise failure  # inside get_connection, which maps it (IntegrityError and so on)

    def _notify_channel(self, curs: Any) -> None:
        curs.execute(self._notify)

    def _insert_saves(self, conn: Any, saves: list[Save]) -> None:
        with conn.cursor() as cursor:
            self._lock_table(cursor)
            self._notify_channel(cursor)
        last_log = conn.cursor()
        last_log.execute(self._select_last_log)
        heads_cursor = conn.cursor()
        ids = complaint_ids([stored for save in saves for stored in save.events])
        heads_cursor.execute(self._select_heads, (ids,))
        row = last_log.fetchone()
        heads = {
            r["originator_id"]: (int(r["originator_version"]), bytes(r["event_hash"] or b""))
            for r in heads_cursor.fetchall()
        }
        written, hashes = _accept(saves, heads, (row and row["log_hash"]) or LOG_GENESIS)
        if not written:
            return
        stored_events = [stored for save in written for stored in save.events]
        insert = conn.cursor()
        insert.execute(
            self._insert,
            (
                [UUID(str(s.originator_id)) for s in stored_events],
                [s.originator_version for s in stored_events],
                [s.topic for s in stored_events],
                [s.state for s in stored_events],
                [h[0] for h in hashes],
                [h[1] for h in hashes],
            ),
        )
        positions = [int(r["notification_id"]) for r in insert.fetchall()]
        for each in self.companions:
            each.write(conn.cursor(), "postgres", stored_events, positions)
        for save in written:
            save.positions, positions = positions[: len(save.events)], positions[len(save.events) :]
            if save.companion is not None:
                save.companion.write(conn.cursor(), "postgres", save.events, save.positions)

    def select_links(self, complaint_id: UUID) -> list[StoredLink]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                SQL(
                    "SELECT notification_id, originator_id, originator_version, topic, state, "
                    "event_hash, log_hash FROM {0} WHERE originator_id = %s "
                    "ORDER BY originator_version"
                ).format(self._table),
                (complaint_id,),
            )
            return [_link(row) for row in cursor.fetchall()]

    def select_log_links(self, after: int, limit: int) -> list[StoredLink]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                SQL(
                    "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic, "
                    "e.state, e.event_hash, e.log_hash, p.event_hash AS previous_event_hash "
                    "FROM {0} e LEFT JOIN {0} p ON p.originator_id = e.originator_id "
                    "AND p.originator_version = e.originator_version - 1 "
                    "WHERE e.notification_id > %s ORDER BY e.notification_id LIMIT %s"
                ).format(self._table),
                (after, limit),
            )
            return [_link(row) for row in cursor.fetchall()]


class ChainedSQLiteRecorder(_Chained, SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.events_table_name} (originator_id TEXT, "
            "originator_version INTEGER, topic TEXT, state BLOB, event_hash BLOB, "
            "log_hash BLOB, PRIMARY KEY (originator_id, originator_version))",
            *key_table_ddl("sqlite"),
        ]

    def _insert_events_with(
        self, stored_events: Sequence[StoredEvent], companion: Companion | None
    ) -> list[int]:
        with self.datastore.get_connection(commit=True) as connection:
            cursor = connection.cursor().sqlite_cursor
            # IMMEDIATE: take the write lock before reading the previous hashes, so that
            # another process's writer cannot slip in between (and the busy timeout applies).
            cursor.execute("BEGIN IMMEDIATE")
            try:
                positions = self._insert_chained(cursor, stored_events, companion)
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            cursor.execute("COMMIT")
        return positions

    def _insert_chained(
        self, cursor: Any, stored_events: Sequence[StoredEvent], companion: Companion | None
    ) -> list[int]:
        table = self.events_table_name
        heads: dict[UUID, Head] = {}
        for complaint_id in complaint_ids(stored_events):
            cursor.execute(
                f"SELECT originator_version, event_hash FROM {table} "
                "WHERE originator_id = ? ORDER BY originator_version DESC LIMIT 1",
                (complaint_id.hex,),
            )
            row = cursor.fetchone()
            if row is not None:
                heads[complaint_id] = (int(row[0]), bytes(row[1] or b""))
        cursor.execute(f"SELECT log_hash FROM {table} ORDER BY rowid DESC LIMIT 1")
        row = cursor.fetchone()
        hashes, _, _ = chain(stored_events, heads, (row and row[0]) or LOG_GENESIS)
        positions = []
        for stored, (this, chained) in zip(stored_events, hashes, strict=True):
            try:
                cursor.execute(
                    f"INSERT INTO {table} (originator_id, originator_version, topic, state, "
                    "event_hash, log_hash) VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        UUID(str(stored.originator_id)).hex,
                        stored.originator_version,
                        stored.topic,
                        stored.state,
                        this,
                        chained,
                    ),
                )
            except Exception as error:  # sqlite3.IntegrityError: the version is taken
                if "UNIQUE" in str(error):
                    raise IntegrityError(str(error)) from error
                raise
            positions.append(int(cursor.lastrowid))
        for each in self._companions(companion):
            each.write(cursor, "sqlite", stored_events, positions)
        return positions

    def select_links(self, complaint_id: UUID) -> list[StoredLink]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT rowid AS notification_id, originator_id, originator_version, topic, "
                f"state, event_hash, log_hash FROM {self.events_table_name} "
                "WHERE originator_id = ? ORDER BY originator_version",
                (complaint_id.hex,),
            )
            return [_link(row) for row in cursor.fetchall()]

    def select_log_links(self, after: int, limit: int) -> list[StoredLink]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT e.rowid AS notification_id, e.originator_id, e.originator_version, "
                "e.topic, e.state, e.event_hash, e.log_hash, p.event_hash AS previous_event_hash "
                f"FROM {self.events_table_name} e LEFT JOIN {self.events_table_name} p "
                "ON p.originator_id = e.originator_id "
                "AND p.originator_version = e.originator_version - 1 "
                "WHERE e.rowid > ? ORDER BY e.rowid LIMIT ?",
                (after, limit),
            )
            return [_link(row) for row in cursor.fetchall()]


def _as_bytes(value: Any) -> bytes:
    # A row altered by hand may hold text where bytes belong: still check it, never crash.
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, int):
        return str(value).encode()
    return bytes(value)


def _uuid_or_nil(value: Any) -> UUID:
    try:
        return value if isinstance(value, UUID) else UUID(str(value))
    except ValueError:
        return UUID(int=0)  # an id altered into nonsense: its hash can no longer match


def _int_or_zero(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _link(row: Any) -> StoredLink:
    def raw(name: str) -> bytes | None:
        try:
            value = row[name]
        except (IndexError, KeyError):
            return None
        return None if value is None else _as_bytes(value)

    return StoredLink(
        position=int(row["notification_id"]),
        complaint_id=_uuid_or_nil(row["originator_id"]),
        version=_int_or_zero(row["originator_version"]),
        topic=str(row["topic"]),
        state=_as_bytes(row["state"] or b""),
        event_hash=raw("event_hash"),
        log_hash=raw("log_hash"),
        previous_event_hash=raw("previous_event_hash"),
    )
