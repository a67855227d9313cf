"""What every read model is: a projection class that owns some tables and processes batches.

A projection declares its tables and indexes (so that a rebuild can build a shadow copy under
other names and swap it in), and turns a batch of domain events into row changes inside the
transaction the runner gives it. It reads only the events and its own tables.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, ClassVar

from domain.complaint import Complaint
from domain.rules import local_date
from projections.store import Cursor

SHADOW_SUFFIX = "__rebuild"


@dataclass(frozen=True)
class Index:
    table: str
    name: str
    columns: str
    where: str = ""


class Projection:
    """Base class: subclasses set `name`, `tables`, `indexes` and implement `process`."""

    name: ClassVar[str]
    # Logical table name → column definitions (portable SQL: TEXT, BIGINT, INTEGER).
    tables: ClassVar[dict[str, str]]
    indexes: ClassVar[tuple[Index, ...]] = ()
    # Raised when what the model makes of the events changes with its tables left alike, so
    # that a database built by an earlier release is rebuilt (`projections.schema`).
    schema_version: ClassVar[int] = 1

    def __init__(self, *, shadow: bool = False) -> None:
        suffix = SHADOW_SUFFIX if shadow else ""
        # The name each of its tables has in the database: a rebuild's shadow copies differ.
        self.table = {logical: logical + suffix for logical in self.tables}
        self.tracking_name = self.name + suffix

    def create_statements(self) -> list[str]:
        return self.table_statements() + self.index_statements()

    def table_statements(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table[logical]} ({columns})"
            for logical, columns in self.tables.items()
        ]

    def index_statements(self) -> list[str]:
        return [self.index_statement(index) for index in self.indexes]

    def index_name(self, index: Index) -> str:
        return f"{self.table[index.table]}_{index.name}_idx"

    def index_statement(self, index: Index) -> str:
        where = f" WHERE {index.where}" if index.where else ""
        return (
            f"CREATE INDEX IF NOT EXISTS {self.index_name(index)} "
            f"ON {self.table[index.table]} ({index.columns}){where}"
        )

    def process(self, cursor: Cursor, events: Sequence[Complaint.Event]) -> None:
        raise NotImplementedError


# A batch names each complaint several times over, in every projection; the text of a UUID
# costs a microsecond to make, which was 7% of a rebuild's time. The texts are kept by the
# UUID's integer: a UUID's own hash and equality are Python code, and each decoded event has
# its own UUID object, so a cache keyed by UUIDs paid for both on every hit (0.25 µs a call,
# against 0.09). A rebuild's batch of 10,000 events names fewer complaints than are kept.
TEXTS_KEPT = 1 << 14
_texts: dict[int, str] = {}


def complaint_key(event: Complaint.Event) -> str:
    """The text of the event's complaint id, as read models key their rows."""
    complaint_id = event.originator_id
    text = _texts.get(complaint_id.int)
    if text is None:
        if len(_texts) >= TEXTS_KEPT:  # a few MiB at most: start again rather than grow
            _texts.clear()
        text = _texts[complaint_id.int] = str(complaint_id)
    return text


def moment(value: datetime) -> str:
    """Timestamps are stored as fixed-width UTC text, so text order is time order."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def day(value: datetime) -> str:
    """The force's calendar date of an instant, as YYYY-MM-DD."""
    return local_date(value).isoformat()


def parse_day(value: str) -> date:
    return date.fromisoformat(value)


def load_rows(
    cursor: Cursor, table: str, columns: Sequence[str], events: Sequence[Complaint.Event]
) -> dict[str, dict[str, Any]]:
    """Rows by `complaint_id` (the first column), for the complaints of the events given."""
    found: dict[str, dict[str, Any]] = {}
    ids = list(dict.fromkeys(complaint_key(event) for event in events))
    for match, params in cursor.key_in("complaint_id", ids):
        cursor.execute(f"SELECT {', '.join(columns)} FROM {table} WHERE {match}", params)
        for row in cursor.fetchall():
            found[row[0]] = dict(zip(columns, row, strict=True))
    return found


def unapplied(
    rows: dict[str, dict[str, Any]],
    events: Sequence[Complaint.Event],
    first_row: Callable[[Complaint.Lodged], dict[str, Any]],
) -> Iterator[tuple[dict[str, Any], Complaint.Event]]:
    """Each event this projection has not yet applied, with its complaint's row.

    A lodging creates the row (`first_row`); a later event is new only if its version is above
    the row's, which the row then takes. So an event replayed or processed twice changes nothing,
    whatever the batches were.
    """
    for event in events:
        key = complaint_key(event)
        row = rows.get(key)
        if isinstance(event, Complaint.Lodged):
            if row is None:
                rows[key] = first_row(event)
                yield rows[key], event
            continue
        if row is None or int(row["version"]) >= event.originator_version:
            continue
        row["version"] = event.originator_version
        yield row, event


def upsert_rows(
    cursor: Cursor, table: str, columns: Sequence[str], rows: Sequence[dict[str, Any]]
) -> None:
    if not rows:
        return
    updates = ", ".join(f"{column} = excluded.{column}" for column in columns[1:])
    values = [tuple(row[column] for column in columns) for row in rows]
    cursor.upsert(table, columns, values, ("complaint_id",), updates)
