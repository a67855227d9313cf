"""docs/DOMAIN.md rules 7-11 over HTTP, on both stores, and the redirect flows of rule 7.

A command the case's state does not allow is 409 problem details whose `type` names the rule,
with a `detail` a person can act on, and nothing is recorded. Commands are sent by a supervisor,
who may do all of them, so that only the rule under test can refuse them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import (
    ASSIGN_CASEWORKER,
    CONTACT,
    RESOLVE,
    SUPERVISOR,
    MovableClock,
    assert_problem,
    command,
    complaint_in,
    history_of,
    lodging,
    nothing_recorded,
)

NOW = datetime(2026, 11, 24, 10, 15, tzinfo=UTC)

COMMISSIONER = lodging(
    subject={"kind": "commissioner"}, behaviours=["causing_inconvenience"], incident_date=None
)
OTHER_FORCE = lodging(
    subject={"kind": "other_force", "force_name": "Kent Police"},
    behaviours=["causing_inconvenience"],
)
REASSIGN = {"investigator_id": "inv-2", "investigator_name": "DC Two", "reason": "Workload."}
TO_MOPAC = {"destination": "mopac", "reason": "The Commissioner is MOPAC's to handle."}
TO_IOPC = {"destination": "iopc", "reason": "Serious allegation."}
TO_KENT = {"destination": "other_force", "force_name": "Kent Police", "reason": "Their officer."}
EVERY_COMMAND: list[tuple[str, dict[str, Any]]] = [
    ("redirect", TO_IOPC),
    ("assign", REASSIGN),
    ("contacts", CONTACT),
    ("resolve", RESOLVE),
]

# (case, state reached through the API, lodging body, command path, command body, rule slug)
REFUSED: list[tuple[str, str, dict[str, Any] | None, str, dict[str, Any], str]] = [
    ("7: assign the Commissioner", "lodged", COMMISSIONER, "assign", REASSIGN, "must-redirect"),
    ("7: assign another force", "lodged", OTHER_FORCE, "assign", REASSIGN, "must-redirect"),
    (
        "7: the Commissioner to the IOPC",
        "lodged",
        COMMISSIONER,
        "redirect",
        TO_IOPC,
        "redirect-destination-not-allowed",
    ),
    (
        "7: the Commissioner to another force",
        "lodged",
        COMMISSIONER,
        "redirect",
        TO_KENT,
        "redirect-destination-not-allowed",
    ),
    (
        "7: another force to MOPAC",
        "lodged",
        OTHER_FORCE,
        "redirect",
        TO_MOPAC,
        "redirect-destination-not-allowed",
    ),
    (
        "7: another force to a different force",
        "lodged",
        OTHER_FORCE,
        "redirect",
        {**TO_KENT, "force_name": "Essex Police"},
        "redirect-destination-not-allowed",
    ),
    (
        "8: reassignment without a reason",
        "assigned",
        None,
        "assign",
        {"investigator_id": "inv-2", "investigator_name": "DC Two"},
        "reassignment-reason-required",
    ),
    (
        "8: reassignment without a reason once in contact",
        "in_contact",
        None,
        "assign",
        {"investigator_id": "inv-2", "investigator_name": "DC Two"},
        "reassignment-reason-required",
    ),
    ("9: contact when lodged", "lodged", None, "contacts", CONTACT, "contact-before-assignment"),
    (
        "9: contact dated before receipt",
        "assigned",
        None,
        "contacts",
        {**CONTACT, "occurred_at": "2026-11-24T10:14:59Z"},
        "contact-date-invalid",
    ),
    (
        "9: contact dated in the future",
        "assigned",
        None,
        "contacts",
        {**CONTACT, "occurred_at": "2026-11-24T11:15:01+01:00"},
        "contact-date-invalid",
    ),
    ("10: no contact yet", "assigned", None, "resolve", RESOLVE, "resolution-without-contact"),
    *(
        (f"11: {path} when {state}", state, None, path, body, "complaint-closed")
        for state in ("resolved", "redirected")
        for path, body in EVERY_COMMAND
    ),
]


def test_a_command_the_state_does_not_allow_is_409_naming_the_rule(
    client: TestClient, clock: MovableClock, subtests: pytest.Subtests
) -> None:
    clock.now = NOW
    for case, state, lodged, path, body, slug in REFUSED:
        with subtests.test(case):
            complaint = complaint_in(client, state, lodged)[-1]
            complaint_id = complaint["complaint_id"]
            url = f"/complaints/{complaint_id}/{path}"
            with nothing_recorded(client):
                response = client.post(url, json=body, headers=SUPERVISOR)
            assert_problem(response, 409, slug)
            current = client.get(f"/complaints/{complaint_id}", headers=SUPERVISOR)
            assert current.json()["status"] == state
            assert current.headers["etag"] == f'"{complaint["version"]}"'


REDIRECT_FLOWS = [
    ("the Commissioner to MOPAC", COMMISSIONER, TO_MOPAC, "mopac"),
    ("another force to that force", OTHER_FORCE, TO_KENT, "other_force"),
    ("another force to the IOPC", OTHER_FORCE, TO_IOPC, "iopc"),
    (
        "another force to that force, spelt loosely",
        OTHER_FORCE,
        {**TO_KENT, "force_name": "kent  police"},
        "other_force",
    ),
]


def test_a_complaint_that_must_be_redirected_is_redirected_and_then_closed(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    for case, lodged, redirect, destination in REDIRECT_FLOWS:
        with subtests.test(case):
            complaint_id = complaint_in(client, "lodged", lodged)[-1]["complaint_id"]
            url = f"/complaints/{complaint_id}"

            with nothing_recorded(client, complaint_id):
                refused = client.post(f"{url}/assign", json=ASSIGN_CASEWORKER, headers=SUPERVISOR)
            assert_problem(refused, 409, "must-redirect")

            redirected = command(client, complaint_id, "redirect", redirect, SUPERVISOR)
            assert redirected["status"] == "redirected"
            assert redirected["version"] == 2
            assert redirected["redirect"]["destination"] == destination
            assert redirected["redirect"]["force_name"] == redirect.get("force_name")
            assert redirected["redirect"]["reason"] == redirect["reason"]
            assert redirected["redirect"]["by"] == {"id": "sup-1", "name": "DI Grace Hopper"}
            assert redirected["investigator"] is None
            assert history_of(client, complaint_id)[-1]["type"] == "ComplaintRedirected"

            with nothing_recorded(client, complaint_id):
                for path, body in [("redirect", redirect), *EVERY_COMMAND]:
                    response = client.post(f"{url}/{path}", json=body, headers=SUPERVISOR)
                    assert_problem(response, 409, "complaint-closed")
            assert client.get(url, headers=SUPERVISOR).json()["status"] == "redirected"

    for state in ("lodged", "assigned", "in_contact"):
        with subtests.test(f"any open complaint may be redirected: {state}"):
            complaint = complaint_in(client, state)[-1]
            answer = command(client, complaint["complaint_id"], "redirect", TO_IOPC, SUPERVISOR)
            assert answer["status"] == "redirected"
            assert answer["version"] == complaint["version"] + 1
            assert answer["redirect"]["destination"] == "iopc"
