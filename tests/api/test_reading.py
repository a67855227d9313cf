"""Reading one complaint (docs/API.md "Reading one complaint"), and references, on both stores.

The complaint is replayed from the event store: as it stands, as it stood after its N-th event,
or as it stood at a recorded instant; its history lists every event; its reference finds it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from tests.support import (
    AUDITOR,
    CASEWORKER,
    CONTACT,
    REDIRECT_IOPC,
    SUPERVISOR,
    MovableClock,
    assert_problem,
    complaint_in,
    error_fields,
    history_of,
    lodge,
    lodging,
)

NOW = datetime(2026, 11, 24, 10, 15, tzinfo=UTC)
REFERENCE = re.compile(r"^PC/(\d+)/(\d{2})$")
SUB_SECOND = re.compile(r"T\d{2}:\d{2}:\d{2}\.\d{3,}")


def _without_position(response_body: dict[str, Any]) -> dict[str, Any]:
    """A command's answer as a read shows it: no position, and (the lodging's) no access code,
    which only the acknowledgement letter gets."""
    assert isinstance(response_body.pop("position"), int)
    response_body.pop("access_code", None)
    return response_body


def _get(client: TestClient, complaint_id: str, **params: Any) -> Any:
    return client.get(f"/complaints/{complaint_id}", params=params, headers=AUDITOR)


def test_reading_a_complaint_now_and_in_the_past(
    client: TestClient, clock: MovableClock, subtests: pytest.Subtests
) -> None:
    clock.now = NOW
    body = lodging(received_at="2026-11-20T09:30:00Z")
    answers = complaint_in(client, "resolved", body)
    for check in (_as_it_stands_and_after_each_event, _as_it_stood_at_a_recorded_instant):
        with subtests.test(check.__name__.strip("_")):
            check(client, answers)
    with subtests.test("the history lists every event, oldest first"):
        _history_lists_every_event(client, answers, body)


def _as_it_stands_and_after_each_event(client: TestClient, answers: list[dict[str, Any]]) -> None:
    complaint_id = answers[0]["complaint_id"]

    current = client.get(f"/complaints/{complaint_id}", headers=CASEWORKER)
    assert current.status_code == 200, current.text
    assert current.headers["etag"] == '"4"'
    assert current.json() == _without_position(dict(answers[-1]))

    for version, answer in enumerate(answers, start=1):
        past = _get(client, complaint_id, as_of_version=version)
        assert past.status_code == 200, past.text
        assert past.headers["etag"] == f'"{version}"'
        assert past.json() == _without_position(dict(answer)), f"as_of_version={version}"

    assert_problem(_get(client, complaint_id, as_of_version=5), 404)
    assert_problem(_get(client, complaint_id, as_of_version=1_000_000), 404)
    for malformed in (0, -1, "one", "1.5"):
        problem = assert_problem(_get(client, complaint_id, as_of_version=malformed), 422)
        assert "as_of_version" in error_fields(problem)


def _as_it_stood_at_a_recorded_instant(client: TestClient, answers: list[dict[str, Any]]) -> None:
    complaint_id = answers[0]["complaint_id"]
    recorded = [datetime.fromisoformat(e["recorded_at"]) for e in history_of(client, complaint_id)]
    assert recorded == sorted(recorded)
    assert len(set(recorded)) == len(recorded), "events recorded moments apart must differ"

    for earlier, (start, end) in enumerate(pairwise(recorded), start=1):
        between = start + (end - start) / 2
        past = _get(client, complaint_id, as_of=between.isoformat())
        assert past.status_code == 200, past.text
        assert past.headers["etag"] == f'"{earlier}"'
        assert past.json() == _without_position(dict(answers[earlier - 1]))

    # the same instant written with another offset
    at_second = recorded[1].astimezone(timezone(timedelta(hours=5, minutes=30))).isoformat()
    assert _get(client, complaint_id, as_of=at_second).json()["version"] == 2
    # at or after the last event: as it stands
    for after in (recorded[-1], recorded[-1] + timedelta(days=365)):
        assert _get(client, complaint_id, as_of=after.isoformat()).json()["version"] == 4
    # before it was lodged
    for before in (recorded[0] - timedelta(milliseconds=1), datetime(2000, 1, 1, tzinfo=UTC)):
        assert_problem(_get(client, complaint_id, as_of=before.isoformat()), 404)
    for malformed in ("yesterday", "2026-11-24T10:15:00", "2026-13-01T00:00:00Z"):
        problem = assert_problem(_get(client, complaint_id, as_of=malformed), 422)
        assert "as_of" in error_fields(problem)


def _history_lists_every_event(
    client: TestClient, answers: list[dict[str, Any]], body: dict[str, Any]
) -> None:
    complaint_id = answers[0]["complaint_id"]
    response = client.get(f"/complaints/{complaint_id}/history", headers=CASEWORKER)

    assert response.status_code == 200, response.text
    history = response.json()
    assert history["complaint_id"] == complaint_id
    events = history["events"]
    assert [(event["version"], event["type"]) for event in events] == [
        (1, "ComplaintLodged"),
        (2, "InvestigatorAssigned"),
        (3, "ComplainantContacted"),
        (4, "ComplaintResolved"),
    ]
    for event in events:
        assert {"version", "type", "recorded_at", "occurred_at", "actor", "data"} <= set(event)
        assert SUB_SECOND.search(event["recorded_at"]), event["recorded_at"]
        assert datetime.fromisoformat(event["recorded_at"]).utcoffset() is not None
        assert datetime.fromisoformat(event["occurred_at"]).utcoffset() is not None
        assert set(event["actor"]) == {"id", "name"}
        assert isinstance(event["data"], dict)
    assert [event["actor"]["id"] for event in events] == ["intake-1", "sup-1", "cw-1", "cw-1"]
    assert events[1]["actor"]["name"] == "DI Grace Hopper"
    # when it happened (the letter's date, the clock) is not when it was recorded
    assert datetime.fromisoformat(events[0]["occurred_at"]) == datetime(
        2026, 11, 20, 9, 30, tzinfo=UTC
    )
    assert all(datetime.fromisoformat(event["occurred_at"]) >= NOW for event in events[1:])
    lodged, assigned, contacted, resolved = (event["data"] for event in events)
    assert REFERENCE.match(lodged["reference"])
    assert lodged["description"] == body["description"]
    assert assigned["investigator_id"] == "cw-1"
    assert (contacted["method"], contacted["summary"]) == ("phone", "Talked it through.")
    assert resolved["outcome"] == "apology_given"
    assert resolved["learning"] == [{"theme": "communication", "note": "Be patient."}]


def test_finding_a_complaint_by_id_and_by_reference(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    complaint = lodge(client)  # a store that is not empty
    unknown = str(uuid4())
    reads = ["", "/history", "?as_of_version=1", "?as_of=2026-11-24T10:15:00Z"]
    commands = {"/redirect": REDIRECT_IOPC, "/contacts": CONTACT}

    for suffix in reads:
        with subtests.test(read=suffix):
            assert_problem(client.get(f"/complaints/{unknown}{suffix}", headers=AUDITOR), 404)
            for malformed in ("not-a-uuid", "12345", "PC-1-26"):
                response = client.get(f"/complaints/{malformed}{suffix}", headers=AUDITOR)
                assert "complaint_id" in error_fields(assert_problem(response, 422))
    for suffix, body in commands.items():
        with subtests.test(command=suffix):
            url = f"/complaints/{unknown}{suffix}"
            assert_problem(client.post(url, json=body, headers=SUPERVISOR), 404)
            malformed_url = f"/complaints/not-a-uuid{suffix}"
            response = client.post(malformed_url, json=body, headers=SUPERVISOR)
            assert "complaint_id" in error_fields(assert_problem(response, 422))

    reference, complaint_id = complaint["reference"], complaint["complaint_id"]

    for form, path in (
        ("percent-encoded", quote(reference, safe="")),
        ("raw", reference),
    ):
        with subtests.test(form=form):
            url = f"/complaints/by-reference/{path}"
            found = client.get(url, headers=CASEWORKER, follow_redirects=False)
            assert found.status_code == 307, found.text
            assert found.headers["location"] == f"/complaints/{complaint_id}"
            followed = client.get(url, headers=AUDITOR)
            assert followed.status_code == 200, followed.text
            assert followed.json()["reference"] == reference

    number, year = REFERENCE.match(reference).groups()  # type: ignore[union-attr]
    for unknown in (f"PC/{int(number) + 1000}/{year}", "PC%2F999999%2F99", "nonsense", "PC/1"):
        with subtests.test(unknown=unknown):
            response = client.get(
                f"/complaints/by-reference/{unknown}", headers=AUDITOR, follow_redirects=False
            )
            assert_problem(response, 404)


def test_references_are_numbered_by_year_received(client: TestClient, clock: MovableClock) -> None:
    clock.now = NOW
    received = ["2026-11-24T09:00:00Z", "2025-06-01T12:00:00Z", None, "2025-12-31T23:59:59Z", None]
    references = [
        lodge(client, lodging(received_at=at, incident_date=None))["reference"] for at in received
    ]

    parsed = [REFERENCE.match(reference) for reference in references]
    assert all(parsed), references
    numbers = [(int(m.group(1)), m.group(2)) for m in parsed if m]
    assert [year for _, year in numbers] == ["26", "25", "26", "25", "26"]
    for year in ("25", "26"):
        in_year = [number for number, yy in numbers if yy == year]
        assert in_year == sorted(in_year), references
        assert len(set(in_year)) == len(in_year), references
