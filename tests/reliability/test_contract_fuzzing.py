"""Contract fuzzing (docs/API.md "Problem details", and the OpenAPI document as the contract).

Schemathesis generates requests for every operation of `/openapi.json`, valid and invalid, and
sends them with a bearer token of each role to one app started once for the module (SQLite,
embedded projections) and seeded with real complaints, whose ids and references are fed into the
path parameters so that some requests reach existing complaints. Every response must be a
non-5xx whose status code, content type, headers and body the document describes.

Schemathesis' `negative_data_rejection` check is not used: it counts unknown query parameters,
which the API ignores as HTTP APIs do, as schema violations. It did find that date parameters
take Unix times, which test_date_parameters_refuse_what_is_not_a_date pins.

The default run is bounded (`DEFAULT_EXAMPLES` per operation and role); set
COMPLAINTS_FUZZ_EXAMPLES=1000 for a long, randomised run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any, cast

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.core.result import Err
from schemathesis.python.asgi import ASGIClient
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.settings import Settings
from tests.support import JWT_SECRET, ROLE_HEADERS, complaint_in, lodging

DEFAULT_EXAMPLES = 25
EXAMPLES = int(os.environ.get("COMPLAINTS_FUZZ_EXAMPLES", DEFAULT_EXAMPLES))
LONG_RUN = EXAMPLES > DEFAULT_EXAMPLES
PROBLEM = "application/problem+json"
UNAUTHENTICATED = {"/health/live", "/health/ready", "/metrics"}
# 422s that carry no `errors` (test_every_422_names_its_fields pins them); tolerated here only.


@schemathesis.check
def no_server_error(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """No 5xx, except docs/API.md's documented 503 for a read model behind `min_position`."""
    if response.status_code < 500:
        return None
    body = response.json() if response.headers.get("content-type") == [PROBLEM] else {}
    query = case.query if isinstance(case.query, dict) else {}
    behind = str(body.get("type", "")).endswith("/projection-behind") and "min_position" in query
    assert response.status_code == 503, f"{response.status_code}: {response.text}"
    assert behind, f"503 without a read model behind `min_position`: {response.text}"
    return None


@schemathesis.check
def problem_details(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """Every 4xx and 5xx is RFC 9457 problem details with the four members of docs/API.md."""
    if response.status_code < 400:
        return None
    content_type = (response.headers.get("content-type") or [""])[0].split(";")[0]
    assert content_type == PROBLEM, f"{response.status_code} as {content_type!r}"
    body = response.json()
    assert isinstance(body, dict), body
    for member in ("type", "title", "detail"):
        assert isinstance(body.get(member), str), (member, body)
        assert body[member].strip(), (member, body)
    assert body.get("status") == response.status_code, body
    reused_key = body["type"].endswith("/idempotency-key-reused")  # a refusal, not a validation
    if response.status_code == 422 and not reused_key:
        assert isinstance(body.get("errors"), list), body
        assert body["errors"], body
    return None


CHECKS = [
    no_server_error,
    problem_details,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _document() -> dict[str, Any]:
    """The served document; building it touches no database."""
    never_opened = Settings(_env_file=None, database_url="sqlite:////nonexistent/never.db")
    app = create_app(never_opened, jwt_secret=JWT_SECRET)
    document: dict[str, Any] = TestClient(app).get("/openapi.json").json()
    return document


DOCUMENT = _document()
schema = schemathesis.openapi.from_dict(DOCUMENT)


class Seeded:
    """Ids of real complaints, filled in by the `live` fixture before any case is generated."""

    complaint_ids: list[str] = []
    references: list[str] = []
    investigators: list[str] = ["cw-1", "sup-1", "inv-2"]


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


@schema.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any]
) -> st.SearchStrategy[dict[str, Any]]:
    """Sometimes swaps a generated (valid) id for a seeded one; invalid values stay invalid."""
    choices: list[dict[str, Any]] = [path_parameters]
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    if _is_uuid(path_parameters.get("complaint_id")):
        choices += [path_parameters | {"complaint_id": id_} for id_ in Seeded.complaint_ids]
    if isinstance(path_parameters.get("reference"), str):
        choices += [path_parameters | {"reference": ref} for ref in Seeded.references]
    if isinstance(path_parameters.get("investigator_id"), str):
        choices += [path_parameters | {"investigator_id": i} for i in Seeded.investigators]
    return st.sampled_from(choices)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ASGIClient]:
    """The app, started once (TestClient lifespan), seeded, and a client for schemathesis.

    The schemathesis client is not entered, so it does not start a second lifespan: it sends
    requests to the app that the TestClient started.
    """
    database = tmp_path_factory.mktemp("fuzz") / "complaints.db"
    url = f"sqlite:///{database}"
    settings = Settings(_env_file=None, database_url=url, projections="embedded")
    app = create_app(settings, jwt_secret=JWT_SECRET)
    with TestClient(app) as client:
        seeded = [
            complaint_in(client, status)[-1] for status in ("lodged", "in_contact", "resolved")
        ]
        seeded.append(complaint_in(client, "redirected")[-1])
        seeded.append(complaint_in(client, "lodged", lodging(subject={"kind": "commissioner"}))[-1])
        Seeded.complaint_ids = [c["complaint_id"] for c in seeded]
        Seeded.references = [c["reference"] for c in seeded]
        yield ASGIClient(cast(Any, app))
        response = client.get("/health/live")
        assert response.status_code == 200, "the app died under fuzzing"
    Seeded.complaint_ids, Seeded.references = [], []


