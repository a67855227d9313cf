"""P3 starts with the read models caught up (`bench.scenarios.caught_up`): a backlog an earlier
run left is waited out, and reported, rather than measured as P3's own delay."""

from __future__ import annotations

import threading

import psycopg
import pytest
from bench.scenarios import caught_up


def _log_and_positions(url: str, head: int, position: int) -> None:
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("CREATE TABLE complaints_events (notification_id BIGINT)")
        connection.execute("INSERT INTO complaints_events VALUES (%s)", (head,))
        connection.execute(
            "CREATE TABLE projection_tracking (projection TEXT PRIMARY KEY, position BIGINT)"
        )
        for name in ("case_list", "learning", "timeliness", "retention"):
            connection.execute(
                "INSERT INTO projection_tracking VALUES (%s, %s)",
                (name, head if name == "retention" else position),
            )


@pytest.mark.postgres
def test_the_load_waits_until_every_measured_model_has_caught_up(postgres_url: str) -> None:
    _log_and_positions(postgres_url, head=500, position=200)

    def catch_up() -> None:
        with psycopg.connect(postgres_url, autocommit=True) as connection:
            connection.execute("UPDATE projection_tracking SET position = 500")

    timer = threading.Timer(0.3, catch_up)
    timer.start()
    try:
        waited = caught_up(postgres_url, timeout=30)
    finally:
        timer.join()
    assert waited["backlog"] == 0  # 300 behind when it began: it waited for the update


@pytest.mark.postgres
def test_a_backlog_never_caught_up_is_reported_after_the_timeout(postgres_url: str) -> None:
    _log_and_positions(postgres_url, head=500, position=200)
    assert caught_up(postgres_url, timeout=0.2)["backlog"] == 300
