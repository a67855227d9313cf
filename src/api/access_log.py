"""The access log: who read whose personal data, when, and how.

Every successful read of personal data writes an entry before the response is sent, in its own
short transaction; if the entry cannot be written the read fails (503) rather than go
unrecorded. Entries name the complaint where one was read, or none for caseload reads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from api.auth import Principal
from projections.store import ReadStore

_COLUMNS = "entry_id, at, actor_id, actor_name, roles, action, path, complaint_id"


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


class AccessLog:
    def __init__(self, store: ReadStore) -> None:
        self.store = store
        with store.schema_transaction() as cursor:
            for statement in _ddl(store.dialect):
                cursor.execute(statement)

    def record(
        self, principal: Principal, action: str, path: str, complaint_id: UUID | None
    ) -> None:
        roles = json.dumps(sorted(role.value for role in principal.roles))
        with self.store.transaction() as cursor:
            cursor.execute(
                "INSERT INTO access_log (at, actor_id, actor_name, roles, action, path, "
                "complaint_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    datetime.now(UTC).isoformat(timespec="microseconds"),
                    principal.id,
                    principal.name,
                    roles,
                    action,
                    path[:2000],
                    None if complaint_id is None else str(complaint_id),
                ),
            )

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
