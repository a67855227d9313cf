"""The access log: who read whose personal data, when, and how.

Every successful read of personal data writes an entry before the response is sent; if the
entry cannot be written the read fails (503) rather than go unrecorded. Entries from reads that
arrive together are committed together by one writer thread (group commit), so a busy server
pays one commit for many reads instead of one each. Entries name the complaint where one was
read, or none for caseload reads.
"""

from __future__ import annotations

import base64
import binascii
import json
import queue
import threading
from collections.abc import Set as AbstractSet
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from projections.case_list.queries import InvalidCursorError
from projections.store import ReadStore

_COLUMNS = "entry_id, at, actor_id, actor_name, roles, action, path, complaint_id"
_INSERT = (
    "INSERT INTO access_log (at, actor_id, actor_name, roles, action, path, complaint_id) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
WRITE_TIMEOUT = 10.0
MAX_GROUP = 500


def _ddl(dialect: str) -> list[str]:
    key = "BIGSERIAL PRIMARY KEY" if dialect == "postgres" else "INTEGER PRIMARY KEY AUTOINCREMENT"
    return [
        f"CREATE TABLE IF NOT EXISTS access_log (entry_id {key}, at TEXT NOT NULL, "
        "actor_id TEXT NOT NULL, actor_name TEXT NOT NULL, roles TEXT NOT NULL, "
        "action TEXT NOT NULL, path TEXT NOT NULL, complaint_id TEXT)",
        "CREATE INDEX IF NOT EXISTS access_log_complaint_idx "
        "ON access_log (complaint_id, entry_id)",
    ]


@dataclass(frozen=True)
class AccessEntry:
    entry_id: int
    at: str
    actor: dict[str, Any]
    action: str
    path: str
    complaint_id: str | None


class Reader(Protocol):
    """Who read: the caller's id, name and roles (an HTTP caller's token gives them)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def roles(self) -> AbstractSet[str]: ...


class AccessLog:
    def __init__(self, store: ReadStore) -> None:
        self.store = store
        with store.schema_transaction() as cursor:
            for statement in _ddl(store.dialect):
                cursor.execute(statement)
        self._pending: queue.Queue[tuple[tuple[Any, ...], Future[None]] | None] = queue.Queue()
        self._writer = threading.Thread(target=self._write, name="access-log", daemon=True)
        self._writer.start()

    def record(self, reader: Reader, action: str, path: str, complaint_id: UUID | None) -> None:
        """Returns once the entry is committed; raises if it could not be."""
        roles = json.dumps(sorted(str(role) for role in reader.roles))
        row = (
            datetime.now(UTC).isoformat(timespec="microseconds"),
            reader.id,
            reader.name,
            roles,
            action,
            path[:2000],
            None if complaint_id is None else str(complaint_id),
        )
        done: Future[None] = Future()
        self._pending.put((row, done))
        done.result(timeout=WRITE_TIMEOUT)

    def close(self) -> None:
        self._pending.put(None)
        self._writer.join(timeout=WRITE_TIMEOUT)

    def _write(self) -> None:
        while (first := self._pending.get()) is not None:
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    item = self._pending.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._pending.put(None)  # stop after this group
                    break
                group.append(item)
            try:
                with self.store.transaction() as cursor:
                    cursor.executemany(_INSERT, [row for row, _ in group])
            except Exception as error:  # every read in the group fails: none unrecorded
                for _, done in group:
                    done.set_exception(error)
            else:
                for _, done in group:
                    done.set_result(None)

    def entries(
        self, complaint_id: UUID | None, *, after: int, limit: int
    ) -> tuple[list[AccessEntry], int | None]:
        """Oldest first; the entries after `after`, and the id to continue from (if more)."""
        where = "complaint_id = ?" if complaint_id is not None else "1 = 1"
        params: list[Any] = [str(complaint_id)] if complaint_id is not None else []
        with self.store.reading() as cursor:
            cursor.execute(
                f"SELECT {_COLUMNS} FROM access_log WHERE {where} AND entry_id > ? "
                "ORDER BY entry_id LIMIT ?",
                [*params, after, limit + 1],
            )
            rows = cursor.fetchall()
        entries = [
            AccessEntry(
                entry_id=int(row[0]),
                at=row[1],
                actor={"id": row[2], "name": row[3], "roles": json.loads(row[4])},
                action=row[5],
                path=row[6],
                complaint_id=row[7],
            )
            for row in rows[:limit]
        ]
        more = len(rows) > limit
        return entries, (entries[-1].entry_id if more and entries else None)

    def page(
        self, complaint_id: UUID | None, *, cursor: str | None, limit: int
    ) -> tuple[list[AccessEntry], str | None]:
        """One page of `entries`, continued by the opaque cursor the previous page gave."""
        entries, last = self.entries(complaint_id, after=_entry_after(cursor), limit=limit)
        return entries, (_cursor_at(last) if last else None)


def _cursor_at(entry_id: int) -> str:
    return base64.urlsafe_b64encode(str(entry_id).encode()).decode().rstrip("=")


def _entry_after(cursor: str | None) -> int:
    if cursor is None:
        return 0
    try:
        after = int(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    except (binascii.Error, ValueError, UnicodeDecodeError):
        after = -1
    if not 0 <= after < 2**62:  # also keeps it within a database integer
        raise InvalidCursorError("Use a cursor this server gave out.")
    return after
