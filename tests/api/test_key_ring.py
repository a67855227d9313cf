"""The key ring on both stores: a destroyed key stays destroyed, and an erasure evicts the
complaint's keys in every process that cached them."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.eventstore.sealing import KeyDestroyedError, KeyRing
from api.settings import Settings
from tests.ops_support import raw_sql as raw_rows
from tests.support import (
    CASEWORKER,
    ERASE,
    JWT_SECRET,
    RECORDS_MANAGER,
    MovableClock,
    complaint_in,
)


@pytest.fixture
def second_worker(settings: Settings, clock: MovableClock) -> Iterator[TestClient]:
    """Another API process on the same database (its own key ring and cache)."""
    with TestClient(create_app(settings, jwt_secret=JWT_SECRET, clock=clock)) as other:
        yield other


def keys_of(client: TestClient) -> KeyRing:
    ring: KeyRing = client.app.state.keys  # type: ignore[attr-defined]
    return ring


def test_an_erasure_evicts_the_keys_cached_by_another_worker(
    client: TestClient, second_worker: TestClient
) -> None:
    complaint_id = complaint_in(client, "resolved")[-1]["complaint_id"]
    read = second_worker.get(f"/complaints/{complaint_id}", headers=CASEWORKER)
    assert read.json()["complainant"]["name"] == "Sam Jones"
    assert keys_of(second_worker).cached(complaint_id)

    erased = client.post(f"/complaints/{complaint_id}/erase", json=ERASE, headers=RECORDS_MANAGER)
    assert erased.status_code == 200, erased.text
    assert not keys_of(client).cached(complaint_id)  # at once where it was erased
    # ...and whatever the other worker still caches, it shows the fields as erased
    again = second_worker.get(f"/complaints/{complaint_id}", headers=CASEWORKER).json()
    assert again["complainant"] is None
    deadline = time.monotonic() + 30
    while keys_of(second_worker).cached(complaint_id) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not keys_of(second_worker).cached(complaint_id)


def test_a_destroyed_key_is_never_made_again(client: TestClient, settings: Settings) -> None:
    complaint_id = complaint_in(client, "resolved")[-1]["complaint_id"]
    answer = client.post(f"/complaints/{complaint_id}/erase", json=ERASE, headers=RECORDS_MANAGER)
    assert answer.status_code == 200, answer.text
    rows = raw_rows(
        settings.database_url,
        "SELECT part, wrapped FROM complaint_keys WHERE complaint_id = ? ORDER BY part",
        (complaint_id,),
    )
    assert rows == [("complainant", None), ("narrative", None), ("subject", None)]

    # An event that would need an erased part's key is refused, not sealed under a new key
    with pytest.raises(KeyDestroyedError):
        keys_of(client).seal_event(
            UUID(complaint_id), 9, "complaints:ComplainantContacted", {"summary": "Again."}
        )
    assert raw_rows(
        settings.database_url,
        "SELECT count(*) FROM complaint_keys WHERE complaint_id = ? AND wrapped IS NOT NULL",
        (complaint_id,),
    ) == [(0,)]


def test_a_lodging_keeps_keyed_hashes_in_clear_and_its_access_code_sealed(
    client: TestClient, settings: Settings
) -> None:
    from tests.support import AUDITOR, lodging

    def lodged(shoulder_number: str) -> dict[str, object]:
        body = lodging(subject={"kind": "officer", "shoulder_number": shoulder_number})
        return complaint_in(client, "lodged", body)[-1]

    first, second = lodged("12 34ab"), lodged("1234AB")
    table = "stored_events" if settings.database_url.startswith("sqlite") else "complaints_events"
    states = [
        json.loads(bytes(row[0]))
        for row in raw_rows(settings.database_url, f"SELECT state FROM {table} ORDER BY 1")
    ]
    hashes = {state["shoulder_number_hash"] for state in states if "shoulder_number_hash" in state}
    assert len(hashes) == 1  # one officer, however the number was written
    assert all(
        set(state["access_code"]) == {"$sealed"} for state in states if "access_code" in state
    )
    for complaint in (first, second):
        history = client.get(f"/complaints/{complaint['complaint_id']}/history", headers=AUDITOR)
        assert "access_code" not in history.json()["events"][0]["data"]
        assert complaint["access_code"]  # in the lodging's answer, for the letter, only
        read = client.get(f"/complaints/{complaint['complaint_id']}", headers=AUDITOR)
        assert "access_code" not in read.json()
