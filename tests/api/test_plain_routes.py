"""A hot read served by its plain route (`api.http.plain_routes`) skips FastAPI's routing and
dependency solving, and answers exactly as its documented route does, errors included; any
request it does not take falls through to the documented route."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import fastapi.routing
import pytest
from fastapi.testclient import TestClient
from starlette.routing import Match

from api.http.plain_routes import PlainRoute
from api.http.routes.complaints import PLAIN_ROUTES
from tests.support import (
    ANALYST,
    AUDITOR,
    CASEWORKER,
    INTAKE,
    RECORDS_MANAGER,
    SUPERVISOR,
    auth,
    command,
    lodge,
)

UNKNOWN = "0b6a1f5e-3c1d-4d7e-9a2b-5f4e3d2c1b0a"
# Headers that differ between any two answers, whoever gives them.
VOLATILE = {"date", "x-request-id"}


@pytest.fixture
def solved(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests FastAPI solved dependencies for."""
    seen: list[str] = []
    original = fastapi.routing.solve_dependencies

    async def counting(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["request"].url.path)
        return await original(*args, **kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return seen


@contextmanager
def documented_routes_only(client: TestClient) -> Iterator[None]:
    routes = client.app.router.routes  # type: ignore[attr-defined]
    plain = [route for route in routes if isinstance(route, PlainRoute)]
    assert plain, "the app serves no plain route"
    routes[:] = [route for route in routes if not isinstance(route, PlainRoute)]
    try:
        yield
    finally:
        routes[:0] = plain


def _scope(path: str, method: str = "GET", query: bytes = b"") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "query_string": query, "root_path": ""}


def test_the_plain_route_takes_only_a_plain_get_of_a_canonical_id() -> None:
    (route,) = PLAIN_ROUTES
    path = f"/complaints/{UNKNOWN}"
    match, child_scope = route.matches(_scope(path))
    assert match is Match.FULL
    assert child_scope["route"] is route
    assert child_scope["path_params"] == {"complaint_id": UNKNOWN}
    for scope in [
        _scope(path, query=b"as_of_version=1"),
        _scope(path, method="HEAD"),
        _scope(path, method="POST"),
        _scope(path.upper().replace("/COMPLAINTS", "/complaints")),
        _scope(path.replace("-", "")),
        _scope(path + "/"),
        _scope(path + "/history"),
        _scope("/complaints/by-reference"),
        {"type": "websocket", "path": path, "query_string": b"", "root_path": ""},
    ]:
        assert route.matches(scope)[0] is Match.NONE, scope


def test_a_plain_read_of_a_complaint_solves_no_dependencies(
    client: TestClient, solved: list[str]
) -> None:
    complaint_id = lodge(client)["complaint_id"]
    solved.clear()  # the lodging's
    answer = client.get(f"/complaints/{complaint_id}", headers=CASEWORKER)
    assert answer.status_code == 200, answer.text
    assert answer.headers["ETag"] == '"1"'
    assert solved == []
    past = client.get(f"/complaints/{complaint_id}", params={"as_of_version": 1}, headers=AUDITOR)
    assert past.status_code == 200, past.text
    assert solved == [f"/complaints/{complaint_id}"]


def _answer(client: TestClient, path: str, headers: dict[str, str]) -> tuple[Any, ...]:
    answer = client.get(path, headers=headers)
    kept = {k: v for k, v in answer.headers.items() if k not in VOLATILE}
    return answer.status_code, kept, answer.content


def test_every_caller_gets_the_documented_routes_answer(client: TestClient) -> None:
    complaint_id = lodge(client)["complaint_id"]
    assign = {"investigator_id": "inv-1", "investigator_name": "DS Ada"}
    command(client, complaint_id, "assign", assign, SUPERVISOR)
    callers = {
        "caseworker": CASEWORKER,
        "auditor": AUDITOR,
        "records manager": RECORDS_MANAGER,
        "analyst": ANALYST,
        "intake": INTAKE,
        "no token": {},
        "not a bearer": {"Authorization": "Basic abc"},
        "forged": {"Authorization": "Bearer not.a.token"},
        "expired": auth("cw-2", "caseworker", ttl=-3600),
    }
    paths = [f"/complaints/{complaint_id}", f"/complaints/{UNKNOWN}"]
    statuses = set()
    for (name, headers), path in [(c, p) for c in callers.items() for p in paths]:
        plain = _answer(client, path, headers)
        with documented_routes_only(client):
            documented = _answer(client, path, headers)
        assert plain == documented, (name, path)
        statuses.add(plain[0])
    assert statuses == {200, 401, 403, 404}


def test_each_plain_read_is_in_the_access_log(client: TestClient) -> None:
    complaint_id = lodge(client)["complaint_id"]
    for _ in range(2):
        assert client.get(f"/complaints/{complaint_id}", headers=CASEWORKER).status_code == 200
    log = client.get("/access-log", params={"complaint_id": complaint_id}, headers=AUDITOR)
    assert log.status_code == 200, log.text
    reads = [e for e in log.json()["entries"] if e["action"] == "read_complaint"]
    assert [e["path"] for e in reads] == [f"/complaints/{complaint_id}"] * 2
