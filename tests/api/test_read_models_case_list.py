"""GET /complaints, the case list: filters, newest first, cursor pages, anonymised for analysts."""

from __future__ import annotations

import base64
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.projections import model
from tests.projections.model import Case
from tests.projections.plans import NOW, generate, iso, play_http
from tests.projections.scenes import Scene, burst_plans, scene_fixture
from tests.support import (
    ANALYST,
    AUDITOR,
    CASEWORKER,
    INTAKE,
    SUPERVISOR,
    MovableClock,
    assert_problem,
    lodging,
)

scene = scene_fixture(burst_plans)


def _list(scene: Scene, headers: dict[str, str] = CASEWORKER, **params: str) -> Any:
    params = {"min_position": str(scene.position), "limit": "500"} | params
    response = scene.client.get("/complaints", params=params, headers=headers)
    assert response.status_code == 200, response.text
    assert int(response.headers["X-Projection-Position"]) >= scene.position
    return response.json()


def _newest_first(cases: list[Case]) -> list[str]:
    ordered = sorted(cases, key=lambda case: (case.received_at, case.plan.complaint_id))
    return [case.plan.complaint_id for case in reversed(ordered)]


def _expected_item(case: Case) -> dict[str, Any]:
    body = case.plan.body
    investigator = case.investigator
    return {
        "reference": case.plan.reference,
        "status": case.status,
        "subject_kind": body["subject"]["kind"],
        "channel": body["channel"],
        "standing": body["standing"],
        "on_behalf_basis": case.on_behalf_basis,
        "late": case.plan.late,
        "lodged_at": case.received_at,
        "lodged_on": case.lodged_on.isoformat(),
        "investigator": {"id": investigator[0], "name": investigator[1]} if investigator else None,
        "assigned_at": case.assigned_at,
        "first_contact_at": case.first_contact_at,
        "resolved_at": case.resolved_at,
        "redirected_at": case.redirected_at,
        "outcome": case.outcome,
        "redirect_destination": case.destination,
        "first_contact_due": model.contact_due(case).isoformat(),
        "resolution_due": model.resolution_due(case).isoformat(),
        "version": case.version,
    }


MOMENTS = ("lodged_at", "assigned_at", "first_contact_at", "resolved_at", "redirected_at")


def _item(item: dict[str, Any], keys: Any) -> dict[str, Any]:
    chosen = {key: item[key] for key in keys}
    for key in MOMENTS:
        chosen[key] = datetime.fromisoformat(item[key]) if item[key] else None
    return chosen


def test_every_complaint_is_listed_newest_first_as_its_history_left_it(scene: Scene) -> None:
    items = _list(scene)["items"]
    cases = {case.plan.complaint_id: case for case in scene.cases}

    assert [item["complaint_id"] for item in items] == _newest_first(list(cases.values()))
    for item in items:
        expected = _expected_item(cases[item["complaint_id"]])
        assert _item(item, expected) == expected, item["reference"]


FILTERS = [
    *({"status": status} for status in (*model.OPEN, "resolved", "redirected")),
    *({"investigator_id": f"inv-{letter}"} for letter in "abcdz"),
    {"subject_kind": "officer"},
    {"subject_kind": "commissioner"},
    {"subject_kind": "police_station"},
    {"channel": "letter"},
    {"channel": "representative"},
    {"lodged_from": "2026-11-15"},
    {"lodged_to": "2026-09-30"},
    {"lodged_from": "2026-10-01", "lodged_to": "2026-10-01"},
    {"lodged_from": "2026-11-15", "lodged_to": "2026-12-20"},
    {"status": "assigned", "investigator_id": "inv-a"},
    {"status": "lodged", "lodged_from": "2026-12-01", "subject_kind": "case_handling"},
    {"channel": "online", "lodged_to": "2026-12-31", "status": "resolved"},
]


def _matches(case: Case, filters: dict[str, str]) -> bool:
    body = case.plan.body
    checks = {
        "status": case.status,
        "investigator_id": case.investigator[0] if case.investigator else None,
        "subject_kind": body["subject"]["kind"],
        "channel": body["channel"],
    }
    for key, value in filters.items():
        if key == "lodged_from" and case.lodged_on < date.fromisoformat(value):
            return False
        if key == "lodged_to" and case.lodged_on > date.fromisoformat(value):
            return False
        if key in checks and checks[key] != value:
            return False
    return True


@pytest.mark.parametrize(
    "filters", FILTERS, ids=lambda f: ",".join(f"{k}={v}" for k, v in f.items())
)
def test_filters_select_exactly_the_matching_complaints(
    scene: Scene, filters: dict[str, str]
) -> None:
    expected = _newest_first([case for case in scene.cases if _matches(case, filters)])
    assert [item["complaint_id"] for item in _list(scene, **filters)["items"]] == expected


