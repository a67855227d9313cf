"""A live batch in few round trips: the tracking of every projection in three statements, and
small batches sent pipelined (`ReadStore.transaction(pipelined=True)`), on each store."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from projections.store import Cursor, ReadStore, StaleTrackingError, claim_tracking
from tests.projections.tables import execute, read_store, runner_for, select_all


@pytest.fixture
def store(database_url: str) -> Iterator[ReadStore]:
    execute(database_url, "CREATE TABLE IF NOT EXISTS pipelined_probe (k TEXT PRIMARY KEY, n INT)")
    store = read_store(database_url)
    yield store
    store.close()


def test_a_pipelined_transaction_writes_a_batch_too_large_for_single_inserts(
    database_url: str, store: ReadStore
) -> None:
    # 100 rows would go by COPY, which a pipeline refuses: they must go as INSERTs instead.
    rows = [(f"k{n}", n) for n in range(100)]
    with store.transaction(pipelined=True) as cursor:
        cursor.upsert("pipelined_probe", ["k", "n"], rows, ["k"], "n = excluded.n")
        cursor.execute("SELECT COUNT(*) FROM pipelined_probe")
        assert cursor.fetchone()[0] == 100
    assert sorted(select_all(database_url, ["pipelined_probe"])["pipelined_probe"]) == sorted(rows)


def test_an_error_sent_ahead_rolls_the_whole_transaction_back(
    database_url: str, store: ReadStore
) -> None:
    refused = pytest.raises(
        (psycopg.errors.UniqueViolation, sqlite3.IntegrityError), match=r"(?i)unique"
    )
    with refused, store.transaction(pipelined=True) as cursor:
        cursor.execute("INSERT INTO pipelined_probe (k, n) VALUES ('a', 1)")
        cursor.execute("INSERT INTO pipelined_probe (k, n) VALUES ('a', 2)")  # refused
        cursor.execute("SELECT COUNT(*) FROM pipelined_probe")
        cursor.fetchone()
    assert select_all(database_url, ["pipelined_probe"])["pipelined_probe"] == []
    with store.transaction(pipelined=True) as cursor:  # the pooled connection is fit for use
        cursor.execute("INSERT INTO pipelined_probe (k, n) VALUES ('b', 1)")
    assert select_all(database_url, ["pipelined_probe"])["pipelined_probe"] == [("b", 1)]


@pytest.mark.postgres
def test_a_pipelined_write_is_sent_without_waiting_for_its_answer(postgres_url: str) -> None:
    """The proof that a pipeline saves round trips: a write that must wait for a row lock
    returns at once, and its answer is waited for only at the commit."""
    execute(postgres_url, "CREATE TABLE pipelined_probe (k TEXT PRIMARY KEY, n INT)")
    execute(postgres_url, "INSERT INTO pipelined_probe VALUES ('a', 1)")
    store = read_store(postgres_url)
    order: list[str] = []
    sent, release = threading.Event(), threading.Event()

    def hold_the_row() -> None:
        with psycopg.connect(postgres_url) as holder:
            holder.execute("SELECT * FROM pipelined_probe WHERE k = 'a' FOR UPDATE")
            locked.set()
            sent.wait(timeout=10)
            order.append("released")
            release.set()

    locked = threading.Event()
    holder = threading.Thread(target=hold_the_row)
    holder.start()
    try:
        assert locked.wait(timeout=10)
        with store.transaction(pipelined=True) as cursor:
            cursor.execute("UPDATE pipelined_probe SET n = 2 WHERE k = 'a'")
            order.append("sent")
            sent.set()
        order.append("committed")
    finally:
        sent.set()
        holder.join()
        store.close()
    assert order == ["sent", "released", "committed"]
    assert select_all(postgres_url, ["pipelined_probe"])["pipelined_probe"] == [("a", 2)]


class _Counting:
    """A cursor that notes each statement it is given, for the tests of what a batch sends."""

    def __init__(self, cursor: Cursor, seen: list[str]) -> None:
        self._cursor, self._seen = cursor, seen

    def execute(self, sql: str, params: Any = ()) -> Any:
        self._seen.append(sql)
        return self._cursor.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


def _watch(store: ReadStore, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[bool]]:
    """Notes the statements of every write transaction of `store`, and whether each was
    pipelined."""
    seen: list[str] = []
    flags: list[bool] = []
    transaction = store.transaction

    @contextmanager
    def counted(*, pipelined: bool = False) -> Iterator[Any]:
        flags.append(pipelined)
        with transaction(pipelined=pipelined) as cursor:
            yield _Counting(cursor, seen)

    monkeypatch.setattr(store, "transaction", counted)
    return seen, flags


def test_a_batch_is_one_transaction_tracking_every_projection_in_three_statements(
    histories: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with runner_for(histories, batch_size=50) as runner:
        assert len(runner.projections) >= 5
        assert runner.run_batch() == 50  # the first also clears any failure reported before
        seen, pipelined = _watch(runner.store, monkeypatch)
        assert runner.run_batch() == 50
        tracking = [sql for sql in seen if "projection_tracking" in sql]
        assert [sql.split()[0] for sql in tracking] == ["INSERT", "SELECT", "UPDATE"]
        assert pipelined == [True]  # a small batch, as a runner following the log sees
        assert runner.failures == {}
        positions = runner.store.positions()
        assert {positions[p.tracking_name] for p in runner.projections} == {100}


def test_a_catch_up_batch_is_not_pipelined(histories: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with runner_for(histories, batch_size=400) as runner:
        _, pipelined = _watch(runner.store, monkeypatch)
        assert runner.run_batch() == 400
        assert pipelined[0] is False  # large: COPY is worth more than the round trips
        assert runner.failures == {}


def test_one_projection_moved_on_makes_the_claim_of_all_fail(histories: str) -> None:
    with runner_for(histories) as runner:
        names = [projection.tracking_name for projection in runner.projections]
        with runner.store.transaction() as cursor:
            claim_tracking(cursor, runner.store.dialect, names, 0)  # all at 0: claimed
        moved = "UPDATE projection_tracking SET position = 7 WHERE projection = 'learning'"
        execute(histories, moved)
        moved_on = pytest.raises(StaleTrackingError, match=r"^learning no longer at 0$")
        with moved_on, runner.store.transaction() as cursor:
            claim_tracking(cursor, runner.store.dialect, names, 0)
        # The runner then applies each projection alone, each from its own position.
        assert runner.run_batch() > 0
        assert runner.failures == {}
        head = runner.complaints.head_position()
        assert runner.store.positions() == dict.fromkeys(names, head)


def test_the_positions_are_read_again_only_when_another_writer_may_have_moved_them(
    histories: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with runner_for(histories, batch_size=100) as runner:
        reads: list[dict[str, int]] = []
        read = runner.store.positions

        def positions() -> dict[str, int]:
            reads.append(read())
            return reads[-1]

        monkeypatch.setattr(runner.store, "positions", positions)
        for _ in range(3):
            assert runner.run_batch() == 100
        assert len(reads) == 1  # the runner knows the positions it committed
        # A rebuild's swap (say) moves one projection on: the claim fails, nothing is applied
        # twice, and the positions are read again.
        execute(
            histories, "UPDATE projection_tracking SET position = 350 WHERE projection = 'learning'"
        )
        assert runner.run_batch() == 100
        assert len(reads) == 1
        runner.catch_up()
        assert len(reads) >= 2
        assert runner.failures == {}
        head = runner.complaints.head_position()
        assert set(runner.store.positions().values()) == {head}


@pytest.mark.postgres
def test_an_error_the_commit_raises_rolls_back_and_leaves_the_connection_fit(
    postgres_url: str,
) -> None:
    execute(
        postgres_url,
        "CREATE TABLE deferred_probe (k TEXT, "
        "CONSTRAINT one_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)",
    )
    store = read_store(postgres_url)
    try:

        def twice() -> None:
            with store.transaction(pipelined=True) as cursor:
                cursor.execute("INSERT INTO deferred_probe (k) VALUES ('a')")
                cursor.execute("INSERT INTO deferred_probe (k) VALUES ('a')")  # refused at COMMIT

        with pytest.raises(psycopg.errors.UniqueViolation):
            twice()
        assert select_all(postgres_url, ["deferred_probe"])["deferred_probe"] == []
        with store.transaction(pipelined=True) as cursor:
            cursor.execute("INSERT INTO deferred_probe (k) VALUES ('b')")
        with store.reading() as cursor:  # no transaction was left open on the connection
            cursor.execute("SELECT k FROM deferred_probe")
            assert cursor.fetchall() == [("b",)]
    finally:
        store.close()
