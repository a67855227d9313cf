"""`projections.rebuild.rebuild`: rows identical to a live run, twice in a row, a damaged model
repaired, only the models named, and readers during a rebuild on a live system."""

from __future__ import annotations

import bisect
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any

import psycopg

from domain.complaint import Complaint
from projections.case_list.projection import CaseList
from projections.case_list.queries import CaseFilter, page
from projections.catalogue import PROJECTIONS
from projections.learning import LearningStatistics
from projections.rebuild import rebuild
from tests.projections.plans import EARLIEST, generate, play_service
from tests.projections.tables import (
    clean_build,
    dump,
    execute,
    fresh_projections,
    indexes_on,
    logical_tables,
    read_store,
    runner_for,
    service,
    tables_named,
)


def rebuild_models(url: str, *names: str) -> None:
    chosen = [PROJECTIONS[name] for name in (names or PROJECTIONS)]
    with service(url) as complaints:
        store = read_store(url)
        try:
            rebuild(complaints, store, chosen)
        finally:
            store.close()


def test_a_rebuild_gives_the_rows_of_the_live_run_twice_in_a_row(histories: str) -> None:
    with runner_for(histories, batch_size=97) as runner:
        runner.catch_up()
    before = dump(histories)

    rebuild_models(histories)
    assert dump(histories) == before
    rebuild_models(histories)
    assert dump(histories) == before

    leftovers = tables_named(histories, "__rebuild")
    assert leftovers == []
    assert all("__rebuild" not in name for name, _ in before["positions"])


def test_a_rebuild_repairs_a_damaged_model_and_only_the_models_named(histories: str) -> None:
    with runner_for(histories) as runner:
        runner.catch_up()
    good = dump(histories)
    execute(histories, "DELETE FROM case_list WHERE status = 'resolved'")
    execute(histories, "UPDATE learning_counts SET n = n + 3 WHERE dimension = 'outcome'")
    execute(histories, "DELETE FROM timeliness_complaints")
    damaged = dump(histories)

    rebuild_models(histories, "learning")
    after = dump(histories)
    assert after["learning_counts"] == good["learning_counts"]
    assert after["case_list"] == damaged["case_list"] != good["case_list"]
    assert after["timeliness_complaints"] == []

    rebuild_models(histories, "case_list", "timeliness")
    assert dump(histories) == good


def test_a_rebuild_on_a_database_without_read_models_builds_them(histories: str) -> None:
    rebuild_models(histories)
    rows = dump(histories)
    assert rows == clean_build(histories)
    assert len(rows["case_list"]) == 300


def test_a_rebuild_leaves_the_indexes_of_a_live_build(histories: str) -> None:
    with runner_for(histories) as runner:
        runner.setup()
    live = indexes_on(histories, logical_tables())
    assert len(live) > len(logical_tables())  # more than the primary keys

    rebuild_models(histories)
    assert indexes_on(histories, logical_tables()) == live
    assert tables_named(histories, "__rebuild") == []


def test_a_shadow_fills_holding_only_its_primary_keys(histories: str) -> None:
    """Its other indexes are built once it has caught up, not kept current row by row."""
    shadow_tables = [t for p in fresh_projections(shadow=True) for t in p.table.values()]
    seen: list[list[tuple[str, str]]] = []
    with service(histories) as complaints:
        store = read_store(histories)
        try:
            rebuild(
                complaints,
                store,
                list(PROJECTIONS.values()),
                progress=lambda _, n: seen.append(indexes_on(histories, shadow_tables)),
                batch_size=100,
            )
        finally:
            store.close()
    assert len(seen) > 1
    for found in seen:
        assert len(found) == len(shadow_tables)
        assert all(
            "primary key" in definition.lower() or "_pkey" in name for name, definition in found
        )


# ---- readers during a rebuild on a live system ------------------------------------------------

# One statement each, so one snapshot: what a model says, and the position it claims to reflect.
# The sum of versions kept per complaint moves with every event; the counts are what readers ask.
SNAPSHOTS = {
    "case_list": "SELECT COALESCE(SUM(version), 0), COUNT(*), "
    "(SELECT position FROM projection_tracking WHERE projection = 'case_list') FROM case_list",
    "learning": "SELECT (SELECT COALESCE(SUM(version), 0) FROM learning_complaints), "
    "(SELECT COALESCE(SUM(n), 0) FROM learning_counts WHERE grain = 'm' AND dimension = 'total'), "
    "(SELECT position FROM projection_tracking WHERE projection = 'learning')",
    "timeliness": "SELECT (SELECT COALESCE(SUM(version), 0) FROM timeliness_complaints), "
    "(SELECT COALESCE(SUM(n), 0) FROM timeliness_counts WHERE grain = 'm' "
    "AND measure = 'lodged_to_assigned' AND unit = 'calendar_days'), "
    "(SELECT position FROM projection_tracking WHERE projection = 'timeliness')",
}


