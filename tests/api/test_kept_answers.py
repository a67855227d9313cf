"""Kept answers (`api.answers`): a read model's answer is read once per position it stands at,
and never served once the model has moved on, on each store."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.answers import Answers
from api.http.responses import json_of
from api.http.routes import read_models as read_models_routes
from projections.store import Cursor, ReadStore
from tests.projections.tables import execute, read_store
from tests.support import ANALYST, SUPERVISOR, MovableClock, lodge


def reads(client: TestClient) -> int:
    answers: Answers = client.app.state.read_models.answers  # type: ignore[attr-defined]
    return answers.reads


def get(client: TestClient, path: str, position: int, headers: dict[str, str]) -> Any:
    response = client.get(path, params={"min_position": str(position)}, headers=headers)
    assert response.status_code == 200, response.text
    return response


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/statistics/learning", ANALYST),
        ("/statistics/timeliness", ANALYST),
        ("/caseload", SUPERVISOR),
        ("/complaints", ANALYST),
    ],
)
def test_an_answer_is_read_once_per_position_and_a_new_event_is_seen_at_once(
    client: TestClient, path: str, headers: dict[str, str]
) -> None:
    first = lodge(client)["position"]
    before = get(client, path, first, headers)
    read = reads(client)
    again = get(client, path, first, headers)
    assert again.json() == before.json()
    assert again.headers["X-Projection-Position"] == before.headers["X-Projection-Position"]
    assert int(before.headers["X-Projection-Position"]) == first  # nothing else was written
    assert reads(client) == read  # kept: not read again

    second = lodge(client)["position"]
    after = get(client, path, second, headers)
    assert int(after.headers["X-Projection-Position"]) >= second
    assert reads(client) == read + 1
    if path == "/statistics/learning":
        assert after.json()["total"] == before.json()["total"] + 1
    if path == "/complaints":
        assert len(after.json()["items"]) == len(before.json()["items"]) + 1


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/statistics/learning", ANALYST),
        ("/statistics/timeliness", ANALYST),
        ("/caseload", SUPERVISOR),
        ("/caseload/inv-1", SUPERVISOR),
        ("/complaints", ANALYST),
        ("/complaints", SUPERVISOR),
    ],
)
def test_a_kept_answers_json_is_kept_with_it_and_made_again_at_a_new_position(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, path: str, headers: dict[str, str]
) -> None:
    made: list[bytes] = []

    def counted(answer: Any) -> bytes:
        made.append(json_of(answer))
        return made[-1]

    monkeypatch.setattr(read_models_routes, "json_of", counted)
    first = lodge(client)["position"]
    before = get(client, path, first, headers)
    again = get(client, path, first, headers)
    assert again.content == before.content == made[0]
    assert len(made) == 1  # the kept JSON itself, not shaped again
    after = get(client, path, lodge(client)["position"], headers)
    assert len(made) == 2
    assert after.content == made[1]


def test_a_caseload_kept_today_is_judged_again_tomorrow(
    client: TestClient, clock: MovableClock
) -> None:
    position = lodge(client)["position"]
    get(client, "/caseload", position, SUPERVISOR)
    get(client, "/caseload", position, SUPERVISOR)
    read = reads(client)
    clock.advance(timedelta(days=1))
    get(client, "/caseload", position, SUPERVISOR)
    assert reads(client) == read + 1


def test_statistics_of_two_periods_are_kept_apart(client: TestClient) -> None:
    position = lodge(client)["position"]
    everything = get(client, "/statistics/learning", position, ANALYST).json()
    nothing = client.get(
        "/statistics/learning", params={"from": "2000-01-01", "to": "2000-01-31"}, headers=ANALYST
    ).json()
    assert everything["total"] == 1
    assert nothing["total"] == 0


# ---- Answers on its own: what is kept, and for how long ---------------------------------------


@pytest.fixture
def store(database_url: str) -> Any:
    store = read_store(database_url)
    execute(database_url, "CREATE TABLE IF NOT EXISTS kept_probe (n INTEGER)")
    at(database_url, 5)
    yield store
    store.close()


def at(url: str, position: int) -> None:
    execute(url, "DELETE FROM projection_tracking WHERE projection = 'probe'")
    execute(
        url, f"INSERT INTO projection_tracking (projection, position) VALUES ('probe', {position})"
    )


def count(cursor: Cursor) -> int:
    cursor.execute("SELECT COUNT(*) FROM kept_probe")
    return int(cursor.fetchone()[0])


def test_an_answer_is_kept_for_the_position_its_snapshot_was_at(
    database_url: str, store: ReadStore
) -> None:
    answers = Answers(store)
    assert answers.answer("probe", "count", 5, count) == 0
    assert answers.answer("probe", "count", 5, count) == 0
    assert answers.reads == 1
    # The model moves on between the caller's reading of its position and the snapshot: what
    # the snapshot saw is the answer at 6, not at 5.
    execute(database_url, "INSERT INTO kept_probe (n) VALUES (1)")
    at(database_url, 6)
    assert answers.answer("probe", "other", 5, count) == 1
    assert answers.reads == 2
    assert answers.answer("probe", "other", 6, count) == 1  # kept for 6
    assert answers.reads == 2
    assert answers.answer("probe", "other", 5, count) == 1  # never for 5: read again
    assert answers.reads == 3
    assert answers.answer("probe", "count", 6, count) == 1  # the answer at 5 was dropped
    assert answers.reads == 4


def test_only_the_newest_positions_answers_are_kept(database_url: str, store: ReadStore) -> None:
    answers = Answers(store)
    answers.answer("probe", "count", 5, count)
    answers.answer("probe", "again", 5, count)
    assert len(answers) == 2
    at(database_url, 6)
    answers.answer("probe", "count", 6, count)
    assert len(answers) == 1  # both answers at 5 dropped
    answers.answer("probe", "count", None, count)  # no position: read, never kept
    assert len(answers) == 1
    assert answers.reads == 4


def test_an_answer_derived_at_a_position_is_kept_for_it_alone(
    database_url: str, store: ReadStore
) -> None:
    answers = Answers(store)
    made: list[int] = []

    def make() -> int:
        made.append(answers.answer("probe", "count", 5, count))
        return len(made)

    assert answers.derived("probe", "shaped", 5, make) == 1
    assert answers.derived("probe", "shaped", 5, make) == 1  # kept
    assert answers.reads == 1
    at(database_url, 6)
    answers.answer("probe", "count", 6, count)  # the model moved on: what was kept at 5 goes
    assert answers.derived("probe", "shaped", 5, make) == 2  # made again, and not kept for 5
    assert answers.derived("probe", "shaped", 5, make) == 3
    assert answers.derived("probe", "shaped", 6, make) == 4
    assert answers.derived("probe", "shaped", 6, make) == 4


def test_no_more_answers_are_kept_than_allowed(store: ReadStore) -> None:
    answers = Answers(store, kept=3)
    for n in range(5):
        answers.answer("probe", n, 5, count)
    assert len(answers) == 3
    answers.answer("probe", 4, 5, count)  # the newest are kept
    assert answers.reads == 5
    answers.answer("probe", 0, 5, count)  # the oldest were dropped
    assert answers.reads == 6
