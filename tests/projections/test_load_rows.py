"""`projections.base.load_rows`: a batch's rows by complaint id, however many it names.

SQLite is asked in chunks of `IN (…)` (it limits a statement's parameters); PostgreSQL in one
`= ANY(array)`, a statement whose text stays the same whatever the batch."""

from __future__ import annotations

from types import SimpleNamespace
from uuid import UUID

import pytest

from projections.base import load_rows
from tests.projections.tables import read_store


def key(n: int) -> str:
    return str(UUID(int=n))


@pytest.mark.parametrize("asked", [0, 1, 499, 500, 501, 1_234])
def test_load_rows_finds_each_row_named_once_and_no_other(database_url: str, asked: int) -> None:
    store = read_store(database_url)
    try:
        with store.schema_transaction() as cursor:
            cursor.execute("DROP TABLE IF EXISTS rows_probe")
            cursor.execute("CREATE TABLE rows_probe (complaint_id TEXT PRIMARY KEY, n INTEGER)")
            cursor.executemany(
                "INSERT INTO rows_probe (complaint_id, n) VALUES (?, ?)",
                [(key(n), n) for n in range(0, 3_000, 2)],  # the even ones only
            )
        # Every other complaint is absent; each is named twice, as by two of its events.
        events = [SimpleNamespace(originator_id=UUID(int=n)) for n in range(asked)]
        with store.reading() as cursor:
            found = load_rows(cursor, "rows_probe", ("complaint_id", "n"), events + events[::-1])
        assert found == {key(n): {"complaint_id": key(n), "n": n} for n in range(0, asked, 2)}
    finally:
        with store.schema_transaction() as cursor:
            cursor.execute("DROP TABLE IF EXISTS rows_probe")
        store.close()
