"""Reading the notification log on PostgreSQL: the library's query, lighter.

The library's `select_notifications` selects every column (our hash chains' too, 64 bytes an
event that no reader of the log wants), reads each row as a dict and composes its statement,
identifiers and all, at every call. A rebuild or a projection worker reads the whole log this
way, so here the five columns are named, rows come as tuples and the table's name is rendered
once; what is returned, and for which arguments, is the library's (its conformance tests).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from eventsourcing.persistence import Notification
from eventsourcing.postgres import PostgresDatastore
from psycopg.rows import tuple_row
from psycopg.sql import SQL


class LogTable(Protocol):
    """Where the log is: the recorder this is a method of."""

    datastore: PostgresDatastore
    quoted_table: str  # the events table's name, schema and all, quoted for SQL


def select_notifications(
    recorder: LogTable,
    start: int | None,
    limit: int,
    stop: int | None = None,
    topics: Sequence[str] = (),
    *,
    inclusive_of_start: bool = True,
) -> list[Notification]:
    """Up to `limit` notifications of the recorder's log, from `start` to `stop`."""
    conditions: list[str] = []
    params: list[Any] = []
    if start is not None:
        conditions.append("notification_id >= %s" if inclusive_of_start else "notification_id > %s")
        params.append(start)
    if stop is not None:
        conditions.append("notification_id <= %s")
        params.append(stop)
    if topics:
        if not isinstance(topics, (tuple, list)) or not all(isinstance(t, str) for t in topics):
            raise TypeError(f"topics must be a list or tuple of strings, not {topics!r}")
        conditions.append("topic = ANY(%s)")
        params.append(list(topics))
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    text: Any = (  # our own name, quoted by psycopg, and fixed words: no outside input
        "SELECT notification_id, originator_id, originator_version, topic, state "
        f"FROM {recorder.quoted_table}{where} ORDER BY notification_id LIMIT %s"
    )
    params.append(limit)
    with (
        recorder.datastore.get_connection() as connection,
        connection.cursor(row_factory=tuple_row) as cursor,
    ):
        cursor.execute(SQL(text), params, prepare=True)
        rows = cursor.fetchall()
    return [
        Notification(
            id=notification_id,
            originator_id=originator_id,
            originator_version=version,
            topic=topic,
            state=bytes(state),
        )
        for notification_id, originator_id, version, topic, state in rows
    ]
