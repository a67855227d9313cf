"""The OpenAPI document (docs/API.md: "the machine-readable form of this contract").

Every endpoint of docs/API.md's commands and reading tables is there, with its request body's
schema, its problem responses described by the `Problem` schema, and the bearer scheme. The document
does not touch the store, so it is read once, from an app that is never started.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.support import JWT_SECRET

PROBLEM_MEDIA_TYPE = "application/problem+json"

# (method, path, request body schema name or None, fields the body documents, problem statuses)
COMMAND = (401, 403, 404, 409, 412, 413, 422)
READ = (401, 403, 404, 422)
OPERATIONS: list[tuple[str, str, str | None, set[str], tuple[int, ...]]] = [
    (
        "post",
        "/complaints",
        "LodgeComplaint",
        {"received_at", "channel", "channel_detail", "complainant", "on_behalf_of", "standing"}
        | {"subject", "behaviours", "incident_date", "location", "description"},
        (401, 403, 413, 422),
    ),
    ("post", "/complaints/{}/redirect", "", {"destination", "force_name", "reason"}, COMMAND),
    (
        "post",
        "/complaints/{}/assign",
        "",
        {"investigator_id", "investigator_name", "reason"},
        COMMAND,
    ),
    ("post", "/complaints/{}/contacts", "", {"method", "occurred_at", "summary"}, COMMAND),
    ("post", "/complaints/{}/resolve", "", {"outcome", "summary", "learning"}, COMMAND),
    ("get", "/complaints/{}", None, set(), READ),
    ("get", "/complaints/{}/history", None, set(), READ),
    ("get", "/complaints/by-reference/{}", None, set(), (401, 403, 404)),
]
IDS = [f"{method} {path}" for method, path, *_ in OPERATIONS]
_COMMANDS = ("redirect", "assign", "contacts", "resolve")
_READ_MODELS = ("/complaints", "/caseload", "/caseload/{}", "/statistics/learning")


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    database = tmp_path_factory.mktemp("openapi") / "complaints.db"
    settings = Settings(_env_file=None, database_url=f"sqlite:///{database}")  # type: ignore[call-arg]
    response = TestClient(create_app(settings, jwt_secret=JWT_SECRET)).get("/openapi.json")
    assert response.status_code == 200, response.text  # no token needed
    body: dict[str, Any] = response.json()
    return body


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    paths = {re.sub(r"\{[^}]+\}", "{}", key): value for key, value in document["paths"].items()}
    assert path in paths, f"{path} is not documented; documented: {sorted(paths)}"
    assert method in paths[path], f"{method.upper()} {path} is not documented"
    operation: dict[str, Any] = paths[path][method]
    return operation


def _schema(document: dict[str, Any], ref: str) -> dict[str, Any]:
    assert ref.startswith("#/components/schemas/"), ref
    schema: dict[str, Any] = document["components"]["schemas"][ref.rpartition("/")[2]]
    return schema


@pytest.mark.parametrize(("method", "path", "body", "fields", "statuses"), OPERATIONS, ids=IDS)
def test_every_endpoint_is_documented_with_its_body_and_bearer_security(
    document: dict[str, Any],
    method: str,
    path: str,
    body: str | None,
    fields: set[str],
    statuses: tuple[int, ...],
) -> None:
    operation = _operation(document, method, path)
    schemes = document["components"]["securitySchemes"]
    assert operation.get("security"), "the operation names no security requirement"
    for requirement in operation["security"]:
        for name in requirement:
            assert schemes[name]["type"] == "http"
            assert schemes[name]["scheme"].lower() == "bearer"

    if body is None:
        assert "requestBody" not in operation
        return
    content = operation["requestBody"]["content"]
    assert operation["requestBody"].get("required") is True
    ref = content["application/json"]["schema"]["$ref"]
    if body:
        assert ref == f"#/components/schemas/{body}"
    assert fields <= set(_schema(document, ref)["properties"])


@pytest.mark.parametrize(
    ("method", "path", "statuses"),
    [
        pytest.param(
            method,
            path,
            statuses,
            id=f"{method} {path}",
        )
        for method, path, _, _, statuses in OPERATIONS
    ],
)
def test_every_error_response_is_documented_as_a_problem(
    document: dict[str, Any], method: str, path: str, statuses: tuple[int, ...]
) -> None:
    responses = _operation(document, method, path)["responses"]

    documented = {int(status) for status in responses if status.isdigit()}
    assert set(statuses) <= documented, f"missing {set(statuses) - documented}"
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            content = response.get("content", {})
            assert PROBLEM_MEDIA_TYPE in content, f"{status} is not {PROBLEM_MEDIA_TYPE}"
            for media_type, entry in content.items():
                schema = entry["schema"]
                assert schema.get("$ref") == "#/components/schemas/Problem", (status, media_type)


@pytest.mark.parametrize(("method", "path"), [op[:2] for op in OPERATIONS], ids=IDS)
def test_every_success_response_is_a_documented_complaint(
    document: dict[str, Any], method: str, path: str
) -> None:
    responses = _operation(document, method, path)["responses"]
    if "by-reference" in path:
        assert "307" in responses
        return
    success = "201" if path == "/complaints" else "200"
    ref = responses[success]["content"]["application/json"]["schema"]["$ref"]
    properties = set(_schema(document, ref)["properties"])
    if path.endswith("/history"):
        assert {"complaint_id", "events"} <= properties
        return
    assert {"complaint_id", "reference", "status", "version", "redirect", "investigator"} <= (
        properties
    )
    assert {"contacts", "resolution", "lodged_at", "assigned_at", "first_contact_at"} <= properties
    assert ("position" in properties) is (method == "post")


def test_the_reading_parameters_and_the_problem_schema_are_documented(
    document: dict[str, Any],
) -> None:
    parameters = {
        parameter["name"]: parameter
        for parameter in _operation(document, "get", "/complaints/{}")["parameters"]
    }
    assert parameters["as_of_version"]["in"] == "query"
    assert parameters["as_of"]["in"] == "query"
    for path in ("redirect", "assign", "contacts", "resolve"):
        operation = _operation(document, "post", f"/complaints/{{}}/{path}")
        headers = {p["name"].lower() for p in operation["parameters"] if p["in"] == "header"}
        assert "if-match" in headers, path

    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert "errors" in problem["properties"]
    assert any(
        scheme["type"] == "http" and scheme["scheme"].lower() == "bearer"
        for scheme in document["components"]["securitySchemes"].values()
    )


# (method, path, status, headers it always carries)
ALWAYS_SENT = [
    ("post", "/complaints", "201", {"ETag", "Location"}),
    *(("post", f"/complaints/{{}}/{command}", "200", {"ETag"}) for command in _COMMANDS),
    ("get", "/complaints/{}", "200", {"ETag"}),
    ("get", "/complaints/by-reference/{}", "307", {"Location"}),
    *(("get", path, "200", {"X-Projection-Position"}) for path in _READ_MODELS),
    ("get", "/complaints", "503", {"Retry-After"}),
    ("post", "/complaints", "503", {"Retry-After"}),
    ("get", "/health/ready", "503", {"Retry-After"}),
]


@pytest.mark.parametrize(("method", "path", "status", "names"), ALWAYS_SENT)
def test_every_response_header_is_declared(
    document: dict[str, Any], method: str, path: str, status: str, names: set[str]
) -> None:
    headers = _operation(document, method, path)["responses"][status].get("headers", {})
    assert names <= set(headers), f"{method.upper()} {path} {status} declares {sorted(headers)}"
    for name in names:
        assert headers[name]["required"] is True
        assert headers[name]["schema"]["type"] in ("string", "integer")


def test_headers_sent_with_the_request_have_patterns_and_the_email_a_format(
    document: dict[str, Any],
) -> None:
    operation = _operation(document, "post", "/complaints/{}/assign")
    headers = {p["name"]: p["schema"] for p in operation["parameters"] if p["in"] == "header"}
    patterns = {name: re.compile(schema["pattern"]) for name, schema in headers.items()}
    assert patterns["if-match"].match('"3"')
    assert not patterns["if-match"].match("three")
    assert patterns["Idempotency-Key"].match(str(uuid.uuid4()))
    assert not patterns["Idempotency-Key"].match("")
    complainant = document["components"]["schemas"]["Complainant"]["properties"]["email"]
    assert {"type": "string", "format": "email"} in [
        {k: v for k, v in option.items() if k in ("type", "format")}
        for option in complainant["anyOf"]
    ]


def test_the_redirect_and_readiness_answers_have_schemas(document: dict[str, Any]) -> None:
    found = _operation(document, "get", "/complaints/by-reference/{}")["responses"]["307"]
    assert found["content"]["application/json"]["schema"]["$ref"].endswith("/FoundOut")
    ready = _operation(document, "get", "/health/ready")["responses"]
    assert ready["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/Readiness")
    assert "NotReady" in ready["503"]["content"]["application/problem+json"]["schema"]["$ref"]


def test_each_command_names_what_may_follow_it(document: dict[str, Any]) -> None:
    paths_of = {
        operation["operationId"]: path
        for path, item in document["paths"].items()
        for operation in item.values()
    }

    def follows(path: str, status: str) -> set[str]:
        links = _operation(document, "post", path)["responses"][status]["links"]
        # every link names an operation of the document, on the same complaint
        assert {link["operationId"] for link in links.values()} <= set(paths_of)
        return {paths_of[link["operationId"]].rsplit("/", 1)[-1] for link in links.values()}

    assert {"assign", "redirect"} <= follows("/complaints", "201")
    assert "contacts" in follows("/complaints/{}/assign", "200")
    assert "resolve" in follows("/complaints/{}/contacts", "200")
