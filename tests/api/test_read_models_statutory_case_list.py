"""The case list over the statutory process (docs/DOMAIN.md part B), on each store: statuses
judged on the day of asking (a notified outcome past its deadline is finalised), the
`handling` filter, refusals of unknown filter values, the OpenAPI document and the setting.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from api.app import build_complaints
from api.read_models import ReadModels
from api.settings import Settings
from tests.projections import statutory_model as model
from tests.projections.plans import NOW
from tests.projections.statutory_scene import Told, told_fixture
from tests.support import ANALYST, CASEWORKER, assert_problem

told = told_fixture()

# ---- the case list ------------------------------------------------------------------------

STATUSES = (
    "lodged",
    "assigned",
    "in_contact",
    "resolved",
    "redirected",
    "recorded",
    "outcome_notified",
    "under_review",
    "finalised",
    "withdrawn",
)


def _listed(told: Told, headers: dict[str, str] = CASEWORKER, **params: str) -> list[Any]:
    items: list[Any] = told.get("/complaints", headers, limit="500", **params)["items"]
    return items


@pytest.mark.parametrize("today", [date(2027, 1, 15), date(2027, 1, 18), date(2027, 3, 1)])
def test_each_case_shows_and_is_filtered_by_its_status_as_of_today(told: Told, today: date) -> None:
    folded = told.folded()
    with told.today(today):
        items = _listed(told)
        by_status = {status: _listed(told, status=status) for status in STATUSES}
    assert {item["complaint_id"] for item in items} == set(folded)
    for item in items:
        case = folded[item["complaint_id"]]
        assert item["status"] == case.status_on(today), item["reference"]
        assert item["handling"] == case.handling
        due = model.next_update_due(case, today)
        assert item["next_update_due"] == (due.isoformat() if due else None)
    for status, listed in by_status.items():
        expected = {key for key, case in folded.items() if case.status_on(today) == status}
        assert {item["complaint_id"] for item in listed} == expected, status
        assert all(item["status"] == status for item in listed)


def test_the_stories_leave_a_case_in_every_status(told: Told) -> None:
    statuses = {case.status_on(NOW.date()) for case in told.folded().values()}
    assert statuses == set(STATUSES)
    # ...and one notified outcome passes its deadline between the days the test above reads.
    assert told.named["notified"].complaint_id in {
        key
        for key, case in told.folded().items()
        if case.status_on(date(2027, 1, 17)) == "outcome_notified"
        and case.status_on(date(2027, 1, 18)) == "finalised"
    }


@pytest.mark.parametrize("handling", ["none", "outside_schedule_3", "schedule_3"])
def test_the_case_list_is_filtered_by_the_latest_handling_decision(
    told: Told, handling: str
) -> None:
    expected = {key for key, case in told.folded().items() if (case.handling or "none") == handling}
    listed = _listed(told, ANALYST, handling=handling)
    assert {item["complaint_id"] for item in listed} == expected != set()
    assert all(item["investigator"] is None for item in listed)  # analysts see no one
    both = _listed(told, handling=handling, status="recorded")
    assert all(item["status"] == "recorded" for item in both)
    assert {item["complaint_id"] for item in both} <= expected


@pytest.mark.parametrize(
    "params",
    [{"handling": "maybe"}, {"handling": ""}, {"status": "closed"}, {"status": "Finalised"}],
)
def test_a_filter_value_it_does_not_know_is_a_422_naming_the_field(
    told: Told, params: dict[str, str]
) -> None:
    response = told.client.get("/complaints", params=params, headers=CASEWORKER)
    problem = assert_problem(response, 422)
    assert {error["field"] for error in problem["errors"]} == set(params)


# ---- documentation and settings ---------------------------------------------------------------


def test_the_openapi_document_describes_the_new_filters_and_fields(told: Told) -> None:
    document = told.client.get("/openapi.json").json()
    parameters = {p["name"]: p for p in document["paths"]["/complaints"]["get"]["parameters"]}
    schemas = document["components"]["schemas"]

    def enum_of(parameter: dict[str, Any]) -> list[str]:
        (choice,) = [s for s in parameter["schema"]["anyOf"] if "$ref" in s]
        return list(schemas[choice["$ref"].rsplit("/", 1)[1]]["enum"])

    assert enum_of(parameters["handling"]) == ["outside_schedule_3", "schedule_3", "none"]
    assert set(enum_of(parameters["status"])) == set(STATUSES)
    assert "finalised" in parameters["status"]["description"]
    for schema, fields in {
        "CaseListItem": ("handling", "review_deadline", "next_update_due", "outcome_notified_at"),
        "InvestigatorCaseload": ("updates_overdue", "twelve_month_reports_due"),
        "OpenCase": ("next_update_due", "update_overdue", "reports_due", "next_report_due"),
        "LearningStatisticsOut": (
            "handling",
            "allegation_category",
            "allegation_outcome",
            "iopc_referred",
            "review_result",
        ),
        "TimelinessStatisticsOut": ("lodged_to_outcome_notified",),
    }.items():
        properties = schemas[schema]["properties"]
        for field in fields:
            assert field in properties, (schema, field)
            assert field in schemas[schema]["required"], (schema, field)
            assert properties[field].get("description"), (schema, field)


def test_the_update_interval_is_a_setting_the_caseload_takes(
    told: Told, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COMPLAINTS_UPDATE_EVERY_DAYS", "10")
    settings = Settings(_env_file=None, database_url=told.url)  # type: ignore[call-arg]
    assert settings.update_every_days == 10
    models = ReadModels(settings, told.client.app.state.complaints)  # type: ignore[attr-defined]
    try:
        # Recorded, updated or reopened on 18 and 20 December: due by 30 December at the latest.
        row = {r["investigator_id"]: r for r in models.caseload(date(2027, 1, 15))["investigators"]}
        assert row["inv-u"]["updates_overdue"] == 4
    finally:
        models.close()
    complaints = build_complaints(settings)
    try:
        assert complaints.update_every_days == 10  # the complaint's own `next_update_due`
    finally:
        complaints.close()
