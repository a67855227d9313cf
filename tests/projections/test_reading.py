"""`ReadStore.reading`: one snapshot for every statement in it, read only, and the pooled
connection left as it was found, for the writes that take it next."""

from __future__ import annotations

import threading

import psycopg
import pytest

from projections.store import ReadStore
from tests.projections.tables import execute, read_store, settings_for


@pytest.fixture
def store(database_url: str) -> ReadStore:
    execute(database_url, "CREATE TABLE IF NOT EXISTS snapshot_probe (n INTEGER)")
    execute(database_url, "DELETE FROM snapshot_probe")
    return read_store(database_url)


def test_every_statement_of_a_reading_sees_one_snapshot(
    database_url: str, store: ReadStore
) -> None:
    try:
        with store.reading() as cursor:
            cursor.execute("SELECT COUNT(*) FROM snapshot_probe")
            before = cursor.fetchone()[0]
            # Another writer commits between the reading's two statements.
            writer = threading.Thread(
                target=execute, args=(database_url, "INSERT INTO snapshot_probe (n) VALUES (1)")
            )
            writer.start()
            writer.join()
            cursor.execute("SELECT COUNT(*) FROM snapshot_probe")
            after = cursor.fetchone()[0]
        assert before == after == 0
        with store.reading() as cursor:  # the next reading sees it
            cursor.execute("SELECT COUNT(*) FROM snapshot_probe")
            assert cursor.fetchone()[0] == 1
    finally:
        store.close()


def test_a_reading_writes_nothing(postgres_url: str) -> None:
    """(SQLite's reading is a transaction rolled back at its end: nothing it wrote remains.)"""
    execute(postgres_url, "CREATE TABLE snapshot_probe (n INTEGER)")
    store = read_store(postgres_url)
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), store.reading() as cursor:
            cursor.execute("INSERT INTO snapshot_probe (n) VALUES (2)")
    finally:
        store.close()


def test_a_connection_read_from_then_writes_and_sees_the_latest(postgres_url: str) -> None:
    execute(postgres_url, "CREATE TABLE snapshot_probe (n INTEGER)")
    conninfo = settings_for(postgres_url).postgres_conninfo()
    one = ReadStore(conninfo=conninfo, pool_size=1)  # every use takes the same connection

    def failed_reading() -> None:
        with one.reading() as cursor:
            cursor.execute("SELECT COUNT(*) FROM snapshot_probe")
            raise ZeroDivisionError

    try:
        for n in range(3):
            with pytest.raises(ZeroDivisionError):
                failed_reading()
            with one.transaction() as cursor:  # not read-only now
                cursor.execute("INSERT INTO snapshot_probe (n) VALUES (?)", (n,))
            with one.reading() as cursor:  # and not stuck in an earlier snapshot
                cursor.execute("SELECT COUNT(*) FROM snapshot_probe")
                assert cursor.fetchone()[0] == n + 1
    finally:
        one.close()


def test_a_position_is_read_in_one_statement_without_a_transaction(
    database_url: str, store: ReadStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every read-model request asks for one: BEGIN and ROLLBACK around it were two round
    trips of three."""
    try:
        with store.transaction() as cursor:
            cursor.execute(
                "INSERT INTO projection_tracking (projection, position) VALUES ('probe', 41)"
            )

        def no_transaction() -> None:
            raise AssertionError("a transaction was begun")

        monkeypatch.setattr(store, "reading", no_transaction)
        monkeypatch.setattr(store, "transaction", no_transaction)
        assert store.position("probe") == 41
        assert store.position("never-run") == 0
        assert store.positions()["probe"] == 41
    finally:
        monkeypatch.undo()
        store.close()
