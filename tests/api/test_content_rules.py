"""docs/DOMAIN.md rules 1-6 (and the channel detail of docs/API.md) over HTTP, on both stores.

A complaint that breaks a rule about its content is 422 problem details whose `type` names the
rule and whose `errors` name the fields, and nothing is recorded. Complaints at the edge of each
rule are accepted.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import (
    INTAKE,
    MovableClock,
    assert_problem,
    error_fields,
    lodging,
    nothing_recorded,
)

# The clock of these tests: received_at defaults to it and "the future" is after it.
NOW = datetime(2026, 11, 24, 10, 15, tzinfo=UTC)
CONTACT_FIELDS = {"complainant.email", "complainant.phone", "complainant.address"}
SUBJECT_FIELDS = {"subject.name", "subject.shoulder_number", "subject.description"}


def _subject(kind: str, **fields: str) -> dict[str, Any]:
    return {"subject": {"kind": kind, **fields}}


def _on_behalf(basis: str, **fields: str) -> dict[str, Any]:
    return {"on_behalf_of": {"name": "Alex Jones", "basis": basis, **fields}}


PARENT = "parent_or_guardian_of_child_under_16"

# (case, changes to a valid lodging, rule slug, the fields of which `errors` names at least one)
REFUSED: list[tuple[str, dict[str, Any], str, set[str]]] = [
    (
        "1: complainant without a name",
        {"complainant": {"email": "sam@example.org"}},
        "complainant-unreachable",
        {"complainant.name"},
    ),
    (
        "1: complainant without a way to be reached",
        {"complainant": {"name": "Sam Jones"}},
        "complainant-unreachable",
        CONTACT_FIELDS,
    ),
    (
        "1: blank contact methods",
        {"complainant": {"name": "Sam Jones", "email": "", "phone": "   ", "address": ""}},
        "complainant-unreachable",
        CONTACT_FIELDS,
    ),
    (
        "1: a date of birth is not a way to be reached",
        {"complainant": {"name": "Sam Jones", "date_of_birth": "1980-02-03"}},
        "complainant-unreachable",
        CONTACT_FIELDS,
    ),
    *(
        (
            f"2: {kind} without name, shoulder number or description",
            _subject(kind),
            "subject-unidentified",
            SUBJECT_FIELDS,
        )
        for kind in ("officer", "staff", "contractor", "volunteer")
    ),
    (
        "2: police station without the station",
        {**_subject("police_station"), "behaviours": ["causing_inconvenience"]},
        "subject-unidentified",
        {"subject.station"},
    ),
    (
        "2: another force without the force's name",
        {**_subject("other_force"), "behaviours": ["causing_inconvenience"]},
        "subject-unidentified",
        {"subject.force_name"},
    ),
    *(
        (
            f"3: {kind} cannot be witnessed",
            {**_subject(kind, **extra), "standing": "witnessed"},
            "standing-not-allowed",
            {"standing"},
        )
        for kind, extra in (
            ("case_handling", {}),
            ("police_station", {"station": "Charing Cross"}),
            ("force_general", {}),
        )
    ),
    (
        "4: adversely affected without an effect",
        {"standing": "adversely_affected", "behaviours": ["rude_or_aggressive"]},
        "effects-or-behaviours-missing",
        {"behaviours"},
    ),
    (
        "4: adversely affected by the force without an effect",
        {**_subject("force_general"), "standing": "adversely_affected", "behaviours": []},
        "effects-or-behaviours-missing",
        {"behaviours"},
    ),
    (
        "4: a person without a behaviour",
        {"behaviours": []},
        "effects-or-behaviours-missing",
        {"behaviours"},
    ),
    (
        "4: a person with the behaviours left out",
        {"behaviours": None},
        "effects-or-behaviours-missing",
        {"behaviours"},
    ),
    (
        "5: parent without the child's date of birth",
        _on_behalf(PARENT),
        "on-behalf-basis-invalid",
        {"on_behalf_of.date_of_birth"},
    ),
    (
        "5: parent of a child who turned 16 on the day received",
        _on_behalf(PARENT, date_of_birth="2010-11-24"),
        "on-behalf-basis-invalid",
        {"on_behalf_of.date_of_birth"},
    ),
    (
        "5: parent of an adult",
        _on_behalf(PARENT, date_of_birth="1990-01-01"),
        "on-behalf-basis-invalid",
        {"on_behalf_of.date_of_birth"},
    ),
    (
        "5: parent of a child not yet born",
        _on_behalf(PARENT, date_of_birth="2027-01-01"),
        "on-behalf-basis-invalid",
        {"on_behalf_of.date_of_birth"},
    ),
    (
        "5: written consent without its reference",
        _on_behalf("written_consent"),
        "on-behalf-basis-invalid",
        {"on_behalf_of.consent_reference"},
    ),
    (
        "6: received in the future",
        {"received_at": "2026-11-24T10:16:00Z"},
        "dates-invalid",
        {"received_at"},
    ),
    (
        "6: received in the future, given with an offset",
        {"received_at": "2026-11-24T11:16:00+01:00"},
        "dates-invalid",
        {"received_at"},
    ),
    (
        "6: received before 2000, whose reference would repeat one of this century",
        {"received_at": "1926-03-01T09:00:00Z", "incident_date": "1926-02-01"},
        "dates-invalid",
        {"received_at"},
    ),
    (
        "6: received on the last day before the floor",
        {"received_at": "1999-12-31T23:59:59Z", "incident_date": None},
        "dates-invalid",
        {"received_at"},
    ),
    (
        "6: incident after today's receipt",
        {"incident_date": "2026-11-25"},
        "dates-invalid",
        {"incident_date"},
    ),
    (
        "6: incident after an earlier receipt",
        {"received_at": "2026-11-01T09:00:00Z", "incident_date": "2026-11-02"},
        "dates-invalid",
        {"incident_date"},
    ),
    *(
        (
            f"channel detail: {channel} without it",
            {"channel": channel},
            "channel-detail-required",
            {"channel_detail"},
        )
        for channel in ("partner_organisation", "representative")
    ),
]


# (case, changes to a valid lodging, the `late` flag expected)
ACCEPTED: list[tuple[str, dict[str, Any], bool]] = [
    ("1: a name and only an address", {"complainant": {"name": "S", "address": "1 High"}}, False),
    ("1: a name and only a phone", {"complainant": {"name": "S", "phone": "07700 900123"}}, False),
    ("2: an officer described only", _subject("officer", description="Tall, grey beard"), False),
    ("2: a volunteer named only", _subject("volunteer", name="Pat Smith"), False),
    ("2: a station named", _subject("police_station", station="Brixton"), False),
    ("3: a person's conduct witnessed", {"standing": "witnessed"}, False),
    (
        "3: case handling experienced, no behaviour needed",
        {**_subject("case_handling"), "behaviours": []},
        False,
    ),
    (
        "4: adversely affected with an effect",
        {"standing": "adversely_affected", "behaviours": ["causing_distress"]},
        False,
    ),
    (
        "5: parent of a child who turns 16 the day after receipt",
        _on_behalf(PARENT, date_of_birth="2010-11-25"),
        False,
    ),
    (
        "5: written consent with its reference",
        _on_behalf("written_consent", consent_reference="WC-2026-17"),
        False,
    ),
    ("6: received exactly now", {"received_at": "2026-11-24T10:15:00Z"}, False),
    ("6: incident on the day received", {"incident_date": "2026-11-24"}, False),
    ("6: incident exactly 12 months before", {"incident_date": "2025-11-24"}, False),
    ("6: incident more than 12 months before: late", {"incident_date": "2025-11-23"}, True),
    ("6: incident years before: late", {"incident_date": "2019-05-01"}, True),
    (
        "6: received on the first day of 2000, the floor",
        {"received_at": "2000-01-01T00:00:00Z", "incident_date": None},
        False,
    ),
    (
        "6: incident on the London date of a receipt late in the UTC evening (BST)",
        {"received_at": "2026-06-30T23:30:00Z", "incident_date": "2026-07-01"},
        False,
    ),
    (
        "channel detail given",
        {"channel": "representative", "channel_detail": "Rt Hon A. Member MP"},
        False,
    ),
]


def test_each_content_rule_refuses_and_accepts_at_its_edge(
    client: TestClient, clock: MovableClock, subtests: pytest.Subtests
) -> None:
    clock.now = NOW
    for case, changes, slug, fields in REFUSED:
        with subtests.test(f"refused: {case}"), nothing_recorded(client):
            response = client.post("/complaints", json=lodging(**changes), headers=INTAKE)
            problem = assert_problem(response, 422, slug)
            named = error_fields(problem)
            assert named & fields, f"errors name {named}, expected one of {fields}"
            # one rule broken: each item is a field and its message, as it always was
            assert all(set(error) == {"field", "message"} for error in problem["errors"])

    for case, changes, late in ACCEPTED:
        with subtests.test(f"accepted: {case}"):
            body = lodging(**changes)
            response = client.post("/complaints", json=body, headers=INTAKE)
            assert response.status_code == 201, response.text
            complaint = response.json()
            assert complaint["late"] is late
            assert complaint["status"] == "lodged"
            assert complaint["subject"]["kind"] == body["subject"]["kind"]
            received = datetime.fromisoformat(complaint["received_at"])
            assert received == datetime.fromisoformat(body.get("received_at", NOW.isoformat()))


def test_a_lodging_breaking_three_rules_is_told_all_three_at_once(
    client: TestClient, clock: MovableClock
) -> None:
    clock.now = NOW
    # Given a lodging with no way to reach the complainant (rule 1), an unidentified officer
    # (rule 2) and an incident dated after receipt (rule 6)
    body = lodging(
        complainant={"name": "Sam Jones"}, subject={"kind": "officer"}, incident_date="2026-11-25"
    )
    # when it is lodged
    with nothing_recorded(client):
        response = client.post("/complaints", json=body, headers=INTAKE)
    # then one 422 names the first rule as its type and every rule broken in `errors`
    problem = assert_problem(response, 422, "complainant-unreachable")
    rules = {error["type"].rsplit("/", 1)[1] for error in problem["errors"]}
    assert rules == {"complainant-unreachable", "subject-unidentified", "dates-invalid"}
    assert error_fields(problem) >= CONTACT_FIELDS | {"subject.description", "incident_date"}
    assert "3 rules" in problem["detail"]
    assert "cannot be dated after" in problem["detail"]
