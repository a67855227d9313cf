"""Analysts never receive personal data, and read-model tables hold none of the complainant's or
the subject's (docs/DOMAIN.md, "Personal data").

Every personal field of a few complaints carries a unique marker; then every response an analyst
can get, and every row of every read-model table, is searched for every marker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.projections.plans import NOW, iso
from tests.projections.scenes import Api, api_fixture
from tests.projections.tables import logical_tables, select_all
from tests.support import ANALYST, auth

api = api_fixture()

TAG = uuid.uuid4().hex[:6]
# Markers by what they stand for: `personal` may appear nowhere an analyst looks nor in any
# read-model table; `staff` (investigators, actors) may appear in the case list's table, which
# supervisors read, but in nothing an analyst gets.
PERSONAL: dict[str, str] = {
    field: f"zq{TAG}m{index:02d}"  # short enough for a shoulder number, none inside another
    for index, field in enumerate(
        [
            "complainant.name",
            "complainant.email",
            "complainant.phone",
            "complainant.address",
            "on_behalf.name",
            "on_behalf.consent",
            "subject.name",
            "subject.shoulder",
            "subject.description",
            "subject.station",
            "subject.force",
            "location",
            "description",
            "channel_detail",
            "contact.summary",
            "resolution.summary",
            "learning.note",
            "redirect.reason",
            "assign.reason",
        ]
    )
}
BIRTHDAYS = ("1931-02-03", "1944-05-06", "2015-07-08")
STAFF = {
    "investigator.id": f"inv-zq{TAG}",
    "investigator.name": f"DS zq{TAG}invname",
    "intake.name": f"zq{TAG}intakename",
    "supervisor.name": f"zq{TAG}supname",
}
INTAKE = auth(f"intake-zq{TAG}", "intake", name=STAFF["intake.name"])
SUPERVISOR = auth(f"sup-zq{TAG}", "supervisor", name=STAFF["supervisor.name"])
INVESTIGATOR = auth(STAFF["investigator.id"], "caseworker", name=STAFF["investigator.name"])
M = PERSONAL


def _lodgings() -> list[dict[str, Any]]:
    complainant = {
        "name": M["complainant.name"],
        "email": f"{M['complainant.email']}@example.org",
        "phone": M["complainant.phone"],
        "address": M["complainant.address"],
        "date_of_birth": BIRTHDAYS[0],
    }
    common = {
        "received_at": iso(NOW.replace(day=4)),
        "complainant": complainant,
        "standing": "experienced",
        "behaviours": ["rude_or_aggressive"],
        "incident_date": "2027-01-02",
        "location": M["location"],
        "description": M["description"],
    }
    return [
        common
        | {
            "channel": "representative",
            "channel_detail": M["channel_detail"],
            "on_behalf_of": {
                "name": M["on_behalf.name"],
                "date_of_birth": BIRTHDAYS[1],
                "basis": "written_consent",
                "consent_reference": M["on_behalf.consent"],
            },
            "subject": {
                "kind": "officer",
                "name": M["subject.name"],
                "shoulder_number": M["subject.shoulder"],
                "description": M["subject.description"],
            },
        },
        common
        | {
            "channel": "online",
            "on_behalf_of": {
                "name": M["on_behalf.name"],
                "date_of_birth": BIRTHDAYS[2],
                "basis": "parent_or_guardian_of_child_under_16",
            },
            "subject": {"kind": "police_station", "station": M["subject.station"]},
            "behaviours": [],
        },
        common
        | {
            "channel": "letter",
            "subject": {"kind": "other_force", "force_name": M["subject.force"]},
            "behaviours": [],
        },
    ]


def _post(client: TestClient, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    response = client.post(path, json=body, headers=headers)
    assert response.status_code in (200, 201), response.text
    return response.json()


@pytest.fixture(scope="module")
def marked(api: Api) -> list[dict[str, Any]]:
    """Three complaints with a marker in every personal field, taken as far as they go."""
    client = api.client
    lodged = [_post(client, "/complaints", body, INTAKE) for body in _lodgings()]
    officer, station, force = (answer["complaint_id"] for answer in lodged)
    at = iso(NOW.replace(day=5))
    assign = {
        "investigator_id": STAFF["investigator.id"],
        "investigator_name": STAFF["investigator.name"],
        "occurred_at": at,
    }
    contact = {"method": "phone", "summary": M["contact.summary"], "occurred_at": at}
    _post(client, f"/complaints/{officer}/assign", assign, SUPERVISOR)
    _post(client, f"/complaints/{officer}/contacts", contact, INVESTIGATOR)
    resolution = {
        "outcome": "apology_given",
        "summary": M["resolution.summary"],
        "learning": [{"theme": "communication", "note": M["learning.note"]}],
    }
    _post(client, f"/complaints/{officer}/resolve", resolution, INVESTIGATOR)
    _post(client, f"/complaints/{station}/assign", assign, SUPERVISOR)
    reassign = {"investigator_id": "inv-other", "investigator_name": "DC Other"}
    _post(
        client,
        f"/complaints/{station}/assign",
        reassign | {"reason": M["assign.reason"]},
        SUPERVISOR,
    )
    redirect = {
        "destination": "other_force",
        "force_name": M["subject.force"],
        "reason": M["redirect.reason"],
    }
    last = _post(client, f"/complaints/{force}/redirect", redirect, SUPERVISOR)
    return [*lodged[:-1], last]


def _leaks(text: str, markers: list[str]) -> list[str]:
    lowered = text.lower()
    return [marker for marker in markers if marker.lower() in lowered]


def _analyst_responses(client: TestClient, complaints: list[dict[str, Any]]) -> Iterator[str]:
    """Everything an analyst can be answered: the case list every way, the statistics in both
    forms, and every other GET the API has (most of them a 403)."""
    lists: list[dict[str, str]] = [{}, {"lodged_from": "2027-01-01", "lodged_to": "2027-01-31"}]
    lists += [{"status": s} for s in ("lodged", "assigned", "in_contact", "resolved", "redirected")]
    lists += [{"subject_kind": s} for s in ("officer", "police_station", "other_force")]
    lists += [{"channel": c} for c in ("representative", "online", "letter")]
    for params in lists:
        cursor = None
        while True:
            page = client.get(
                "/complaints",
                params=params | {"limit": "1"} | ({"cursor": cursor} if cursor else {}),
                headers=ANALYST,
            )
            assert page.status_code == 200, page.text
            yield page.text + str(page.headers)
            if (cursor := page.json()["next_cursor"]) is None:
                break
    for path in ("/statistics/learning", "/statistics/timeliness"):
        for accept in ("application/json", "text/csv"):
            for params in ({}, {"from": "2027-01-04", "to": "2027-01-04"}):
                answer = client.get(path, params=params, headers=ANALYST | {"Accept": accept})
                assert answer.status_code == 200, answer.text
                yield answer.text + str(answer.headers)
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        if "get" in operations:
            for complaint in complaints:
                url = path.format_map(_Parameters(complaint))
                answer = client.get(url, headers=ANALYST, follow_redirects=False)
                assert answer.status_code < 500, (url, answer.text)
                yield answer.text + str(answer.headers)


class _Parameters(dict[str, str]):
    """Path parameters: the complaint's reference or investigator where named, else its id."""

    def __init__(self, complaint: dict[str, Any]) -> None:
        super().__init__(reference=complaint["reference"], investigator_id=STAFF["investigator.id"])
        self.complaint_id = complaint["complaint_id"]

    def __missing__(self, key: str) -> str:
        return str(self.complaint_id)


