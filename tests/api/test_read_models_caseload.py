"""GET /caseload and /caseload/{id}: open cases per investigator, judged at the clock's today.

The burst is played once per store; the clock is then moved, with no new event, and the overdue
counts must follow the calendar (working days, bank holidays excluded).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.projections import model
from tests.projections.plans import INVESTIGATORS, NOW
from tests.projections.scenes import Scene, burst_plans, scene_fixture
from tests.support import (
    ANALYST,
    AUDITOR,
    CASEWORKER,
    INTAKE,
    SUPERVISOR,
    assert_problem,
    auth,
    head_position,
)

scene = scene_fixture(burst_plans)

TODAYS = [
    pytest.param(date(2027, 1, 15), id="fri-15-jan"),  # the clock as the burst left it
    pytest.param(date(2027, 1, 16), id="sat-16-jan"),  # two cases' first contact now overdue
    pytest.param(date(2027, 1, 18), id="mon-18-jan"),
    pytest.param(date(2027, 2, 1), id="mon-1-feb"),
    pytest.param(date(2027, 3, 1), id="mon-1-mar"),
]


def _caseload(scene: Scene, path: str = "/caseload", headers: dict[str, str] = SUPERVISOR) -> Any:
    response = scene.client.get(path, params={"min_position": str(scene.position)}, headers=headers)
    assert response.status_code == 200, response.text
    assert int(response.headers["X-Projection-Position"]) >= scene.position
    return response.json()


@pytest.mark.parametrize("today", TODAYS)
def test_caseload_counts_open_awaiting_and_overdue_cases_as_of_today(
    scene: Scene, today: date
) -> None:
    head = head_position(scene.client)
    with scene.today(today):
        body = _caseload(scene)

    expected = model.caseload(scene.cases, today)
    assert body["investigators"] == expected["investigators"]
    assert body["unassigned"] == expected["unassigned"]
    assert head_position(scene.client) == head  # only the clock moved


def test_moving_the_clock_changes_the_overdue_counts(scene: Scene) -> None:
    # Guards the scenario: between Friday 15 and Saturday 16 January the cases received on
    # Friday 8 and Saturday 9 January (first contact due Friday 15) become overdue.
    before = model.caseload(scene.cases, date(2027, 1, 15))["investigators"]
    after = model.caseload(scene.cases, date(2027, 1, 16))["investigators"]
    overdue = {row["investigator_id"]: row["overdue_first_contact"] for row in before}
    later = {row["investigator_id"]: row["overdue_first_contact"] for row in after}
    assert later["inv-a"] == overdue["inv-a"] + 1
    assert later["inv-d"] == overdue["inv-d"] + 1
    with scene.today(date(2027, 1, 16)):
        moved = _caseload(scene)["investigators"]
    assert {row["investigator_id"]: row["overdue_first_contact"] for row in moved} == later


def _open_cases(scene: Scene, investigator: str, today: date) -> dict[str, dict[str, Any]]:
    cases = {}
    for case in scene.cases:
        if case.status in model.OPEN and case.investigator and case.investigator[0] == investigator:
            cases[case.plan.complaint_id] = {
                "reference": case.plan.reference,
                "status": case.status,
                "age_days": (today - case.lodged_on).days,
                "lodged_on": case.lodged_on.isoformat(),
                "first_contact_due": model.contact_due(case).isoformat(),
                "resolution_due": model.resolution_due(case).isoformat(),
                "overdue_first_contact": not case.contacts and model.contact_due(case) < today,
                "overdue_resolution": model.resolution_due(case) < today,
            }
    return cases


@pytest.mark.parametrize("investigator", sorted(INVESTIGATORS))
@pytest.mark.parametrize("today", [TODAYS[0], TODAYS[1], TODAYS[4]])
def test_one_investigators_open_cases_with_ages_and_due_dates(
    scene: Scene, investigator: str, today: date
) -> None:
    with scene.today(today):
        body = _caseload(scene, f"/caseload/{investigator}")

    assert body["investigator_id"] == investigator
    got = {
        case["complaint_id"]: {key: case[key] for key in _open_cases_keys()}
        for case in body["cases"]
    }
    assert got == _open_cases(scene, investigator, today)
    assert len(body["cases"]) == len(got)  # no case twice


def _open_cases_keys() -> tuple[str, ...]:
    return (
        "reference",
        "status",
        "age_days",
        "lodged_on",
        "first_contact_due",
        "resolution_due",
        "overdue_first_contact",
        "overdue_resolution",
    )


def test_a_reassigned_case_leaves_the_first_investigators_caseload(scene: Scene) -> None:
    reassigned = next(
        plan for plan in scene.plans if [s.action for s in plan.steps] == ["assign", "assign"]
    )
    first = reassigned.steps[0].body["investigator_id"]
    second = reassigned.steps[1].body["investigator_id"]
    ids_first = {case["complaint_id"] for case in _caseload(scene, f"/caseload/{first}")["cases"]}
    ids_second = {case["complaint_id"] for case in _caseload(scene, f"/caseload/{second}")["cases"]}
    assert reassigned.complaint_id not in ids_first
    assert reassigned.complaint_id in ids_second


@pytest.mark.parametrize(
    ("headers", "allowed"),
    [
        pytest.param(SUPERVISOR, True, id="supervisor"),
        pytest.param(
            auth("inv-a", "caseworker", name=INVESTIGATORS["inv-a"]),
            True,
            id="self",
        ),
        pytest.param(CASEWORKER, False, id="another-caseworker"),
        pytest.param(auth("inv-b", "caseworker"), False, id="another-investigator"),
        pytest.param(ANALYST, False, id="analyst"),
        pytest.param(AUDITOR, False, id="auditor"),
        pytest.param(INTAKE, False, id="intake"),
    ],
)
def test_who_may_read_one_investigators_caseload(
    scene: Scene, headers: dict[str, str], allowed: bool
) -> None:
    response = scene.client.get("/caseload/inv-a", headers=headers)
    if allowed:
        assert response.status_code == 200, response.text
        assert {case["complaint_id"] for case in response.json()["cases"]} == set(
            _open_cases(scene, "inv-a", NOW.date())
        )
    else:
        assert_problem(response, 403)


@pytest.mark.parametrize(
    "headers", [CASEWORKER, ANALYST, AUDITOR, INTAKE], ids=["cw", "ana", "aud", "intake"]
)
def test_only_supervisors_read_every_caseload(scene: Scene, headers: dict[str, str]) -> None:
    assert_problem(scene.client.get("/caseload", headers=headers), 403)


def test_nobody_without_a_token_reads_a_caseload(scene: Scene) -> None:
    assert_problem(scene.client.get("/caseload"), 401)
    assert_problem(scene.client.get("/caseload/inv-a"), 401)


def test_an_investigator_with_no_open_case_has_an_empty_caseload(scene: Scene) -> None:
    body = _caseload(scene, "/caseload/inv-nobody")
    assert body["cases"] == []
    assert "inv-nobody" not in {row["investigator_id"] for row in _caseload(scene)["investigators"]}


def test_the_clock_is_back_at_now_between_tests(scene: Scene) -> None:
    assert scene.clock() == NOW
