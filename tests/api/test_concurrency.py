"""Concurrency (docs/API.md "Concurrency and retries"): If-Match, and racing commands on PostgreSQL.

If-Match with the current version succeeds, a stale one is 412 and changes nothing, a malformed
one is 400. Commands racing on one complaint never lose an update: each winner's event is in the
history exactly once, each loser gets 409 concurrent-modification, and nothing is a 5xx.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.support import (
    CASEWORKER,
    CONTACT,
    INTAKE,
    JWT_SECRET,
    REDIRECT_IOPC,
    RESOLVE,
    SUPERVISOR,
    assert_problem,
    complaint_in,
    history_of,
    lodging,
    nothing_recorded,
)

COMMANDS: list[tuple[str, dict[str, Any]]] = [
    ("redirect", REDIRECT_IOPC),
    ("assign", {"investigator_id": "inv-2", "investigator_name": "DC Two", "reason": "Leave."}),
    ("contacts", CONTACT),
    ("resolve", RESOLVE),
]


def test_if_match_current_stale_and_malformed(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    for path, body in COMMANDS:
        complaint = complaint_in(client, "in_contact")[-1]
        complaint_id, version = complaint["complaint_id"], complaint["version"]
        url = f"/complaints/{complaint_id}/{path}"

        for stale in (version - 1, version + 1, 1):
            with subtests.test(path=path, if_match=stale), nothing_recorded(client):
                response = client.post(
                    url, json=body, headers={**SUPERVISOR, "If-Match": f'"{stale}"'}
                )
                assert_problem(response, 412, "version-mismatch")

        for malformed in ("abc", '"three"', '"-1"', '"1.5"', '""'):
            with subtests.test(path=path, if_match=malformed), nothing_recorded(client):
                response = client.post(
                    url, json=body, headers={**SUPERVISOR, "If-Match": malformed}
                )
                assert_problem(response, 400)

        with subtests.test(path=path, if_match="current"):
            response = client.post(
                url, json=body, headers={**SUPERVISOR, "If-Match": f'"{version}"'}
            )
            assert response.status_code == 200, response.text
            assert response.json()["version"] == version + 1
            assert response.headers["etag"] == f'"{version + 1}"'

    with subtests.test("a stale If-Match is 412 even where the state would refuse"):
        resolved = complaint_in(client, "resolved")[-1]
        url = f"/complaints/{resolved['complaint_id']}/contacts"
        with nothing_recorded(client, resolved["complaint_id"]):
            stale = client.post(url, json=CONTACT, headers={**SUPERVISOR, "If-Match": '"2"'})
            current = client.post(url, json=CONTACT, headers={**SUPERVISOR, "If-Match": '"4"'})
        assert_problem(stale, 412, "version-mismatch")
        assert_problem(current, 409, "complaint-closed")


@pytest.fixture
def postgres_client(postgres_url: str) -> Iterator[TestClient]:
    """A client on a PostgreSQL database of its own, for requests from many threads at once."""
    settings = Settings(_env_file=None, database_url=postgres_url)  # type: ignore[call-arg]
    app = create_app(settings, jwt_secret=JWT_SECRET)
    with TestClient(app) as client:
        yield client


def _at_once(count: int, send: Any) -> list[httpx.Response]:
    """Calls `send(i)` from `count` threads released together."""
    barrier = threading.Barrier(count)

    def call(index: int) -> httpx.Response:
        barrier.wait(timeout=10)
        response: httpx.Response = send(index)
        return response

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(call, range(count)))


@pytest.mark.postgres
def test_racing_contacts_never_lose_an_update(postgres_client: TestClient) -> None:
    client = postgres_client
    complaint_id = complaint_in(client, "assigned")[-1]["complaint_id"]
    url = f"/complaints/{complaint_id}/contacts"
    winners: dict[int, str] = {}

    for round_number in range(5):

        def send(index: int, round_number: int = round_number) -> httpx.Response:
            summary = f"round {round_number}, thread {index}"
            return client.post(url, json={**CONTACT, "summary": summary}, headers=CASEWORKER)

        responses = _at_once(20, send)

        statuses = Counter(response.status_code for response in responses)
        assert set(statuses) <= {200, 409}, [response.text for response in responses]
        assert statuses[200] >= 1
        for response in responses:
            if response.status_code == 409:
                assert_problem(response, 409, "concurrent-modification")
                continue
            body = response.json()
            assert body["version"] not in winners, "two winners answered the same version"
            winners[body["version"]] = body["contacts"][-1]["summary"]

    events = history_of(client, complaint_id)
    versions = [event["version"] for event in events]
    assert versions == list(range(1, len(events) + 1))
    contacts = {
        event["version"]: event["data"]["summary"]
        for event in events
        if event["type"] == "ComplainantContacted"
    }
    assert contacts == winners  # every winner exactly once, and nothing that lost
    final = client.get(f"/complaints/{complaint_id}", headers=SUPERVISOR)
    assert final.headers["etag"] == f'"{versions[-1]}"'
    assert [contact["summary"] for contact in final.json()["contacts"]] == [
        winners[version] for version in sorted(winners)
    ]


@pytest.mark.postgres
def test_racing_lodgings_all_succeed_with_distinct_references(
    postgres_client: TestClient,
) -> None:
    client = postgres_client

    responses = _at_once(20, lambda _: client.post("/complaints", json=lodging(), headers=INTAKE))

    assert [response.status_code for response in responses] == [201] * 20, [
        response.text for response in responses if response.status_code != 201
    ]
    references = [response.json()["reference"] for response in responses]
    assert len(set(references)) == 20
    ids = {response.json()["complaint_id"] for response in responses}
    assert len(ids) == 20
    positions = [response.json()["position"] for response in responses]
    assert len(set(positions)) == 20