def test_nothing_an_analyst_gets_holds_personal_data_or_staff_identities(
    api: Api, marked: list[dict[str, Any]]
) -> None:
    markers = [*PERSONAL.values(), *STAFF.values(), *BIRTHDAYS]
    answers = list(_analyst_responses(api.client, marked))
    assert len(answers) > 30
    leaks = {leak for answer in answers for leak in _leaks(answer, markers)}
    assert leaks == set()


def test_the_markers_are_where_the_complaint_is_read_in_full(
    api: Api, marked: list[dict[str, Any]]
) -> None:
    # Guards the test above: the markers did reach the store (a caseworker reading the complaint
    # sees them), so their absence from the analysts' answers means something.
    seen = ""
    for complaint in marked:
        answer = api.client.get(f"/complaints/{complaint['complaint_id']}", headers=SUPERVISOR)
        assert answer.status_code == 200, answer.text
        seen += answer.text
    missing = set(PERSONAL.values()) - set(_leaks(seen, list(PERSONAL.values())))
    assert missing == set()


def test_read_model_tables_hold_no_personal_data(api: Api, marked: list[dict[str, Any]]) -> None:
    last = marked[-1]["position"]
    for path in ("/complaints", "/statistics/learning", "/statistics/timeliness"):
        answer = api.client.get(path, params={"min_position": last}, headers=ANALYST)
        assert answer.status_code == 200, answer.text
    rows = select_all(api.url, [*logical_tables(), "projection_tracking"])
    assert rows["case_list"], "the case list should hold the complaints"
    for table, content in rows.items():
        text = repr(content)
        assert _leaks(text, [*PERSONAL.values(), *BIRTHDAYS]) == [], table
        if table != "case_list":  # only the case list names investigators, for supervisors
            assert _leaks(text, list(STAFF.values())) == [], table
    assert _leaks(repr(rows["case_list"]), [STAFF["intake.name"], STAFF["supervisor.name"]]) == []
