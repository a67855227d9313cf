"""A database that is briefly unavailable, told apart from an event that cannot be processed.

`Flaky` counts every event it is handed (like `Tally`, so a batch applied twice shows) and then
raises what its script says on its n-th call, inside the runner's transaction, after writing:
so the rows it wrote must be rolled back with the position. A transient error (the store locked
or unreachable) must be retried promptly, from the same position, without a failure row (what
/health/ready reports as `failing`) or the poison event's log line; an error of the event
itself must still park the projection at that event, recorded, as before.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import ClassVar

import eventsourcing.persistence
import psycopg
import psycopg_pool
import pytest

from domain.complaint import Complaint
from projections.base import Projection
from projections.outages import is_transient
from projections.runner import Coordinator, ProjectionRunner, stored_failures
from projections.store import Cursor
from tests.projections.plans import EARLIEST, generate, play_service
from tests.projections.tables import Tally, head, logged, read_store, select_all, service, tally

DEADLINE = 5.0  # seconds to catch up; parking (the wrong outcome) would take 30
LOGGER = "complaints.projections"

ErrorFactory = Callable[[], Exception]

TRANSIENT: dict[str, ErrorFactory] = {
    "sqlite-locked": lambda: sqlite3.OperationalError("database is locked"),
    "postgres-gone": lambda: psycopg.OperationalError(
        "consuming input failed: server closed the connection unexpectedly"
    ),
    "event-store-outage": lambda: eventsourcing.persistence.OperationalError("connection lost"),
}


class Flaky(Projection):
    """Counts the events it is handed by kind; raises `script[n]()` on its n-th call (from 1),
    and a ValueError on every call whose batch holds the `poison` event."""

    name = "flaky"
    tables: ClassVar[dict[str, str]] = {"flaky": "kind TEXT PRIMARY KEY, n BIGINT NOT NULL"}

    def __init__(
        self, script: dict[int, ErrorFactory] | None = None, poison: tuple[str, int] | None = None
    ) -> None:
        super().__init__()
        self.script = dict(script or {})
        self.poison = poison
        self.calls = 0

    def process(self, cursor: Cursor, events: Sequence[Complaint.Event]) -> None:
        self.calls += 1
        table = self.table["flaky"]
        for kind, n in sorted(Counter(type(event).__name__ for event in events).items()):
            cursor.execute(
                f"INSERT INTO {table} (kind, n) VALUES (?, ?) "
                f"ON CONFLICT (kind) DO UPDATE SET n = {table}.n + excluded.n",
                (kind, n),
            )
        if self.calls in self.script:
            raise self.script[self.calls]()
        keys = {(str(event.originator_id), event.originator_version) for event in events}
        if self.poison in keys:
            raise ValueError("the event lacks its `learning` section")


@pytest.fixture
def url(database_url: str) -> str:
    """A database (on each store) holding a few histories, some 40 events."""
    with service(database_url) as complaints:
        play_service(complaints, generate(12, seed=5, earliest=EARLIEST), chunk=4)
    return database_url


@contextmanager
def runner_with(url: str, projections: list[Projection]) -> Iterator[ProjectionRunner]:
    with service(url) as complaints:
        store = read_store(url)
        try:
            runner = ProjectionRunner(complaints, store, projections)
            runner.setup()
            yield runner
        finally:
            store.close()


def flaky_counts(url: str) -> dict[str, int]:
    return {kind: int(n) for kind, n in select_all(url, ["flaky"])["flaky"]}


def assert_never_failing(runner: ProjectionRunner) -> None:
    """What /health/ready reads (the `projection_failures` rows) and the runner's own record."""
    assert stored_failures(runner.store) == {}, "a transient error was reported as failing"
    assert runner.failures == {}, "a transient error parked the projection"


def follow(runner: ProjectionRunner, done: Callable[[], bool]) -> None:
    """Runs batches, as `run_forever` does, until `done()`, checking nothing is ever failing."""
    deadline = time.monotonic() + DEADLINE
    while not done():
        assert time.monotonic() < deadline, f"not caught up within {DEADLINE}s"
        runner.run_batch()
        assert_never_failing(runner)
        time.sleep(0.01)


def at_head(runner: ProjectionRunner, url: str) -> Callable[[], bool]:
    target = head(url)
    names = [projection.tracking_name for projection in runner.projections]
    return lambda: all(runner.store.positions().get(name) == target for name in names)


