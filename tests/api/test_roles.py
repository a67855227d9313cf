"""Roles (docs/ROLES.md): who may call each endpoint, on both stores.

Roles nest (supervisor ⊃ caseworker ⊃ intake); auditors only read, and only auditors see a
complaint as it stood; analysts never read a complaint. Refusals are 403 problem details and
record nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import (
    ASSIGN_CASEWORKER,
    CONTACT,
    ENDPOINTS,
    REDIRECT_IOPC,
    RESOLVE,
    ROLE_HEADERS,
    SUPERVISOR,
    Endpoint,
    assert_problem,
    auth,
    command,
    complaint_in,
    head_position,
    history_of,
    lodging,
    nothing_recorded,
)


def test_the_table_matches_api_md() -> None:
    """The expectations below are docs/API.md's table, with the nesting of roles spelt out."""
    allowed = {endpoint.name: set(endpoint.allowed) for endpoint in ENDPOINTS}
    assert allowed == {
        "lodge": {"intake", "caseworker", "supervisor"},
        "redirect": {"caseworker", "supervisor"},
        "assign": {"supervisor"},
        "contacts": {"caseworker", "supervisor"},
        "resolve": {"caseworker", "supervisor"},
        "get": {"caseworker", "supervisor", "auditor", "records_manager"},
        "get-as-of-version": {"auditor"},
        "get-as-of": {"auditor"},
        "history": {"caseworker", "supervisor", "auditor", "records_manager"},
        "by-reference": {"caseworker", "supervisor", "auditor", "records_manager"},
        "restrict": {"records_manager"},
        "subject-access": {"records_manager"},
        "retention-due": {"records_manager"},
        "early-warning": {"supervisor"},
    }


def test_each_role_is_allowed_or_refused(client: TestClient, subtests: pytest.Subtests) -> None:
    # Refusals and reads share one complaint; each allowed command gets a fresh one, so that
    # every case sees the same state (in contact, assigned to the caseworker).
    shared = complaint_in(client, "in_contact")[-1]
    for endpoint in ENDPOINTS:
        for role, headers in ROLE_HEADERS.items():
            with subtests.test(endpoint=endpoint.name, role=role):
                if role in endpoint.allowed:
                    fresh = endpoint.method == "POST"
                    complaint = complaint_in(client, "in_contact")[-1] if fresh else shared
                    _assert_allowed(client, endpoint, role, headers, complaint)
                    continue
                with nothing_recorded(client):
                    response = endpoint.send(client, headers, complaint=shared)
                assert_problem(response, 403)
    assert history_of(client, shared["complaint_id"])[-1]["version"] == shared["version"]

    with subtests.test("roles combine: auditor and intake"):
        both = auth("aud-2", "auditor", "intake")
        lodged = client.post("/complaints", json=lodging(), headers=both)
        assert lodged.status_code == 201, lodged.text
        complaint_id = lodged.json()["complaint_id"]
        url = f"/complaints/{complaint_id}"
        past = client.get(url, params={"as_of_version": 1}, headers=both)
        assert past.status_code == 200, past.text
        assert history_of(client, complaint_id)[0]["actor"]["id"] == "aud-2"
        assert_problem(client.post(f"{url}/redirect", json=REDIRECT_IOPC, headers=both), 403)


def _assert_allowed(
    client: TestClient,
    endpoint: Endpoint,
    role: str,
    headers: dict[str, str],
    complaint: dict[str, Any],
) -> None:
    complaint_id = complaint["complaint_id"]
    head = head_position(client)
    response = endpoint.send(client, headers, complaint)
    assert response.status_code == endpoint.success, f"{role}: {response.text}"
    if endpoint.success == 307:
        assert response.headers["location"] == f"/complaints/{complaint_id}"
        return
    body = response.json()
    if endpoint.name in ("subject-access", "retention-due", "early-warning"):  # record nothing
        assert head_position(client) == head
        assert isinstance(body["items"], list)
    elif endpoint.method == "POST":
        assert head_position(client) > head
        assert body["position"] > 0
        if endpoint.name != "lodge":
            assert body["complaint_id"] == complaint_id
            assert body["version"] == complaint["version"] + 1
    elif endpoint.name == "history":
        assert body["complaint_id"] == complaint_id
        assert [event["version"] for event in body["events"]] == [1, 2, 3]
    else:
        assert body["complaint_id"] == complaint_id
        expected_version = 1 if endpoint.name == "get-as-of-version" else complaint["version"]
        assert body["version"] == expected_version
        assert response.headers["etag"] == f'"{expected_version}"'


def test_only_the_investigator_or_a_supervisor_records_contact_and_resolves(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    other = auth("cw-2", "caseworker", name="DC Somebody Else")
    for path, body in (("contacts", CONTACT), ("resolve", RESOLVE)):
        with subtests.test(path=path, caller="another caseworker"):
            complaint_id = complaint_in(client, "in_contact")[-1]["complaint_id"]
            url = f"/complaints/{complaint_id}/{path}"
            with nothing_recorded(client, complaint_id):
                assert_problem(client.post(url, json=body, headers=other), 403)

        with subtests.test(path=path, caller="a supervisor who is not the investigator"):
            complaint_id = complaint_in(client, "in_contact")[-1]["complaint_id"]
            answer = command(client, complaint_id, path, body, SUPERVISOR)
            assert answer["investigator"]["id"] == ASSIGN_CASEWORKER["investigator_id"]
            actor = history_of(client, complaint_id)[-1]["actor"]
            assert actor == {"id": "sup-1", "name": "DI Grace Hopper"}

    with subtests.test(caller="a caseworker after the case was reassigned away"):
        complaint_id = complaint_in(client, "assigned")[-1]["complaint_id"]
        reassign = {"investigator_id": "cw-2", "investigator_name": "DC Two", "reason": "Leave."}
        command(client, complaint_id, "assign", reassign, SUPERVISOR)
        url = f"/complaints/{complaint_id}/contacts"
        with nothing_recorded(client, complaint_id):
            refused = client.post(url, json=CONTACT, headers=ROLE_HEADERS["caseworker"])
        assert_problem(refused, 403)
        command(client, complaint_id, "contacts", CONTACT, other)


@pytest.mark.parametrize(
    ("who", "path"),
    [
        ("caseworker", "/complaints/not-a-uuid?as_of_version=3"),
        ("analyst", "/complaints?investigator_id=cw-1&limit=0"),
        ("caseworker", "/caseload/someone-else?wait_ms=99999"),
    ],
)
def test_a_malformed_request_is_a_422_whoever_sends_it(
    client: TestClient, who: str, path: str
) -> None:
    # Parameters are validated before the finer permissions are checked, as before they moved
    # out of the routes: a request that could never succeed says why, not who may not send it.
    response = client.get(path, headers=ROLE_HEADERS[who])
    assert response.status_code == 422, response.text
