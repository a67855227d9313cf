"""`complaints rebuild [NAME…]` from the command line, on a database with 300 complaints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from projections.catalogue import PROJECTIONS
from tests.ops_support import cli_env
from tests.projections.plans import EARLIEST, generate, play_service
from tests.projections.tables import dump, execute, head, runner_for, service

COMPLAINTS = Path(sys.executable).with_name("complaints")


def complaints_rebuild(url: str, folder: Path, *names: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(COMPLAINTS), "rebuild", *names],
        env=cli_env(url),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def built(histories: str) -> str:
    """300 histories with their read models built live, in batches of 97 (on each store)."""
    with runner_for(histories, batch_size=97) as runner:
        runner.catch_up()
    return histories


@pytest.fixture
def built_on_sqlite(sqlite_url: str) -> str:
    """The same on SQLite only, for what does not depend on the store: the command's own logic."""
    with service(sqlite_url) as complaints:
        play_service(complaints, generate(300, seed=11, earliest=EARLIEST), chunk=40)
    with runner_for(sqlite_url, batch_size=97) as runner:
        runner.catch_up()
    return sqlite_url


def test_rebuild_leaves_the_rows_exactly_as_the_live_run_left_them(
    built: str, tmp_path: Path
) -> None:
    before = dump(built)
    result = complaints_rebuild(built, tmp_path)

    assert result.returncode == 0, result.stderr
    assert dump(built) == before
    # The progress bar is drawn on stderr: what it rebuilds, and how far through the log.
    assert all(name in result.stderr for name in PROJECTIONS), result.stderr
    last = head(built)
    assert f"{last}/{last}" in result.stderr, result.stderr


def test_rebuild_of_one_model_repairs_it_and_touches_nothing_else(
    built_on_sqlite: str, tmp_path: Path
) -> None:
    built = built_on_sqlite
    good = dump(built)
    execute(built, "UPDATE learning_counts SET n = n + 1")
    execute(built, "DELETE FROM case_list WHERE status = 'lodged'")
    damaged = dump(built)

    result = complaints_rebuild(built, tmp_path, "learning")

    assert result.returncode == 0, result.stderr
    repaired = dump(built)
    assert repaired["learning_counts"] == good["learning_counts"]
    assert repaired["case_list"] == damaged["case_list"]


def test_an_unknown_read_model_is_exit_status_2_and_rebuilds_nothing(
    built_on_sqlite: str, tmp_path: Path
) -> None:
    built = built_on_sqlite
    execute(built, "UPDATE learning_counts SET n = n + 1")
    damaged = dump(built)

    result = complaints_rebuild(built, tmp_path, "nosuch")

    assert result.returncode == 2, result.stderr
    assert "nosuch" in result.stderr
    assert dump(built) == damaged