def assert_retried_not_parked(caplog: pytest.LogCaptureFixture) -> None:
    messages = [(record.levelno, record.getMessage()) for record in caplog.records]
    assert not [m for level, m in messages if level >= logging.ERROR], messages
    assert any(
        level == logging.WARNING and "database unavailable, retrying" in m for level, m in messages
    ), messages


@pytest.mark.parametrize("arrangement", ["alone", "beside-another"])
@pytest.mark.parametrize("error", TRANSIENT, ids=str)
def test_a_transient_error_is_retried_promptly_and_never_reported_failing(
    url: str, error: str, arrangement: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    flaky = Flaky(script=dict.fromkeys((1, 2, 3), TRANSIENT[error]))
    # Beside another projection, the first attempts are the runner's one-transaction path.
    others: list[Projection] = [Tally()] if arrangement == "beside-another" else []
    with runner_with(url, [flaky, *others]) as runner:
        follow(runner, at_head(runner, url))
        assert flaky.calls >= 4
        assert_never_failing(runner)
    assert flaky_counts(url) == logged(url)  # exactly once: the failed attempts rolled back
    if others:
        assert tally(url) == logged(url)
    assert_retried_not_parked(caplog)


def test_catch_up_waits_out_a_transient_error_instead_of_stopping_short(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    flaky = Flaky(script=dict.fromkeys((1, 2, 3), TRANSIENT["sqlite-locked"]))
    with runner_with(url, [flaky, Tally()]) as runner:
        started = time.monotonic()
        runner.catch_up()
        assert time.monotonic() - started < DEADLINE
        assert at_head(runner, url)(), runner.store.positions()
        assert_never_failing(runner)
    assert flaky_counts(url) == tally(url) == logged(url)
    assert_retried_not_parked(caplog)


def test_catch_up_gives_up_on_an_outage_that_outlasts_its_patience(url: str) -> None:
    # Given a database that never answers the projection's writes (every call fails for now)
    flaky = Flaky(script=dict.fromkeys(range(1, 1000), TRANSIENT["sqlite-locked"]))
    with runner_with(url, [flaky]) as runner:
        started = time.monotonic()
        # when a catch-up (as a rebuild runs it) waits it out, then it says so within bounds
        with pytest.raises(TimeoutError, match="has not answered"):
            runner.catch_up(patience=0.5)
        assert time.monotonic() - started < DEADLINE
        assert_never_failing(runner)  # and it was never reported as a poison event


class Leading(Coordinator):
    """The only process: always leads; waits as asked (no events arrive to wake it)."""

    def lead(self) -> bool:
        return True

    def wait(self, timeout: float) -> None:
        time.sleep(timeout)


def test_the_worker_loop_retries_a_transient_error_promptly(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    flaky = Flaky(script=dict.fromkeys((1, 2, 3), TRANSIENT["postgres-gone"]))
    with runner_with(url, [flaky]) as runner:
        stop = threading.Event()
        worker = threading.Thread(target=runner.run_forever, args=(stop, Leading()))
        worker.start()
        try:
            done = at_head(runner, url)
            deadline = time.monotonic() + DEADLINE
            while not done():
                assert time.monotonic() < deadline, f"not caught up within {DEADLINE}s"
                assert stored_failures(runner.store) == {}, "reported as failing"
                time.sleep(0.02)
        finally:
            stop.set()
            worker.join(timeout=10)
        assert_never_failing(runner)
    assert flaky_counts(url) == logged(url)
    assert_retried_not_parked(caplog)


POISON_AT = 10  # the poison is the 10th event of the log


def _poison(url: str) -> tuple[int, int, tuple[str, int], dict[str, int]]:
    """The poison's position, the position before it, its (originator, version), and the
    count by kind of the events before it."""
    with service(url) as complaints:
        notifications = complaints.recorder.select_notifications(start=1, limit=POISON_AT)
        events = [complaints.mapper.to_domain_event(n) for n in notifications]
    key = (str(events[-1].originator_id), events[-1].originator_version)
    before = dict(Counter(type(event).__name__ for event in events[:-1]))
    return notifications[-1].id, notifications[-2].id, key, before


def test_an_event_that_cannot_be_processed_is_still_parked_and_recorded(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The control: a ValueError from the event itself is a poison, as before."""
    caplog.set_level(logging.DEBUG, LOGGER)
    position, previous, key, before = _poison(url)
    flaky = Flaky(poison=key)
    with runner_with(url, [flaky, Tally()]) as runner:
        runner.catch_up()
        assert runner.store.position("flaky") == previous
        assert runner.store.position("tally") == head(url)  # the others go on
        stuck = stored_failures(runner.store)
        assert set(stuck) == {"flaky"}
        assert stuck["flaky"]["stuck_at_position"] == position
        assert stuck["flaky"]["error"].startswith("ValueError: ")
        failure = runner.failures["flaky"]
        assert failure.retry_at - time.monotonic() >= runner.retry_seconds - 1  # parked
        calls = flaky.calls
        assert runner.run_batch() == 0  # it waits: no retry before its time
        assert flaky.calls == calls
    assert flaky_counts(url) == before
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert lines == [
        f"projection flaky cannot process the event at position {position}: "
        "the event lacks its `learning` section"
    ], lines
    assert "database unavailable" not in caplog.text


def test_a_transient_error_while_isolating_a_poison_parks_only_the_poison(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch fails on the poison; then, applying its events one by one, the database is
    briefly locked on a good event: that event must not be taken for the poison."""
    caplog.set_level(logging.DEBUG, LOGGER)
    position, previous, key, before = _poison(url)
    flaky = Flaky(script={2: TRANSIENT["sqlite-locked"]}, poison=key)
    with runner_with(url, [flaky]) as runner:
        deadline = time.monotonic() + DEADLINE
        while "flaky" not in runner.failures:
            assert time.monotonic() < deadline, f"the poison was not found within {DEADLINE}s"
            runner.run_batch()
            for stuck in stored_failures(runner.store).values():
                assert stuck["stuck_at_position"] == position, stuck
            time.sleep(0.01)
        assert runner.failures["flaky"].position == position
        assert runner.store.position("flaky") == previous
    assert flaky_counts(url) == before


def _real_sqlite_errors(folder: Path) -> tuple[sqlite3.OperationalError, sqlite3.OperationalError]:
    """A "database is locked" and a "no such table", as SQLite itself raises them."""
    path = folder / "locks.db"
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("BEGIN IMMEDIATE")
        with closing(sqlite3.connect(path, isolation_level=None, timeout=0)) as other:
            try:
                other.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                locked = error
            try:
                other.execute("SELECT * FROM missing")
            except sqlite3.OperationalError as error:
                missing = error
    return locked, missing


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (sqlite3.OperationalError("database is locked"), True),
        (sqlite3.OperationalError("database table is locked"), True),
        (psycopg.OperationalError("connection failed: Connection refused"), True),
        (psycopg.errors.AdminShutdown("terminating connection"), True),
        (psycopg.errors.CannotConnectNow("the database system is starting up"), True),
        (psycopg.errors.SerializationFailure("could not serialize access"), True),
        (psycopg.errors.DeadlockDetected("deadlock detected"), True),
        (psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"), True),
        (psycopg_pool.PoolTimeout("couldn't get a connection after 5.00 sec"), True),
        (eventsourcing.persistence.OperationalError("connection lost"), True),
        (eventsourcing.persistence.InterfaceError("connection closed"), True),
        (TimeoutError(), True),
        (ConnectionResetError(), True),
        (ValueError("the event lacks its `learning` section"), False),
        (KeyError("learning"), False),
        (sqlite3.OperationalError("no such column: learnng"), False),
        (sqlite3.IntegrityError("NOT NULL constraint failed"), False),
        (psycopg.errors.UndefinedColumn('column "learnng" does not exist'), False),
        (psycopg.errors.StatementTooComplex("statement too complex"), False),
        (psycopg.errors.NotNullViolation("null value in column"), False),
        (psycopg_pool.PoolClosed("the pool is closed"), False),
        (eventsourcing.persistence.IntegrityError("duplicate"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_errors_are_classified_as_transient_or_not(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient


def test_sqlite_errors_are_classified_by_their_code(tmp_path: Path) -> None:
    locked, missing = _real_sqlite_errors(tmp_path)
    assert is_transient(locked) is True
    assert is_transient(missing) is False
