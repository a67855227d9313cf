"""GET /early-warning over HTTP on both stores: supervisors see the officers and staff named in
at least `threshold` complaints received in the last `months` calendar months.

What the answer must be is counted here from the histories themselves (GET .../history as an
auditor: the shoulder number as typed, normalised, and the instant of receipt), never from the
read model, for several windows and thresholds, the first day of a window included.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from tests.support import (
    ANALYST,
    AUDITOR,
    CASEWORKER,
    INTAKE,
    RECORDS_MANAGER,
    RESTRICT,
    SUPERVISOR,
    MovableClock,
    assert_problem,
    error_fields,
    history_of,
    lodge,
    lodging,
)

LONDON = ZoneInfo("Europe/London")
PERSONS = {"officer", "staff", "contractor", "volunteer"}
# "Today" is 2 December 2026: twelve months back is 2 December 2025.
TODAY = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
ERASE = {"basis": "erasure_request", "authority_ref": "DPO-17", "parts": ["subject"]}
# (label, kind, shoulder number as typed, received at): the labels name people for the asserts.
LODGINGS = [
    ("pc-a", "officer", "1234AB", "2025-12-01T12:00:00Z"),  # the day before the window
    ("pc-a", "officer", "12 34ab", "2025-12-02T12:00:00Z"),  # the window's first day
    ("pc-a", "officer", "1234ab", "2026-03-15T12:00:00Z"),
    ("pc-a", "officer", "12 34 AB", "2026-11-30T12:00:00Z"),
    ("staff-b", "staff", "77c", "2026-01-10T12:00:00Z"),
    ("staff-b", "staff", "77C", "2026-06-01T12:00:00Z"),
    ("staff-b", "staff", "7 7C", "2026-12-01T12:00:00Z"),
    ("vol-c", "volunteer", "5X", "2026-10-01T12:00:00Z"),
    ("vol-c", "volunteer", "5x", "2026-10-02T12:00:00Z"),
    ("con-d", "contractor", "9Z", "2026-05-01T12:00:00Z"),
    ("con-d", "contractor", "9Z", "2026-05-02T12:00:00Z"),
    ("con-d", "contractor", "9Z", "2026-05-03T12:00:00Z"),
    ("desk", "case_handling", "1234AB", "2026-05-05T12:00:00Z"),  # not a person: not counted
    ("anon", "officer", None, "2026-05-06T12:00:00Z"),  # no number: not counted
]


def lodge_all(client: TestClient) -> dict[str, list[dict[str, Any]]]:
    lodged: dict[str, list[dict[str, Any]]] = {}
    for label, kind, number, received_at in LODGINGS:
        subject: dict[str, Any] = {"kind": kind, "name": "A Person"}
        if number is not None:
            subject["shoulder_number"] = number
        body = lodging(received_at=received_at, incident_date=None, subject=subject)
        lodged.setdefault(label, []).append(lodge(client, body))
    return lodged


def receipts(client: TestClient, lodged: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Each lodging as its history tells it: who (normalised number), when, which reference."""
    found = []
    for answers in lodged.values():
        for answer in answers:
            data = history_of(client, answer["complaint_id"])[0]["data"]
            number = data["subject"].get("shoulder_number")
            if data["subject"]["kind"] not in PERSONS or number is None:
                continue
            received = datetime.fromisoformat(data["received_at"].replace("Z", "+00:00"))
            found.append(
                {
                    "person": "".join(number.split()).upper(),
                    "on": received.astimezone(LONDON).date(),
                    "at": received,
                    "reference": data["reference"],
                }
            )
    return found


def counted(found: list[dict[str, Any]], since: date, threshold: int) -> list[tuple[Any, ...]]:
    """(references newest first, complaints, latest day) of everyone over the threshold."""
    inside = [r for r in found if r["on"] >= since]
    answer = []
    for person, n in Counter(r["person"] for r in inside).items():
        if n >= threshold:
            mine = sorted((r for r in inside if r["person"] == person), key=lambda r: r["at"])
            answer.append(([r["reference"] for r in reversed(mine)], n, mine[-1]["on"]))
    return sorted(answer, key=lambda row: (-row[1], -row[2].toordinal(), row[0]))


