"""The projection worker's lead on PostgreSQL: checked once a second, not before every batch."""

from __future__ import annotations

import time

import psycopg
import pytest

from projections import coordination
from projections.coordination import LEAD_CHECK_SECONDS, PostgresCoordinator


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def backend_of(coordinator: PostgresCoordinator) -> int:
    assert coordinator._connection is not None
    return int(coordinator._connection.info.backend_pid)


def holds_the_lead(url: str, pid: int) -> bool:
    with psycopg.connect(url) as connection:
        row = connection.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s AND granted",
            (pid,),
        ).fetchone()
    return bool(row and row[0])


@pytest.mark.postgres
def test_a_lost_session_is_found_by_the_next_check_not_before_every_batch(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Clock()
    monkeypatch.setattr(coordination.time, "monotonic", clock)
    coordinator = PostgresCoordinator(postgres_url, "probe_channel")
    try:
        assert coordinator.lead()
        first = backend_of(coordinator)
        assert holds_the_lead(postgres_url, first)
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))

        # Within the interval the lead is taken on trust: no round trip per batch, however
        # often the batches come (each call does not put the next check off).
        for _ in range(3):
            clock.now += LEAD_CHECK_SECONDS * 0.3
            assert coordinator.lead()
        # A second after the last check, the lost session is found and the lead given up...
        clock.now += LEAD_CHECK_SECONDS * 0.2
        assert not coordinator.lead()
        # ...and taken again on a session of its own.
        assert coordinator.lead()
        second = backend_of(coordinator)
        assert second != first
        assert holds_the_lead(postgres_url, second)
    finally:
        coordinator.close()


@pytest.mark.postgres
def test_a_second_coordinator_does_not_lead_while_the_first_holds_the_lock(
    postgres_url: str,
) -> None:
    first = PostgresCoordinator(postgres_url, "probe_channel")
    second = PostgresCoordinator(postgres_url, "probe_channel")
    try:
        assert first.lead()
        assert not second.lead()
        first.close()  # gives up the lead: the server frees the lock once the session ends,
        # which it does a moment after the client has closed it
        deadline = time.monotonic() + 10
        while not second.lead() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert second.lead()
    finally:
        first.close()
        second.close()
