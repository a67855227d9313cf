"""What a newcomer's tool meets first, said plainly: a body sent without its JSON content type,
library wording, a method the path does not serve, a malformed Idempotency-Key, and the bodies
the OpenAPI document gives as examples (each accepted, in the lifecycle's order)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import (
    INTAKE,
    SUPERVISOR,
    assert_problem,
    error_fields,
    lodging,
    nothing_recorded,
)

LIBRARY_WORDING = (
    "Input should",
    "Value error",
    "valid dictionary",
    "Field required",
    "Extra inputs",
)


def _messages(problem: dict[str, Any]) -> str:
    return " ".join([problem["detail"], *(e["message"] for e in problem.get("errors") or [])])


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_body_sent_without_its_json_content_type_is_told_so(
    client: TestClient, content_type: str | None
) -> None:
    # Given a valid lodging, sent as bytes with no JSON content type
    headers = {**INTAKE, **({"Content-Type": content_type} if content_type else {})}
    with nothing_recorded(client):
        response = client.post("/complaints", content=json.dumps(lodging()), headers=headers)
    # then the answer says what to send, in the product's words
    problem = assert_problem(response, 422, "validation-error")
    assert error_fields(problem) == {"body"}
    assert "Content-Type: application/json" in problem["errors"][0]["message"]
    assert not any(words in _messages(problem) for words in LIBRARY_WORDING)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"complainant": {"name": "Sam", "email": "nope"}}, "complainant.email", "is not an email"),
        ({"channel": "fax"}, "channel", "must be one of: online, letter"),
        ({"flavour": "mint"}, "flavour", "is not a field of this request"),
        ({"description": None}, "description", "is required"),
        ({"received_at": "2026-11-01T09:00:00"}, "received_at", "must carry a UTC offset"),
        ({"incident_date": "yesterday"}, "incident_date", "must be a date, YYYY-MM-DD"),
        ({"description": "x" * 20_001}, "description", "must be at most 20000 characters"),
        ({"behaviours": "rude"}, "behaviours", "must be a list"),
    ],
)
def test_validation_is_said_in_the_products_words(
    client: TestClient, changes: dict[str, Any], field: str, message: str
) -> None:
    with nothing_recorded(client):
        response = client.post("/complaints", json=lodging(**changes), headers=INTAKE)
    problem = assert_problem(response, 422, "validation-error")
    said = {error["field"]: error["message"] for error in problem["errors"]}
    assert message in said[field], said
    assert not any(words in _messages(problem) for words in LIBRARY_WORDING), said


def test_a_body_that_is_not_an_object_or_not_json_is_told_so(client: TestClient) -> None:
    not_an_object = client.post("/complaints", json=[1, 2], headers=INTAKE)
    assert assert_problem(not_an_object, 422)["errors"][0]["message"] == "must be a JSON object"
    broken = client.post(
        "/complaints",
        content=b'{"channel": ',
        headers={**INTAKE, "Content-Type": "application/json"},
    )
    assert assert_problem(broken, 422)["errors"][0]["message"].startswith("is not valid JSON")


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/complaints", "GET, POST"),
        ("DELETE", "/complaints", "GET, POST"),
        ("POST", "/caseload", "GET"),
        ("GET", "/complaints/00000000-0000-0000-0000-000000000000/assign", "POST"),
        ("POST", "/docs", "GET"),
        ("POST", "/openapi.json", "GET, HEAD"),
    ],
)
def test_a_405_allows_every_method_the_path_serves(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path, headers=SUPERVISOR)
    problem = assert_problem(response, 405, "method-not-allowed")
    assert response.headers["allow"] == allowed
    assert allowed in problem["detail"]


@pytest.mark.parametrize("key", ["", " leading", "naïve-ü", "k" * 201, "tab\there"])
def test_a_malformed_idempotency_key_is_a_400_and_records_nothing(
    client: TestClient, key: str
) -> None:
    with nothing_recorded(client):
        response = client.post(
            "/complaints",
            json=lodging(),
            headers={**INTAKE, "Idempotency-Key": key.encode()},  # type: ignore[dict-item]
        )
    assert_problem(response, 400, "invalid-idempotency-key")


def test_a_key_of_printable_ascii_with_inner_spaces_is_accepted(client: TestClient) -> None:
    key = "retry of lodging " + "k" * 150
    first = client.post("/complaints", json=lodging(), headers={**INTAKE, "Idempotency-Key": key})
    again = client.post("/complaints", json=lodging(), headers={**INTAKE, "Idempotency-Key": key})
    assert first.status_code == again.status_code == 201, first.text
    assert first.json()["complaint_id"] == again.json()["complaint_id"]


def _examples(document: dict[str, Any], path: str) -> list[dict[str, Any]]:
    body = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    return [example["value"] for example in body["examples"].values()]


def test_the_documents_examples_carry_a_complaint_from_lodging_to_resolution(
    client: TestClient,
) -> None:
    document = client.get("/openapi.json").json()
    path = "/complaints/{complaint_id}"
    for lodged_example in _examples(document, "/complaints"):
        # Given each example lodging, lodged as the document gives it
        lodged = client.post("/complaints", json=lodged_example, headers=SUPERVISOR)
        assert lodged.status_code == 201, lodged.text
        complaint_id = lodged.json()["complaint_id"]
        etag = lodged.headers["etag"]
        # then each next command's first example is accepted in turn, with the ETag as If-Match
        for step in ("assign", "contacts", "resolve"):
            body = _examples(document, f"{path}/{step}")[0]
            url = f"/complaints/{complaint_id}/{step}"
            answer = client.post(url, json=body, headers={**SUPERVISOR, "If-Match": etag})
            assert answer.status_code == 200, (step, answer.text)
            etag = answer.headers["etag"]
        assert answer.json()["status"] == "resolved"
    for redirect_example in _examples(document, f"{path}/redirect"):
        complaint_id = client.post("/complaints", json=lodging(), headers=SUPERVISOR).json()[
            "complaint_id"
        ]
        url = f"/complaints/{complaint_id}/redirect"
        redirected = client.post(url, json=redirect_example, headers=SUPERVISOR)
        assert redirected.status_code == 200, redirected.text


def test_an_identifier_with_a_space_is_told_so_in_words(client: TestClient) -> None:
    complaint_id = client.post("/complaints", json=lodging(), headers=INTAKE).json()["complaint_id"]
    body = {"investigator_id": "inv 2041", "investigator_name": "DS Ada Lovelace"}
    response = client.post(f"/complaints/{complaint_id}/assign", json=body, headers=SUPERVISOR)
    problem = assert_problem(response, 422, "validation-error")
    assert problem["errors"] == [
        {"field": "investigator_id", "message": "must be one word, without spaces"}
    ]
    assert problem["detail"] == "investigator_id: must be one word, without spaces"


def test_a_body_level_message_is_not_prefixed_with_its_field(client: TestClient) -> None:
    response = client.post("/complaints", content=json.dumps(lodging()), headers=INTAKE)
    detail = assert_problem(response, 422)["detail"]
    assert detail.startswith("The body must be JSON"), detail
