"""Each process keeps the complaints it replayed (`COMPLAINTS_COMPLAINT_CACHE_SIZE`) and brings
its copy up to date from the event store on every read and command: a read decodes only the
events recorded since, answers exactly as a replay from the first event would, sees at once
what another process recorded, and no process keeps an erased complaint once it knows."""

from __future__ import annotations

import gc
import time
from collections.abc import Iterator
from typing import Any, cast
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from api.app import build_complaints, create_app
from api.http.schemas import complaint_out
from api.settings import Settings
from domain import replayed
from domain.service import Complaints
from tests.support import (
    AUDITOR,
    ERASE,
    JWT_SECRET,
    RECORDS_MANAGER,
    RESTRICT,
    MovableClock,
    complaint_in,
)


@pytest.fixture
def other_process(settings: Settings, clock: MovableClock) -> Iterator[TestClient]:
    """A second API process on the same store (its read models left to the first)."""
    app = create_app(
        settings.model_copy(update={"projections": "external"}), jwt_secret=JWT_SECRET, clock=clock
    )
    with TestClient(app) as other:
        yield other


def _reads(complaints: Complaints, monkeypatch: pytest.MonkeyPatch) -> list[int | None]:
    """The `gt` of each read of a complaint's events from the store (None: from the first)."""
    seen: list[int | None] = []
    store = complaints.repository.event_store
    original = store.get

    def spying(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs.get("gt"))
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "get", spying)
    return seen


