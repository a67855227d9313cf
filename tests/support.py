"""Helpers for tests: tokens, a clock that tests move, and valid request bodies."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
from fastapi.testclient import TestClient

from api.http.auth import mint_token

JWT_SECRET = "test-secret-that-is-long-enough-for-hs256"
# The master key of every test store (PostgreSQL refuses to start without one).
MASTER_KEY = "dGVzdC1tYXN0ZXIta2V5LW9mLXRoaXJ0eS10d28tYnk="


def auth(sub: str, *roles: str, name: str | None = None, ttl: int = 4 * 3600) -> dict[str, str]:
    """Authorization header for a caller with these roles (minted when tests are collected, so
    it must outlive the whole run: a loaded machine once took the suite past ten minutes)."""
    token = mint_token(
        JWT_SECRET, sub=sub, name=name or f"Officer {sub}", roles=list(roles), ttl=ttl
    )
    return {"Authorization": f"Bearer {token}"}


# The records manager's requests the tests make most.
ERASE = {"basis": "erasure_request", "authority_ref": "DPO-17"}
RESTRICT = {"reason": "Held for court proceedings.", "authority_ref": "CPS-2026-7"}

INTAKE = auth("intake-1", "intake")
CASEWORKER = auth("cw-1", "caseworker")
SUPERVISOR = auth("sup-1", "supervisor", name="DI Grace Hopper")
AUDITOR = auth("aud-1", "auditor")
ANALYST = auth("ana-1", "analyst")
RECORDS_MANAGER = auth("rm-1", "records_manager", name="Records Officer Ida Wells")


class MovableClock:
    """Now, unless a test has moved it; tests that need a fixed instant set `now`."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        self.now = self() + delta


VALID_LODGING: dict[str, Any] = {
    "channel": "online",
    "complainant": {"name": "Sam Jones", "email": "sam@example.org", "phone": "07700 900123"},
    "standing": "experienced",
    "subject": {"kind": "officer", "shoulder_number": "1234AB"},
    "behaviours": ["rude_or_aggressive"],
    "incident_date": "2026-11-01",
    "location": "Oxford Street",
    "description": "The officer shouted at me while I asked for directions.",
}


def lodging(**changes: Any) -> dict[str, Any]:
    """A valid LodgeComplaint body with top-level fields replaced (None removes a field)."""
    body = copy.deepcopy(VALID_LODGING)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body


# ---- Helpers for the HTTP API tests (tests/api) ----------------------------------------------

PROBLEM_MEDIA_TYPE = "application/problem+json"

# The standard caseworker (`CASEWORKER`, sub cw-1) is the investigator that `complaint_in` assigns.
ASSIGN_CASEWORKER: dict[str, Any] = {"investigator_id": "cw-1", "investigator_name": "Officer cw-1"}
CONTACT: dict[str, Any] = {"method": "phone", "summary": "Talked it through."}
RESOLVE: dict[str, Any] = {
    "outcome": "apology_given",
    "summary": "Apologised.",
    "learning": [{"theme": "communication", "note": "Be patient."}],
}
REDIRECT_IOPC: dict[str, Any] = {"destination": "iopc", "reason": "Serious allegation."}


def assert_problem(
    response: httpx.Response, status: int, type_suffix: str | None = None
) -> dict[str, Any]:
    """Asserts an RFC 9457 problem response with this status (and `type` ending in the slug)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0].strip() == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert isinstance(body, dict), body
    for key in ("type", "title", "detail"):
        assert isinstance(body.get(key), str), body
        assert body[key].strip(), body
    assert body["status"] == status, body
    if type_suffix is not None:
        assert body["type"].endswith("/" + type_suffix), body["type"]
    return body


def error_fields(problem: dict[str, Any]) -> set[str]:
    """The fields a 422 problem's `errors` names (each entry must be a {field, message})."""
    errors = problem.get("errors")
    assert isinstance(errors, list), problem
    assert errors, problem
    for error in errors:
        assert isinstance(error.get("field"), str), error
        assert isinstance(error.get("message"), str), error
        assert error["message"], error
    return {error["field"] for error in errors}


def head_position(client: TestClient) -> int:
    """The event store's last position, as `GET /health/ready` reports it."""
    response = client.get("/health/ready")
    assert response.status_code == 200, response.text
    head = response.json()["dependencies"]["event_store"]["head_position"]
    assert isinstance(head, int)
    return head