@contextmanager
def connect(url: str) -> Iterator[Callable[[str], tuple[Any, ...]]]:
    if url.startswith("sqlite:"):
        with closing(sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)) as lite:
            yield lambda sql: lite.execute(sql).fetchone()
        return
    with psycopg.connect(url, autocommit=True) as pg:
        yield lambda sql: pg.execute(sql).fetchone()  # type: ignore[arg-type,return-value]


def expected_figures(url: str) -> dict[str, Callable[[int], tuple[int, int]]]:
    """For each model, what it says once it has processed the log up to a position: the events
    so far, and the complaints lodged (or, for timeliness, first assigned) so far."""
    positions: list[int] = []
    events: list[int] = []
    lodged: list[int] = []
    assigned: list[int] = []
    seen: set[Any] = set()
    with service(url) as complaints:
        for notification in complaints.recorder.select_notifications(start=1, limit=10**7):
            event = complaints.mapper.to_domain_event(notification)
            first = isinstance(event, Complaint.InvestigatorAssigned) and (
                event.originator_id not in seen
            )
            if first:
                seen.add(event.originator_id)
            positions.append(notification.id)
            events.append(len(events) + 1)
            lodged.append((lodged[-1] if lodged else 0) + isinstance(event, Complaint.Lodged))
            assigned.append((assigned[-1] if assigned else 0) + first)

    def at(figure: list[int]) -> Callable[[int], tuple[int, int]]:
        def answer(p: int) -> tuple[int, int]:
            index = bisect.bisect_right(positions, p) - 1
            return (events[index], figure[index]) if index >= 0 else (0, 0)

        return answer

    return {"case_list": at(lodged), "learning": at(lodged), "timeliness": at(assigned)}


def test_readers_during_a_rebuild_see_the_old_or_the_new_complete_model(histories: str) -> None:
    url = histories
    with runner_for(url) as runner:
        runner.catch_up()
    stop, writing = threading.Event(), threading.Event()
    observed: list[tuple[str, tuple[int, int], int]] = []
    errors: list[BaseException] = []

    def guarded(work: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                work()
            except BaseException as error:
                errors.append(error)
                stop.set()

        return run

    def write() -> None:
        with service(url) as complaints:
            play_service(complaints, generate(40, seed=99, earliest=EARLIEST), chunk=4)
        writing.set()

    def follow() -> None:
        # The live runner lags behind the writer, so that the model a rebuild swaps in stands
        # further on in the log than the one it replaces: a swap that let readers see the new
        # rows with the old position (or the reverse) would show.
        with runner_for(url, batch_size=10) as runner:
            while not stop.is_set():
                runner.run_batch()
                time.sleep(0.05)

    def read_raw() -> None:
        with connect(url) as query:
            while not stop.is_set():
                for name, sql in SNAPSHOTS.items():
                    versions, count, position = query(sql)
                    observed.append((name, (int(versions), int(count)), int(position or 0)))

    def read_as_the_api_does() -> None:
        store = read_store(url)
        try:
            while not stop.is_set():
                with store.reading() as cursor:
                    LearningStatistics().query(cursor, None, None)
                    page(cursor, CaseList().table["case_list"], CaseFilter(), limit=20, after=None)
                store.positions()
        finally:
            store.close()

    work = [write, follow, read_raw, read_raw, read_as_the_api_does]
    threads = [threading.Thread(target=guarded(target)) for target in work]
    for thread in threads:
        thread.start()
    try:
        while not (writing.is_set() or stop.is_set()):
            rebuild_models(url)
        rebuild_models(url)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert errors == []

    with runner_for(url) as runner:
        runner.catch_up()
    assert dump(url) == clean_build(url)
    figures = expected_figures(url)
    wrong = [(name, got, at) for name, got, at in observed if got != figures[name](at)]
    assert wrong == []
    assert len({at for _, _, at in observed}) >= 2  # the readers saw the models move
