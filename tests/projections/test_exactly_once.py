"""Exactly once: a batch applied twice, events processed twice, two runners racing.

Histories are played through the aggregate and `Complaints.save`; the projection classes run
under `ProjectionRunner` on a `ReadStore`, as `complaints project` runs them. The reference is a
clean build of shadow copies (`<table>__rebuild`) by one runner in one go. The read models skip
events they have seen, so a runner applying a batch twice could hide behind them: `Tally`, which
counts every event it is handed, runs beside them and must match the log exactly.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from projections.runner import ProjectionRunner
from tests.projections.plans import EARLIEST, generate, play_service
from tests.projections.tables import (
    Rows,
    clean_build,
    dump,
    head,
    logged,
    runner_for,
    service,
    tally,
)


@pytest.fixture
def url(histories: str) -> str:
    return histories


def live(url: str) -> Rows:
    return dump(url)


def test_small_batches_give_the_rows_of_one_big_batch(url: str) -> None:
    with runner_for(url, batch_size=97) as runner:
        runner.catch_up()
        assert runner.failures == {}
    rows = live(url)
    assert rows == clean_build(url)
    assert rows["positions"] == [(name, head(url)) for name, _ in rows["positions"]]
    assert len(rows["case_list"]) == 300
    # A count taken back to zero (a back-dated contact moving a duration between two batches)
    # leaves no row behind, or the rows would depend on the batching.
    for table in ("learning_counts", "timeliness_counts"):
        assert [row for row in rows[table] if row[-1] == 0] == [], table


def test_a_batch_run_again_from_a_stale_position_changes_nothing(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with runner_for(url, batch_size=150, with_tally=True) as runner:
        runner.run_batch()
        stale = runner.store.positions()
        runner.run_batch()
        after_two, tally_after_two = live(url), tally(url)
        assert sum(tally_after_two.values()) == 300

        # A second runner that read the positions before the second batch was committed
        # (or this runner after a crash, with its memory gone) tries to apply it again.
        again = ProjectionRunner(
            runner.complaints, runner.store, runner.projections, batch_size=150
        )
        monkeypatch.setattr(runner.store, "positions", lambda: dict(stale))
        assert again.run_batch() > 0
        assert live(url) == after_two
        assert tally(url) == tally_after_two
        assert again.failures == {}

        monkeypatch.undo()
        runner.failures.clear()
        runner.catch_up()
    assert live(url) == clean_build(url)
    assert tally(url) == logged(url)


def _events(url: str) -> Iterator[list[object]]:
    with service(url) as complaints:
        notifications = complaints.recorder.select_notifications(start=1, limit=10**6)
        yield [complaints.mapper.to_domain_event(n) for n in notifications]


@pytest.mark.parametrize(
    ("chunk", "order"), [(7, "log"), (10**6, "log"), (10**6, "reversed")], ids=str
)
def test_processing_applied_events_again_changes_nothing(url: str, chunk: int, order: str) -> None:
    with runner_for(url) as runner:
        runner.catch_up()
        before = live(url)
        events = next(_events(url))
        if order == "reversed":
            events.reverse()
        for projection in runner.projections:
            for start in range(0, len(events), chunk):
                with runner.store.transaction() as cursor:
                    projection.process(cursor, events[start : start + chunk])  # type: ignore[arg-type]
    assert live(url) == before


def test_two_runners_racing_give_the_rows_of_one(url: str) -> None:
    with runner_for(url, with_tally=True):
        pass  # the tables exist before the race (their creation races: see below)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def run(batch_size: int) -> None:
        try:
            with runner_for(url, batch_size=batch_size, with_tally=True) as runner:
                start.wait()
                runner.catch_up()
                assert runner.failures == {}
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(size,)) for size in (37, 53)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert live(url) == clean_build(url)
    assert tally(url) == logged(url)


def test_events_written_while_the_runner_follows_are_each_applied_once(url: str) -> None:
    # More histories arrive in small transactions while a runner keeps catching up.
    done = threading.Event()
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with service(url) as complaints:
                later = generate(80, seed=12, earliest=EARLIEST)
                play_service(complaints, later, chunk=6)
        except BaseException as error:
            errors.append(error)
        finally:
            done.set()

    writer = threading.Thread(target=write)
    with runner_for(url, batch_size=61, with_tally=True) as runner:
        writer.start()
        while not done.is_set():
            runner.run_batch()
        writer.join()
        runner.catch_up()
    assert errors == []
    rows = live(url)
    assert len(rows["case_list"]) == 380
    assert rows == clean_build(url)
    assert tally(url) == logged(url)


# docs/API.md: "a second process pointed at the same database ... is safe", also when both start on
# an empty one (PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a concurrent twin).
@pytest.mark.parametrize("store", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_processes_setting_up_an_empty_database_at_once_all_succeed(
    request: pytest.FixtureRequest, store: str
) -> None:
    url: str = request.getfixturevalue(f"{store}_url")
    gate = threading.Barrier(4)
    errors: list[BaseException] = []

    def set_up() -> None:
        try:
            gate.wait()
            with runner_for(url):
                pass
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=set_up) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