def warn(client: TestClient, position: int, **params: int) -> list[dict[str, Any]]:
    response = client.get(
        "/early-warning", params={**params, "min_position": position}, headers=SUPERVISOR
    )
    assert response.status_code == 200, response.text
    assert int(response.headers["X-Projection-Position"]) >= position
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def summary(items: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    rows = [
        (i["references"], i["complaints"], date.fromisoformat(i["latest_received_on"]))
        for i in items
    ]
    # Most first; ties (in the order of the read model) are compared as a set.
    assert [row[1] for row in rows] == sorted((row[1] for row in rows), reverse=True)
    return sorted(rows, key=lambda row: (-row[1], -row[2].toordinal(), row[0]))


def months_back(today: date, months: int) -> date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    for last in (31, 30, 29, 28):
        try:
            return date(year, month + 1, min(today.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


@pytest.fixture
def desk(client: TestClient, clock: MovableClock) -> dict[str, list[dict[str, Any]]]:
    clock.now = TODAY
    return lodge_all(client)


def position_of(lodged: dict[str, list[dict[str, Any]]]) -> int:
    return max(answer["position"] for answers in lodged.values() for answer in answers)


def test_the_answer_equals_a_count_of_the_histories_for_every_window(
    client: TestClient, clock: MovableClock, desk: dict[str, list[dict[str, Any]]]
) -> None:
    position = position_of(desk)
    found = receipts(client, desk)
    assert len(found) == 12
    for months in (1, 2, 6, 7, 11, 12, 13, 24, 120):
        for threshold in (1, 2, 3, 4, 5):
            since = months_back(TODAY.date(), months)
            answer = warn(client, position, months=months, threshold=threshold)
            assert summary(answer) == counted(found, since, threshold), (months, threshold)
    default = warn(client, position)
    assert default == warn(client, position, months=12, threshold=3)
    assert [i["complaints"] for i in default] == [3, 3, 3]  # pc-a, staff-b, con-d
    assert set(default[0]) == {"shoulder_number", "complaints", "references", "latest_received_on"}


def test_the_first_day_of_the_window_counts_and_the_day_before_does_not(
    client: TestClient, clock: MovableClock, desk: dict[str, list[dict[str, Any]]]
) -> None:
    position = position_of(desk)
    officer = {a["reference"] for a in desk["pc-a"]}

    def officer_count() -> int:
        items = warn(client, position, months=12, threshold=1)
        return next(i["complaints"] for i in items if set(i["references"]) <= officer)

    assert officer_count() == 3  # since 2 December 2025: the 1 December complaint is out
    clock.now = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    assert officer_count() == 4  # since 1 December 2025
    clock.now = datetime(2026, 12, 2, 0, 30, tzinfo=UTC)  # London's 2 December
    assert officer_count() == 3


def test_the_number_shown_is_the_latest_visible_one_and_every_complaint_counts(
    client: TestClient, clock: MovableClock, desk: dict[str, list[dict[str, Any]]]
) -> None:
    items = {i["references"][0]: i for i in warn(client, position_of(desk))}
    assert items[desk["pc-a"][-1]["reference"]]["shoulder_number"] == "12 34 AB"  # as typed
    assert items[desk["staff-b"][-1]["reference"]]["shoulder_number"] == "7 7C"

    clock.now = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)
    records = [
        ("pc-a", -1, "restrict"),  # the latest is restricted: the one before is shown
        ("staff-b", -1, "erase"),  # the latest's subject is erased: the one before is shown
        ("staff-b", -2, "restrict"),
        ("con-d", 0, "restrict"),  # nothing visible is left: null
        ("con-d", 1, "erase"),
        ("con-d", 2, "erase"),
    ]
    for label, index, action in records:
        complaint_id = desk[label][index]["complaint_id"]
        if action == "erase":
            redirect = {"destination": "iopc", "reason": "Serious allegation."}
            done = client.post(
                f"/complaints/{complaint_id}/redirect", json=redirect, headers=CASEWORKER
            )
            assert done.status_code == 200, done.text
        body = ERASE if action == "erase" else RESTRICT
        done = client.post(
            f"/complaints/{complaint_id}/{action}", json=body, headers=RECORDS_MANAGER
        )
        assert done.status_code == 200, done.text
    position = done.json()["position"]

    items = {i["references"][0]: i for i in warn(client, position, threshold=3)}
    shown = {label: items[desk[label][-1]["reference"]] for label in ("pc-a", "staff-b", "con-d")}
    assert shown["pc-a"]["shoulder_number"] == "1234ab"
    assert shown["staff-b"]["shoulder_number"] == "77c"
    assert shown["con-d"]["shoulder_number"] is None
    assert [shown[label]["complaints"] for label in ("pc-a", "staff-b", "con-d")] == [3, 3, 3]
    assert shown["con-d"]["references"] == [a["reference"] for a in reversed(desk["con-d"])]


def test_every_read_is_in_the_access_log(
    client: TestClient, desk: dict[str, list[dict[str, Any]]]
) -> None:
    warn(client, position_of(desk), months=6, threshold=2)
    warn(client, position_of(desk))
    response = client.get("/access-log", params={"limit": 500}, headers=AUDITOR)
    assert response.status_code == 200, response.text
    entries = [e for e in response.json()["entries"] if e["action"] == "read_early_warning"]
    assert len(entries) == 2
    assert {e["actor"]["id"] for e in entries} == {"sup-1"}
    assert all(e["complaint_id"] is None for e in entries)
    assert any(e["path"].startswith("/early-warning?") and "months=6" in e["path"] for e in entries)


@pytest.mark.parametrize("headers", [ANALYST, CASEWORKER, AUDITOR, RECORDS_MANAGER, INTAKE])
def test_only_supervisors_read_it(client: TestClient, headers: dict[str, str]) -> None:
    assert_problem(client.get("/early-warning", headers=headers), 403)
    entries = client.get("/access-log", headers=AUDITOR).json()["entries"]
    assert [e for e in entries if e["action"] == "read_early_warning"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"months": 0}, "months"),
        ({"months": 121}, "months"),
        ({"months": "a year"}, "months"),
        ({"threshold": 0}, "threshold"),
        ({"threshold": 1001}, "threshold"),
        ({"threshold": -3}, "threshold"),
    ],
)
def test_a_window_or_threshold_out_of_range_is_refused(
    client: TestClient, params: dict[str, Any], field: str
) -> None:
    problem = assert_problem(client.get("/early-warning", params=params, headers=SUPERVISOR), 422)
    assert any(field in name for name in error_fields(problem)), problem