def test_the_openapi_document_validates() -> None:
    # Given the document the app serves, when it is checked against the OpenAPI 3.1 meta-schema
    schema.validate()  # then it raises nothing
    assert DOCUMENT["openapi"].startswith("3.1")
    operations = list(schema.get_all_operations())
    assert [op.err() for op in operations if isinstance(op, Err)] == []
    assert len(operations) >= 20


ROLES = [pytest.param(role, id=role) for role in ROLE_HEADERS]


def _bound_the_wait(case: schemathesis.Case[Any]) -> None:
    """A read model waits up to `wait_ms` (default 2 s) for `min_position`: cases ask for
    positions far ahead, so a valid wait is cut to 20 ms (an invalid one stays invalid)."""
    query = case.query
    if not isinstance(query, dict) or "min_position" not in query:
        return
    wait = query.get("wait_ms", 2000)
    if isinstance(wait, int) and not isinstance(wait, bool) and 0 <= wait <= 10_000:
        query["wait_ms"] = min(wait, 20)


@pytest.mark.parametrize("role", ROLES)
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_5xx_and_every_response_is_documented(
    case: schemathesis.Case[Any], role: str, live: ASGIClient
) -> None:
    if case.path in UNAUTHENTICATED and role != "intake":
        pytest.skip("no token is read here; one role is enough")
    _bound_the_wait(case)
    # The change feed never ends by itself: read its head for a moment, not until a timeout.
    extra = {"timeout": 0.25} if case.path == "/events/stream" else {}
    case.call_and_validate(session=live, headers=ROLE_HEADERS[role], checks=CHECKS, **extra)


DATE_PARAMETERS = [
    pytest.param("/complaints", "lodged_to", id="case-list-lodged_to"),
    pytest.param("/complaints", "lodged_from", id="case-list-lodged_from"),
    pytest.param("/statistics/learning", "to", id="learning-to"),
    pytest.param("/statistics/timeliness", "from", id="timeliness-from"),
]


@pytest.mark.parametrize(("path", "parameter"), DATE_PARAMETERS)
@pytest.mark.parametrize("value", ["0", "1795737600"])  # midnights, as Unix times
def test_date_parameters_refuse_what_is_not_a_date(
    live: ASGIClient, path: str, parameter: str, value: str
) -> None:
    # Given a supervisor (who may read every one of these), when a date is sent as a number
    response = live.get(path, params={parameter: value}, headers=ROLE_HEADERS["supervisor"])
    # then it is refused as a validation error, not read as seconds since 1970
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert parameter in {error["field"] for error in response.json()["errors"]}


@pytest.mark.parametrize(
    ("path", "params", "fields"),
    [
        pytest.param(
            "/complaints/{id}",
            {"as_of_version": "1", "as_of": "2026-01-01T00:00:00Z"},
            {"as_of", "as_of_version"},
            id="as_of-and-as_of_version",
        ),
        pytest.param(
            "/statistics/learning",
            {"from": "2026-02-01", "to": "2026-01-01"},
            {"from", "to"},
            id="learning-from-after-to",
        ),
        pytest.param(
            "/complaints",
            {"lodged_from": "2026-02-01", "lodged_to": "2026-01-01"},
            {"lodged_from", "lodged_to"},
            id="case-list-from-after-to",
        ),
        pytest.param(
            "/statistics/timeliness",
            {"from": "2026-02-01", "to": "2026-01-01"},
            {"from", "to"},
            id="timeliness-from-after-to",
        ),
    ],
)
def test_every_422_names_its_fields(
    live: ASGIClient, path: str, params: dict[str, str], fields: set[str]
) -> None:
    # Given an auditor (who may use every one of these parameters)
    url = path.format(id=Seeded.complaint_ids[0])
    # when two parameters contradict each other
    response = live.get(url, params=params, headers=ROLE_HEADERS["auditor"])
    # then the 422 names them in `errors`
    assert response.status_code == 422, response.text
    named = {error["field"] for error in response.json().get("errors") or []}
    assert named & fields, response.text