def test_a_complaint_read_again_decodes_only_what_was_recorded_since(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    complaints: Complaints = client.app.state.complaints  # type: ignore[attr-defined]
    complaint_id = complaint_in(client, "lodged")[-1]["complaint_id"]
    reads = _reads(complaints, monkeypatch)
    for _ in range(2):
        assert client.get(f"/complaints/{complaint_id}", headers=AUDITOR).status_code == 200
    assert reads == [None, 1]  # replayed once, then only brought up to date


def _cached_and_replayed(
    client: TestClient, complaint_id: str, settings: Settings, clock: MovableClock
) -> tuple[Any, Any]:
    """The complaint as the client's process answers it from its kept copy, and as a new
    process, with no key or complaint kept, replays it from the first event."""
    now = client.get(f"/complaints/{complaint_id}", headers=AUDITOR)
    assert now.status_code == 200, now.text
    fresh = build_complaints(settings, clock=clock)
    try:
        complaint = fresh.get_complaint(UUID(complaint_id))
        replayed = complaint_out(complaint, update_every_days=fresh.update_every_days)
    finally:
        fresh.close()
    return now.json(), replayed.model_dump(mode="json", by_alias=True)


def test_what_another_process_records_is_read_at_once_as_a_replay_gives_it(
    client: TestClient, other_process: TestClient, settings: Settings, clock: MovableClock
) -> None:
    here: Complaints = client.app.state.complaints  # type: ignore[attr-defined]
    client.app.state.keys.close()  # type: ignore[attr-defined]  # its follower stops: the kept copy stays
    complaint_id = complaint_in(client, "resolved")[-1]["complaint_id"]
    now, replayed = _cached_and_replayed(client, complaint_id, settings, clock)
    assert now == replayed
    assert now["complainant"]["name"] == "Sam Jones"
    for path, body in [
        ("restrict", RESTRICT),
        ("lift-restriction", {"reason": "Proceedings ended."}),
        ("erase", {**ERASE, "parts": ["complainant"]}),
        ("erase", ERASE),
    ]:
        url = f"/complaints/{complaint_id}/{path}"
        answer = other_process.post(url, json=body, headers=RECORDS_MANAGER)
        assert answer.status_code == 200, (path, answer.text)
        assert _kept(here, complaint_id), path  # so the read brings the kept copy up to date
        now, replayed = _cached_and_replayed(client, complaint_id, settings, clock)
        assert now == replayed, path
        assert now["version"] == answer.json()["version"], path
    assert now["complainant"] is None
    assert now["description"] is None


def _kept(complaints: Complaints, complaint_id: str) -> bool:
    assert cast(replayed.ReplayedComplaints, complaints.repository).kept is not None
    try:
        cast(replayed.ReplayedComplaints, complaints.repository).kept.get(UUID(complaint_id))
    except KeyError:
        return False
    return True


def test_an_erased_complaint_is_kept_by_no_process_once_it_knows(
    client: TestClient, other_process: TestClient
) -> None:
    here: Complaints = client.app.state.complaints  # type: ignore[attr-defined]
    there: Complaints = other_process.app.state.complaints  # type: ignore[attr-defined]
    complaint_id = complaint_in(client, "resolved")[-1]["complaint_id"]
    assert other_process.get(f"/complaints/{complaint_id}", headers=AUDITOR).status_code == 200
    assert _kept(here, complaint_id)
    assert _kept(there, complaint_id)
    erased = client.post(f"/complaints/{complaint_id}/erase", json=ERASE, headers=RECORDS_MANAGER)
    assert erased.status_code == 200, erased.text
    assert not _kept(here, complaint_id)  # the erasing process, at once
    deadline = time.monotonic() + 30  # the other, once its follower has looked (every second)
    while _kept(there, complaint_id) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _kept(there, complaint_id)


def test_a_cache_of_none_keeps_nothing(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPLAINTS_COMPLAINT_CACHE_SIZE", raising=False)
    uncached = settings.model_copy(update={"complaint_cache_size": 0})
    assert "AGGREGATE_CACHE_MAXSIZE" not in uncached.eventsourcing_env  # 0 would be unbounded
    complaints = build_complaints(uncached)
    try:
        assert cast(replayed.ReplayedComplaints, complaints.repository).kept is None
    finally:
        complaints.close()
    assert Settings(_env_file=None).eventsourcing_env["AGGREGATE_CACHE_MAXSIZE"] == "2048"  # type: ignore[call-arg]


def test_no_callers_change_reaches_the_kept_complaint_nor_does_the_collector(
    client: TestClient,
) -> None:
    complaints: Complaints = client.app.state.complaints  # type: ignore[attr-defined]
    complaint_id = UUID(complaint_in(client, "in_contact")[-1]["complaint_id"])
    for _ in range(2):  # replayed, then brought up to date
        mine = complaints.get_complaint(complaint_id)
        assert mine.contacts
        mine.contacts.clear()
        mine.lodged["description"] = "changed by a caller"
    again = complaints.get_complaint(complaint_id)
    assert len(again.contacts) == 1
    assert again.lodged["description"] != "changed by a caller"
    assert cast(replayed.ReplayedComplaints, complaints.repository).kept is not None
    entry = cast(replayed.ReplayedComplaints, complaints.repository).kept.get(complaint_id)
    gc.collect()
    assert not gc.is_tracked(entry)  # bytes and a version: nothing for a full collection


def test_a_failed_read_of_the_new_events_leaves_the_kept_complaint_as_it_was(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    complaints: Complaints = client.app.state.complaints  # type: ignore[attr-defined]
    complaint_id = UUID(complaint_in(client, "assigned")[-1]["complaint_id"])
    store = complaints.repository.event_store
    original = store.get

    def failing(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("gt"):
            raise OSError("the store went away")
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "get", failing)
    with pytest.raises(OSError, match="went away"):
        complaints.get_complaint(complaint_id)
    monkeypatch.setattr(store, "get", original)
    reads = _reads(complaints, monkeypatch)
    assert complaints.get_complaint(complaint_id).version == 2
    assert reads == [1]  # brought up to date from the kept lodging, not replayed


def test_a_complaint_that_failed_halfway_through_its_new_events_is_kept_as_it_was(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    complaints: Complaints = client.app.state.complaints  # type: ignore[attr-defined]
    complaint_id = UUID(complaint_in(client, "in_contact")[-1]["complaint_id"])

    def failing_midway(complaint: Any, events: Any) -> Any:
        for event in events:
            complaint = event.mutate(complaint)
            raise ValueError("an event that cannot be applied")
        return complaint

    with pytest.raises(ValueError, match="cannot be applied"):
        complaints.repository.get(complaint_id, projector_func=failing_midway)
    reads = _reads(complaints, monkeypatch)
    assert complaints.get_complaint(complaint_id).version == 3
    assert reads == [2]  # from the kept state, untouched by the failure


def test_a_replay_begun_before_an_erasure_dropped_the_complaint_is_not_kept(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    complaints: Complaints = client.app.state.complaints  # type: ignore[attr-defined]
    repository = cast(replayed.ReplayedComplaints, complaints.repository)
    complaint_id = UUID(complaint_in(client, "assigned")[-1]["complaint_id"])
    repository.forget(complaint_id)
    original = repository._reconstruct_aggregate

    def erased_meanwhile(*args: Any) -> Any:
        complaint = original(*args)  # read before the erasure committed
        repository.forget(complaint_id)  # the erasure's eviction, from another thread
        return complaint

    monkeypatch.setattr(repository, "_reconstruct_aggregate", erased_meanwhile)
    assert complaints.get_complaint(complaint_id).version == 2
    assert not _kept(complaints, str(complaint_id))


def test_finding_a_complaint_by_its_reference_keeps_no_replay(client: TestClient) -> None:
    complaints: Complaints = client.app.state.complaints  # type: ignore[attr-defined]
    lodged = complaint_in(client, "lodged")[-1]
    found = client.get(
        f"/complaints/by-reference/{lodged['reference']}",
        headers=AUDITOR,
        follow_redirects=False,
    )
    assert found.status_code == 307, found.text
    assert not _kept(complaints, lodged["complaint_id"])
    unknown = client.get("/complaints/by-reference/PC/999999/26", headers=AUDITOR)
    assert unknown.status_code == 404, unknown.text
