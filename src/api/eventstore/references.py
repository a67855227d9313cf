"""Reference numbers (`PC/<number>/<yy>`) from the event store's own database.

PostgreSQL: one sequence per year. `nextval` never blocks another lodging and is never rolled
back, so numbers increase with gaps and without a hot row. SQLite serialises every writer
anyway, so a one-row-per-year counter updated in its own short transaction costs nothing more.
"""

from __future__ import annotations

from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore
from psycopg import errors as pg_errors
from psycopg.sql import SQL, Identifier

from domain.service import ReferenceNumbers


class PostgresReferenceNumbers:
    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        self._years_ready: set[int] = set()

    def _sequence(self, year: int) -> Identifier:
        return Identifier(self.datastore.schema, f"complaint_reference_{year}")

    def next_numbers(self, year: int, count: int) -> list[int]:
        if year not in self._years_ready:
            self._create_sequence(year)
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "SELECT nextval(%s::regclass) AS number FROM generate_series(1, %s)",
                (f'"{self.datastore.schema}"."complaint_reference_{year}"', count),
            )
            return sorted(int(row["number"]) for row in cursor.fetchall())

    def _create_sequence(self, year: int) -> None:
        statement = SQL("CREATE SEQUENCE IF NOT EXISTS {}").format(self._sequence(year))
        try:
            with self.datastore.transaction(commit=True) as cursor:
                cursor.execute(statement)
        except Exception as error:  # two processes racing to create the same year's sequence
            if not isinstance(error.__cause__, pg_errors.UniqueViolation):
                raise
        self._years_ready.add(year)


class SQLiteReferenceNumbers:
    def __init__(self, datastore: SQLiteDatastore) -> None:
        self.datastore = datastore
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS complaint_reference_numbers "
                "(year INTEGER PRIMARY KEY, last INTEGER NOT NULL)"
            )

    def next_numbers(self, year: int, count: int) -> list[int]:
        with self.datastore.transaction(commit=True) as cursor:
            cursor.execute(
                "INSERT INTO complaint_reference_numbers (year, last) VALUES (?, ?) "
                "ON CONFLICT (year) DO UPDATE SET last = last + excluded.last RETURNING last",
                (year, count),
            )
            row = cursor.fetchone()
        assert row is not None
        last = int(row[0])
        return list(range(last - count + 1, last + 1))


def reference_numbers_for(recorder: ApplicationRecorder) -> ReferenceNumbers:
    if isinstance(recorder, PostgresApplicationRecorder):
        return PostgresReferenceNumbers(recorder.datastore)
    if isinstance(recorder, SQLiteApplicationRecorder):
        return SQLiteReferenceNumbers(recorder.datastore)
    raise TypeError(f"No reference numbers for {type(recorder).__name__}")
