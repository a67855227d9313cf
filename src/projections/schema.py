"""Which schema each read model's tables were built under, and a rebuild when it changed.

A read model's rows are a function of the log and of the code that projected them. When a
release changes a model's tables (a column added) or what it makes of the events (a new event
handled, a new meaning), the rows kept by the previous release are wrong for this one, and the
new statements would fail on the old tables. So each model records a fingerprint of its
declared tables, indexes and `schema_version`; at set-up, a model whose recorded fingerprint
differs, or that has none (built before fingerprints were kept), is dropped and started again
from the beginning of the log, in the same schema transaction. The runner then catches it up
in the background, as after `complaints rebuild`, while the API answers (readers can wait for a
position with `min_position`, and `/health/ready` shows the lag).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Sequence

from projections.base import Projection
from projections.store import Cursor

log = logging.getLogger("complaints.projections")


def fingerprint(projection: Projection) -> str:
    """Of the logical declaration, so that a rebuild's shadow copy has the live model's."""
    declared = {
        "version": projection.schema_version,
        "tables": projection.tables,
        "indexes": [dataclasses.astuple(index) for index in projection.indexes],
    }
    text = json.dumps(declared, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def prepare_tables(cursor: Cursor, dialect: str, projections: Sequence[Projection]) -> None:
    """Creates each model's tables; first resets every model built under another schema.

    Runs in a schema transaction (one process at a time). The tracking rows of the models to
    reset are locked first, in order, as the runner locks them before touching a model's
    tables, so that a runner in another process queues behind this instead of deadlocking."""
    stale = [p for p in projections if _recorded(cursor, p) != fingerprint(p)]
    positions = {p.tracking_name: _lock_position(cursor, dialect, p.tracking_name) for p in stale}
    for projection in stale:
        for table in projection.table.values():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        cursor.execute(
            "DELETE FROM projection_tracking WHERE projection = ?", (projection.tracking_name,)
        )
        cursor.execute(
            "DELETE FROM projection_failures WHERE projection = ?", (projection.tracking_name,)
        )
        record_fingerprint(cursor, projection)
        if positions[projection.tracking_name]:
            log.warning(
                "read model %s was built under another schema: rebuilding it from the start "
                "of the log",
                projection.name,
            )
    for projection in projections:
        for statement in projection.create_statements():
            cursor.execute(statement)


def record_fingerprint(cursor: Cursor, projection: Projection) -> None:
    cursor.execute(
        "INSERT INTO projection_schema (projection, fingerprint) VALUES (?, ?) "
        "ON CONFLICT (projection) DO UPDATE SET fingerprint = excluded.fingerprint",
        (projection.tracking_name, fingerprint(projection)),
    )


def forget_fingerprint(cursor: Cursor, projection: Projection) -> None:
    cursor.execute(
        "DELETE FROM projection_schema WHERE projection = ?", (projection.tracking_name,)
    )


def _recorded(cursor: Cursor, projection: Projection) -> str | None:
    cursor.execute(
        "SELECT fingerprint FROM projection_schema WHERE projection = ?",
        (projection.tracking_name,),
    )
    row = cursor.fetchone()
    return str(row[0]) if row else None


def _lock_position(cursor: Cursor, dialect: str, name: str) -> int:
    """The model's position (0 when it has none), its row locked until the commit."""
    lock = " FOR UPDATE" if dialect == "postgres" else ""
    cursor.execute(f"SELECT position FROM projection_tracking WHERE projection = ?{lock}", (name,))
    row = cursor.fetchone()
    return int(row[0]) if row else 0
