"""`complaints project` as its own process on PostgreSQL: SIGKILLed mid-catch-up, restarted,
stopped with SIGTERM; and two of them at once, the second taking over when the first dies.

Each process connects with its own `application_name` (libpq's PGAPPNAME), so the test can see
in pg_locks and pg_stat_activity which process holds the projection lead and which one writes.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest

from projections.catalogue import PROJECTIONS
from projections.coordination import ADVISORY_LOCK_KEY
from tests.ops_support import cli_env
from tests.projections.plans import EARLIEST, generate, play_service
from tests.projections.tables import clean_build, dump, service

pytestmark = pytest.mark.postgres

COMPLAINTS = Path(sys.executable).with_name("complaints")


@contextmanager
def project(url: str, name: str, folder: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`complaints project` on `url`, connecting as `name`; killed if the test leaves it up."""
    env = cli_env(url) | {"PGAPPNAME": name}
    log = (folder / f"{name}.log").open("wb")
    process = subprocess.Popen(
        [str(COMPLAINTS), "project"], env=env, cwd=folder, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        log.close()


def query(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as connection:
        return connection.execute(sql, params).fetchall()  # type: ignore[arg-type]


def positions(url: str) -> dict[str, int]:
    try:
        return dict(query(url, "SELECT projection, position FROM projection_tracking"))
    except psycopg.errors.UndefinedTable:
        return {}


def leaders(url: str) -> list[str]:
    """The application names of the sessions holding the projection lead."""
    rows = query(
        url,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s AND l.objid = %s "
        "AND a.datname = current_database()",
        ADVISORY_LOCK_KEY >> 32,
        ADVISORY_LOCK_KEY & 0xFFFFFFFF,
    )
    return sorted(row[0] for row in rows)


def statements(url: str) -> list[tuple[str, str]]:
    """(application name, current or last statement) of every session on the database."""
    sql = "SELECT application_name, query FROM pg_stat_activity WHERE datname = current_database()"
    return [(name, text.strip().lower()) for name, text in query(url, sql)]


def tried_to_lead(url: str, name: str) -> bool:
    return any(who == name and "pg_try_advisory_lock" in sql for who, sql in statements(url))


def wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.01)


def populate(url: str, count: int, seed: int, chunk: int = 250) -> int:
    """Plays `count` histories through the service, `chunk` complaints per transaction."""
    with service(url) as complaints:
        plans = generate(count, seed=seed, earliest=EARLIEST)
        return play_service(complaints, plans, chunk=chunk)


def caught_up(url: str, position: int) -> Callable[[], bool]:
    names = ("case_list", "learning", "timeliness")
    return lambda: all(positions(url).get(name, 0) >= position for name in names)


def stop(process: subprocess.Popen[bytes]) -> float:
    """SIGTERM; the process must exit 0. Returns how long it took."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    return time.monotonic() - started


def test_killed_mid_catch_up_and_restarted_the_read_models_are_exact(
    postgres_url: str, tmp_path: Path
) -> None:
    # Given 2500 histories (about 7400 events: 8 batches) and no read model yet
    url = postgres_url
    last = populate(url, 2500, seed=21)
    rng = random.Random(21)

    # When the worker is killed a few times while it catches up
    before: dict[str, int] = {}
    for kill in range(3):
        with project(url, f"projector-{kill}", tmp_path) as worker:
            wait_for(lambda old=before: positions(url) not in (old, {}), 60, "progress")
            time.sleep(rng.uniform(0, 0.05))
            worker.kill()
            worker.wait(timeout=10)
        after = positions(url)
        assert any(after[name] > before.get(name, 0) for name in after), (before, after)
        assert min(after.values()) < last, "it caught up before it could be killed"
        before = after

    # Then a last run finishes the job and stops promptly on SIGTERM
    with project(url, "projector-last", tmp_path) as worker:
        wait_for(caught_up(url, last), 120, "the worker to reach the head")
        assert stop(worker) < 5
    assert dump(url) == clean_build(url)
    assert positions(url) == dict.fromkeys(PROJECTIONS, last)


# Every committed move of a read model's position, with the application name of the session that
# made it (a rolled-back attempt leaves nothing).
NOTE_WRITERS = [
    "CREATE TABLE tracking_writes (app TEXT NOT NULL, projection TEXT NOT NULL, "
    "position BIGINT NOT NULL)",
    "CREATE FUNCTION note_tracking_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "INSERT INTO tracking_writes VALUES (current_setting('application_name'), NEW.projection, "
    "NEW.position); RETURN NEW; END $$",
    "CREATE TRIGGER note_tracking_write AFTER INSERT OR UPDATE ON projection_tracking "
    "FOR EACH ROW EXECUTE FUNCTION note_tracking_write()",
]


def written_by(url: str, after: int) -> set[str]:
    """Which processes moved a position beyond `after`."""
    rows = query(url, "SELECT DISTINCT app FROM tracking_writes WHERE position > %s", after)
    return {row[0] for row in rows}


def test_two_workers_one_projects_the_other_takes_over_when_it_dies(
    postgres_url: str, tmp_path: Path
) -> None:
    url = postgres_url
    start = populate(url, 300, seed=31)
    with project(url, "projector-a", tmp_path) as first:
        wait_for(lambda: leaders(url) == ["projector-a"], 60, "the first worker to lead")
        wait_for(caught_up(url, start), 60, "the first worker to catch up")
        with psycopg.connect(url, autocommit=True) as connection:
            for statement in NOTE_WRITERS:
                connection.execute(statement)  # type: ignore[arg-type]
        with project(url, "projector-b", tmp_path) as second:
            wait_for(lambda: tried_to_lead(url, "projector-b"), 60, "the second to try to lead")

            # While both run, more histories arrive in many small transactions (each one wakes
            # both workers): only the first applies them
            middle = populate(url, 300, seed=32, chunk=5)

            def applied_by_the_first() -> bool:
                assert leaders(url) == ["projector-a"]
                return caught_up(url, middle)()

            wait_for(applied_by_the_first, 60, "the first worker to apply the new events")
            assert written_by(url, start) == {"projector-a"}
            assert first.poll() is None

            # When the first dies, the second takes the lead and applies what follows
            first.kill()
            first.wait(timeout=10)
            wait_for(lambda: leaders(url) == ["projector-b"], 30, "the second worker to lead")
            last = populate(url, 300, seed=33)
            wait_for(caught_up(url, last), 60, "the second worker to apply the new events")
            assert written_by(url, middle) == {"projector-b"}
            assert stop(second) < 5
    assert dump(url) == clean_build(url)