def test_every_filter_value_above_selects_something_or_is_meant_to_be_empty(scene: Scene) -> None:
    empty = [f for f in FILTERS if not any(_matches(case, f) for case in scene.cases)]
    assert empty == [{"investigator_id": "inv-z"}]


@pytest.mark.parametrize("headers", [CASEWORKER, SUPERVISOR, AUDITOR], ids=["cw", "sup", "aud"])
def test_case_workers_and_auditors_see_the_investigator(
    scene: Scene, headers: dict[str, str]
) -> None:
    items = _list(scene, headers)["items"]
    assigned = [item for item in items if item["investigator"] is not None]
    assert len(assigned) == sum(1 for case in scene.cases if case.investigator)


def test_analysts_get_no_investigator_and_cannot_select_by_one(scene: Scene) -> None:
    items = _list(scene, ANALYST)["items"]
    assert len(items) == len(scene.plans)
    assert all(item["investigator"] is None for item in items)
    refused = scene.client.get("/complaints", params={"investigator_id": "inv-a"}, headers=ANALYST)
    assert_problem(refused, 403)


def test_analysts_filter_by_everything_else(scene: Scene) -> None:
    filters = {"status": "resolved", "channel": "online", "lodged_from": "2026-10-01"}
    expected = _newest_first([case for case in scene.cases if _matches(case, filters)])
    assert [item["complaint_id"] for item in _list(scene, ANALYST, **filters)["items"]] == expected


@pytest.mark.parametrize(("headers", "status"), [(INTAKE, 403), ({}, 401)], ids=["intake", "anon"])
def test_the_case_list_is_not_for_everyone(
    scene: Scene, headers: dict[str, str], status: int
) -> None:
    assert_problem(scene.client.get("/complaints", headers=headers), status)


@pytest.mark.parametrize("limit", ["0", "501", "-1", "many"])
def test_a_limit_outside_1_to_500_is_refused(scene: Scene, limit: str) -> None:
    response = scene.client.get("/complaints", params={"limit": limit}, headers=CASEWORKER)
    assert_problem(response, 422)


@pytest.mark.parametrize("limit", [1, 500])
def test_the_limits_themselves_are_accepted(scene: Scene, limit: int) -> None:
    body = _list(scene, limit=str(limit))
    assert len(body["items"]) == min(limit, len(scene.plans))
    assert (body["next_cursor"] is not None) == (limit < len(scene.plans))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor!",
        "%%%",
        "",
        _b64(b"not json"),
        # Once accepted as (lodged_at, complaint_id) because they unpack into two values:
        _b64(b'{"lodged_at": "2026-01-01", "id": "x"}'),
        _b64(b'"ab"'),
        _b64(b'["not a time", "not an id"]'),
        _b64(b"[1, 2]"),
        _b64(b'["2026-01-01T00:00:00+00:00"]'),
        _b64(b'["a", "b", "c"]'),
        _b64(b"\xff\xfe\xfd"),
    ],
)
def test_a_malformed_cursor_is_a_400_problem(scene: Scene, cursor: str) -> None:
    response = scene.client.get("/complaints", params={"cursor": cursor}, headers=CASEWORKER)
    assert_problem(response, 400)


def _page(client: TestClient, headers: dict[str, str], **params: str) -> Any:
    response = client.get("/complaints", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


def test_pages_of_seven_give_every_complaint_once_while_others_are_lodged(
    client: TestClient, clock: MovableClock
) -> None:
    # Given 57 complaints (more than the default page of 50)
    clock.now = NOW
    plans = generate(57, seed=77, earliest=NOW - timedelta(days=60))
    for plan in plans:
        plan.steps = []  # lodging is enough here
    position = play_http(client, plans)
    existing = {plan.complaint_id for plan in plans}
    first = _page(client, SUPERVISOR, min_position=str(position))
    assert len(first["items"]) == 50
    assert first["next_cursor"] is not None

    # When we page through them seven at a time, lodging complaints between the requests, some
    # received now and some received back in the period being paged through
    seen: list[str] = []
    cursor: str | None = None
    order: list[tuple[str, str]] = []
    for n in range(30):
        params = {"limit": "7"} | ({"cursor": cursor} if cursor else {})
        page = _page(client, ANALYST, **params)
        assert len(page["items"]) <= 7
        seen += [item["complaint_id"] for item in page["items"]]
        order += [(item["lodged_at"], item["complaint_id"]) for item in page["items"]]
        received = NOW - timedelta(days=(n * 7) % 60, hours=n)
        lodged = client.post("/complaints", json=lodging(received_at=iso(received)), headers=INTAKE)
        assert lodged.status_code == 201, lodged.text
        cursor = page["next_cursor"]
        if cursor is None:
            break

    # Then nothing is repeated, nothing that existed is skipped, and the order never goes back
    assert cursor is None
    assert len(seen) == len(set(seen))
    assert existing <= set(seen)
    stamps = [(datetime.fromisoformat(at), complaint_id) for at, complaint_id in order]
    assert stamps == sorted(stamps, reverse=True)
