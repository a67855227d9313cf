"""Reading read-model tables straight from the database (sqlite3 / psycopg), and building the
pieces of the projection machinery that the integration tests drive by hand."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import datetime
from typing import Any, ClassVar

import psycopg

from api.app import build_complaints
from api.settings import Settings
from domain.complaint import Complaint
from domain.service import Complaints
from projections.base import Projection
from projections.catalogue import PROJECTIONS
from projections.runner import ProjectionRunner
from projections.store import Cursor, ReadStore
from tests.projections.plans import NOW

Rows = dict[str, list[tuple[Any, ...]]]


def settings_for(url: str) -> Settings:
    return Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]


@contextmanager
def service(url: str, now: datetime = NOW) -> Iterator[Complaints]:
    complaints = build_complaints(settings_for(url), clock=lambda: now)
    try:
        yield complaints
    finally:
        complaints.close()


def read_store(url: str) -> ReadStore:
    settings = settings_for(url)
    if settings.is_postgres:
        return ReadStore(conninfo=settings.postgres_conninfo())
    return ReadStore(sqlite_path=settings.sqlite_path)


class Tally(Projection):
    """A projection for tests that is not idempotent: it adds one per event it is handed, so
    only the runner's tracking stands between a batch applied twice and a wrong count."""

    name = "tally"
    tables: ClassVar[dict[str, str]] = {"tally": "kind TEXT PRIMARY KEY, n BIGINT NOT NULL"}

    def process(self, cursor: Cursor, events: Sequence[Complaint.Event]) -> None:
        table = self.table["tally"]
        for kind, n in sorted(Counter(type(event).__name__ for event in events).items()):
            cursor.execute(
                f"INSERT INTO {table} (kind, n) VALUES (?, ?) "
                f"ON CONFLICT (kind) DO UPDATE SET n = {table}.n + excluded.n",
                (kind, n),
            )


def tally(url: str) -> dict[str, int]:
    return {kind: int(n) for kind, n in select_all(url, ["tally"])["tally"]}


def logged(url: str) -> dict[str, int]:
    """How many events of each kind the log holds: what `Tally` must say."""
    with service(url) as complaints:
        notifications = complaints.recorder.select_notifications(start=1, limit=10**7)
        kinds = Counter(type(complaints.mapper.to_domain_event(n)).__name__ for n in notifications)
    return dict(kinds)


@contextmanager
def runner_for(
    url: str, *, shadow: bool = False, batch_size: int = 1000, with_tally: bool = False
) -> Iterator[ProjectionRunner]:
    """A runner over every read model (or over shadow copies of them), its tables set up."""
    with service(url) as complaints:
        store = read_store(url)
        try:
            projections = fresh_projections(shadow=shadow) + ([Tally()] if with_tally else [])
            runner = ProjectionRunner(complaints, store, projections, batch_size=batch_size)
            runner.setup()
            yield runner
        finally:
            store.close()


def fresh_projections(*, shadow: bool = False) -> list[Projection]:
    return [projection_class(shadow=shadow) for projection_class in PROJECTIONS.values()]


def logical_tables() -> list[str]:
    return [table for projection in fresh_projections() for table in projection.tables]


def dump(url: str, *, shadow: bool = False) -> Rows:
    """Every row of every read-model table (by logical name), sorted, and each position."""
    names = {
        logical: physical
        for projection in fresh_projections(shadow=shadow)
        for logical, physical in projection.table.items()
    }
    rows = select_all(url, names.values())
    result = {logical: rows[physical] for logical, physical in names.items()}
    tracking = {
        projection.name: projection.tracking_name for projection in fresh_projections(shadow=shadow)
    }
    positions = dict(select_all(url, ["projection_tracking"])["projection_tracking"])
    result["positions"] = sorted(
        (name, positions.get(tracked)) for name, tracked in tracking.items()
    )
    return result


def select_all(url: str, tables: Iterable[str]) -> Rows:
    """`SELECT *` of each table, rows sorted, read with the driver itself (no project code)."""
    found: Rows = {}
    if url.startswith("sqlite:"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            for table in tables:
                found[table] = sorted(connection.execute(f"SELECT * FROM {table}"), key=repr)
        return found
    with psycopg.connect(url) as connection:
        for table in tables:
            found[table] = sorted(connection.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
    return found


def clean_build(url: str) -> Rows:
    """The rows one runner builds from scratch in one batch, into shadow tables (dropped after)."""
    with runner_for(url, shadow=True, batch_size=1_000_000) as runner:
        runner.catch_up()
        assert runner.failures == {}
        rows = dump(url, shadow=True)
        with runner.store.transaction() as cursor:
            for projection in runner.projections:
                for table in projection.table.values():
                    cursor.execute(f"DROP TABLE {table}")
                for bookkeeping in ("projection_tracking", "projection_schema"):
                    cursor.execute(
                        f"DELETE FROM {bookkeeping} WHERE projection = ?",
                        (projection.tracking_name,),
                    )
    return rows


def head(url: str) -> int:
    with service(url) as complaints:
        return complaints.head_position()


def tables_named(url: str, fragment: str) -> list[str]:
    if url.startswith("sqlite:"):
        query = "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ?"
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            return [row[0] for row in connection.execute(query, (f"%{fragment}%",))]
    query = "SELECT tablename FROM pg_tables WHERE tablename LIKE %s"
    with psycopg.connect(url) as connection:
        return [row[0] for row in connection.execute(query, (f"%{fragment}%",))]


def indexes_on(url: str, tables: Iterable[str]) -> list[tuple[str, str]]:
    """(index, definition) of every index on the tables named, primary keys included."""
    names = list(tables)
    if url.startswith("sqlite:"):
        marks = ",".join("?" * len(names))
        query = (
            "SELECT name, COALESCE(sql, 'primary key of ' || tbl_name) FROM sqlite_master "
            f"WHERE type = 'index' AND tbl_name IN ({marks})"
        )
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            return sorted(connection.execute(query, names))
    query = "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s)"
    with psycopg.connect(url) as connection:
        return sorted(connection.execute(query, (names,)).fetchall())


def execute(url: str, statement: str) -> None:
    if url.startswith("sqlite:"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as connection:
            connection.execute(statement)
            connection.commit()
        return
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute(statement)  # type: ignore[arg-type]