def history_of(client: TestClient, complaint_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/complaints/{complaint_id}/history", headers=AUDITOR)
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


@contextmanager
def nothing_recorded(client: TestClient, complaint_id: str | None = None) -> Iterator[None]:
    """Asserts that the block records no event (and leaves the complaint's history as it was).

    The head position is read right before and right after the block, with no other request
    in between, so that reads which might be logged elsewhere cannot disturb the comparison.
    """
    before = history_of(client, complaint_id) if complaint_id else None
    head = head_position(client)
    yield
    assert head_position(client) == head, "a refused request recorded an event"
    if complaint_id:
        assert history_of(client, complaint_id) == before


def lodge(client: TestClient, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """Lodges a complaint (a valid one by default) and returns the 201 body."""
    response = client.post("/complaints", json=body or lodging(), headers=INTAKE)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def command(
    client: TestClient,
    complaint_id: str,
    path: str,
    body: dict[str, Any],
    headers: dict[str, str],
) -> dict[str, Any]:
    """Sends a command that must succeed and returns its 200 body."""
    response = client.post(f"/complaints/{complaint_id}/{path}", json=body, headers=headers)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def complaint_in(
    client: TestClient, status: str, body: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """A complaint brought to `status` through the API (assigned to cw-1, the CASEWORKER).

    Returns every command response in order, so that `[-1]` is the complaint as it now stands.
    """
    responses = [lodge(client, body)]
    complaint_id = responses[0]["complaint_id"]
    assign = ("assign", ASSIGN_CASEWORKER, SUPERVISOR)
    contact = ("contacts", CONTACT, CASEWORKER)
    steps = {
        "lodged": [],
        "redirected": [("redirect", REDIRECT_IOPC, CASEWORKER)],
        "assigned": [assign],
        "in_contact": [assign, contact],
        "resolved": [assign, contact, ("resolve", RESOLVE, CASEWORKER)],
    }[status]
    for path, step_body, headers in steps:
        responses.append(command(client, complaint_id, path, step_body, headers))
    assert responses[-1]["status"] == status
    return responses


ROLE_HEADERS: dict[str, dict[str, str]] = {
    "intake": INTAKE,
    "caseworker": CASEWORKER,
    "supervisor": SUPERVISOR,
    "auditor": AUDITOR,
    "analyst": ANALYST,
    "records_manager": RECORDS_MANAGER,
}


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of docs/API.md with a request that succeeds on an `in_contact` complaint of
    `complaint_in` for the roles in `allowed` (the caseworker is the assigned investigator)."""

    name: str
    method: str
    path: str  # `{id}` and `{ref}` are filled in by `send`
    allowed: frozenset[str]
    success: int = 200
    body: dict[str, Any] | None = None
    params: dict[str, str] = field(default_factory=dict)  # `{now}` is filled in by `send`

    def send(
        self,
        client: TestClient,
        headers: dict[str, str],
        complaint: dict[str, Any],
    ) -> httpx.Response:
        url = self.path.format(
            id=complaint["complaint_id"], ref=quote(complaint["reference"], safe="")
        )
        now = datetime.now(UTC).isoformat()
        params = {key: value.format(now=now) for key, value in self.params.items()}
        return client.request(
            self.method,
            url,
            json=self.body,
            params=params,
            headers=headers,
            follow_redirects=False,
        )


_CASEWORKERS = frozenset({"caseworker", "supervisor"})
_READERS = frozenset({"caseworker", "supervisor", "auditor", "records_manager"})
_RECORDS = frozenset({"records_manager"})

ENDPOINTS: list[Endpoint] = [
    Endpoint(
        "lodge",
        "POST",
        "/complaints",
        frozenset({"intake", "caseworker", "supervisor"}),
        201,
        lodging(),
    ),
    Endpoint("redirect", "POST", "/complaints/{id}/redirect", _CASEWORKERS, body=REDIRECT_IOPC),
    Endpoint(
        "assign",
        "POST",
        "/complaints/{id}/assign",
        frozenset({"supervisor"}),
        body={"investigator_id": "inv-2", "investigator_name": "DC Two", "reason": "Workload."},
    ),
    Endpoint("contacts", "POST", "/complaints/{id}/contacts", _CASEWORKERS, body=CONTACT),
    Endpoint("resolve", "POST", "/complaints/{id}/resolve", _CASEWORKERS, body=RESOLVE),
    Endpoint("get", "GET", "/complaints/{id}", _READERS),
    Endpoint(
        "get-as-of-version",
        "GET",
        "/complaints/{id}",
        frozenset({"auditor"}),
        params={"as_of_version": "1"},
    ),
    Endpoint(
        "get-as-of", "GET", "/complaints/{id}", frozenset({"auditor"}), params={"as_of": "{now}"}
    ),
    Endpoint("history", "GET", "/complaints/{id}/history", _READERS),
    Endpoint("by-reference", "GET", "/complaints/by-reference/{ref}", _READERS, 307),
    # Records management: restriction applies at any status; erasure and retention reviews
    # need a final complaint and are covered in tests/api/test_records.py.
    Endpoint(
        "restrict",
        "POST",
        "/complaints/{id}/restrict",
        _RECORDS,
        body={"reason": "Evidence.", "authority_ref": "CPS-1"},
    ),
    Endpoint("subject-access", "POST", "/subject-access", _RECORDS, body={"email": "a@b.org"}),
    Endpoint("retention-due", "GET", "/retention/due", _RECORDS),
    Endpoint("early-warning", "GET", "/early-warning", frozenset({"supervisor"})),
]
