"""The connection pools of the event store and of the read models
(`projections.store.check_when_idle`): a connection
is pinged before use only after it has not been checked out for a while, and one given back is
at once there for the next request, not first handed to the pool's worker thread."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eventsourcing.postgres import PostgresDatastore
from psycopg_pool import ConnectionPool

from api.app import build_complaints
from api.settings import Settings
from projections import store
from projections.store import ReadStore


@pytest.fixture(params=["event store", "read models"])
def pool(request: pytest.FixtureRequest, postgres_url: str) -> Iterator[ConnectionPool[Any]]:
    settings = Settings(_env_file=None, database_url=postgres_url)  # type: ignore[call-arg]
    if request.param == "read models":
        read_store = ReadStore(conninfo=settings.postgres_conninfo(), pool_size=4)
        try:
            assert read_store._pool is not None
            yield read_store._pool
        finally:
            read_store.close()
        return
    complaints = build_complaints(settings)
    try:
        datastore = complaints.recorder.datastore  # type: ignore[attr-defined]
        assert isinstance(datastore, PostgresDatastore)
        yield datastore.pool
    finally:
        complaints.close()


def test_a_connection_given_back_is_at_once_available_again(pool: ConnectionPool[Any]) -> None:
    for _ in range(50):
        with pool.connection() as connection:
            connection.execute("SELECT 1")
            held = pool.get_stats()["pool_available"]
        # Not queued for the pool's worker thread first: back before the next line runs.
        assert pool.get_stats()["pool_available"] == held + 1


def test_a_connection_is_pinged_only_after_it_was_idle(
    pool: ConnectionPool[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1_000.0]
    pings: list[object] = []
    monkeypatch.setattr(store.time, "monotonic", lambda: now[0])
    real_check = ConnectionPool.check_connection
    monkeypatch.setattr(
        ConnectionPool,
        "check_connection",
        staticmethod(lambda connection: (pings.append(connection), real_check(connection))),
    )

    def use() -> None:
        with pool.connection() as connection:
            connection.execute("SELECT 1")

    everyone = pool.get_stats()["pool_size"]  # checkouts go round every pooled connection
    for _ in range(everyone):
        use()
    first = len(pings)
    assert first >= 1  # never checked out before: pinged
    now[0] += 0.5
    for _ in range(2 * everyone):
        use()
    assert len(pings) == first  # busy: no round trip before each request
    now[0] += 5.0
    use()
    assert len(pings) == first + 1  # idle a while: pinged again before use
