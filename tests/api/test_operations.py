"""Operations (docs/API.md "Operations"): health, Prometheus metrics and structured request logs.

/health/* and /metrics need no token and hold no personal data. After some traffic, /metrics
counts requests by route template and status, commands by command and result, events written by
type (a replayed retry writes none) and each read model's position and lag. Every request leaves
one JSON log line naming its request id (echoed back, or made up), route, status, latency and
actor. Counters are process-wide, so the metric checks compare before and after.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.app import create_app
from api.http.observability import COMMAND_ROUTES
from api.settings import Settings
from tests.ops_support import connections_refused
from tests.support import (
    ANALYST,
    ASSIGN_CASEWORKER,
    AUDITOR,
    CASEWORKER,
    INTAKE,
    JWT_SECRET,
    RESOLVE,
    SUPERVISOR,
    assert_problem,
    complaint_in,
    head_position,
    lodge,
    lodging,
)

PROJECTIONS = ("case_list", "learning", "timeliness")
MARKERS = [f"qx{uuid.uuid4().hex[:10]}" for _ in range(7)]
PERSONAL = lodging(
    complainant={
        "name": f"Name {MARKERS[0]}",
        "email": f"{MARKERS[1]}@example.org",
        "phone": f"07700 {MARKERS[2]}",
        "address": f"1 {MARKERS[3]} Road",
        "date_of_birth": "1961-08-17",
    },
    subject={"kind": "officer", "name": f"PC {MARKERS[4]}"},
    description=f"What happened: {MARKERS[5]}",
    location=f"Outside {MARKERS[6]}",
)
SECRETS = [*MARKERS, "1961-08-17"]

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(client: TestClient) -> tuple[str, Samples]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return response.text, samples


def delta(before: Samples, after: Samples, name: str, **labels: str) -> float:
    def total(samples: Samples) -> float:
        return sum(
            value
            for (sample, sample_labels), value in samples.items()
            if sample == name and all((k, v) in sample_labels for k, v in labels.items())
        )

    return total(after) - total(before)


def traffic(client: TestClient) -> dict[str, Any]:
    """A few commands (one replayed, one refused), reads and refused reads."""
    lodged: dict[str, Any] = client.post("/complaints", json=PERSONAL, headers=INTAKE).json()
    keyed = {**INTAKE, "Idempotency-Key": f"ops-{uuid.uuid4()}"}
    for _ in range(2):  # the second is a replay: nothing written
        assert client.post("/complaints", json=lodging(), headers=keyed).status_code == 201
    url = f"/complaints/{lodged['complaint_id']}"
    assert client.post(f"{url}/resolve", json=RESOLVE, headers=SUPERVISOR).status_code == 409
    assert (
        client.post(f"{url}/assign", json=ASSIGN_CASEWORKER, headers=SUPERVISOR).status_code == 200
    )
    for headers, status in ((CASEWORKER, 200), (AUDITOR, 200), (ANALYST, 403), ({}, 401)):
        assert client.get(url, headers=headers).status_code == status
    assert client.get(f"{url}/history", headers=CASEWORKER).status_code == 200
    assert client.get("/nowhere", headers=CASEWORKER).status_code == 404
    head = head_position(client)
    wait = {"min_position": head, "wait_ms": 10_000}
    for path in ("/statistics/learning", "/complaints"):
        assert client.get(path, params=wait, headers=ANALYST).status_code == 200
    return lodged


def test_health_needs_no_token_and_names_every_dependency(client: TestClient) -> None:
    complaint_in(client, "assigned")
    assert client.get("/health/live").status_code == 200
    head = head_position(client)
    client.get("/complaints", params={"min_position": head, "wait_ms": 10_000}, headers=ANALYST)
    ready = client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["dependencies"]["event_store"]["status"] == "up"
    assert body["dependencies"]["event_store"]["head_position"] == head == 2
    for name in PROJECTIONS:
        assert isinstance(body["read_models"][name]["position"], int)
        assert body["read_models"][name]["lag"] == head - body["read_models"][name]["position"]
    assert body["read_models"]["case_list"]["lag"] == 0


def test_metrics_count_requests_commands_events_and_projections(client: TestClient) -> None:
    _, before = scrape(client)
    traffic(client)
    text, after = scrape(client)

    def requests(method: str, route: str, status: int) -> float:
        return delta(
            before, after, "complaints_http_requests_total", method=method, route=route,
            status=str(status),
        )  # fmt: skip

    one = "/complaints/{complaint_id}"
    assert requests("POST", "/complaints", 201) == 3
    assert requests("POST", f"{one}/resolve", 409) == 1
    assert requests("POST", f"{one}/assign", 200) == 1
    assert requests("GET", one, 200) == 2
    assert requests("GET", one, 403) == 1
    assert requests("GET", one, 401) == 1
    assert requests("GET", f"{one}/history", 200) == 1
    assert requests("GET", "/complaints", 200) == 1
    assert not re.search(r'route="/complaints/[0-9a-f]{8}-', text)  # templates, not paths
    assert not re.search(r'route="/nowhere"', text)

    histogram = "complaints_http_request_duration_seconds"
    assert delta(before, after, f"{histogram}_count", method="POST", route="/complaints") == 3
    assert (
        delta(before, after, f"{histogram}_bucket", route="/complaints", method="POST", le="+Inf")
        == 3
    )
    assert len({labels for (name, labels) in after if name == f"{histogram}_bucket"}) > 5

    commands = "complaints_commands_total"
    assert delta(before, after, commands, command="lodge") == 3
    assert delta(before, after, commands, command="assign") == 1
    assert delta(before, after, commands, command="resolve") == 1
    outcomes = {
        dict(labels)["result"]
        for (name, labels), value in after.items()
        if name == commands and value - before.get((name, labels), 0) > 0
    }
    assert len(outcomes) >= 2, outcomes  # recorded and refused are told apart

    events = "complaints_events_written_total"
    assert delta(before, after, events, type="ComplaintLodged") == 2  # not the replay
    assert delta(before, after, events, type="InvestigatorAssigned") == 1
    assert delta(before, after, events, type="ComplaintResolved") == 0

    head = head_position(client)
    for projection in PROJECTIONS:
        position = after[("complaints_projection_position", (("projection", projection),))]
        lag = after[("complaints_projection_lag", (("projection", projection),))]
        assert position + lag == head
    assert after[("complaints_projection_lag", (("projection", "case_list"),))] == 0


def test_every_command_route_is_counted_by_its_command(client: TestClient) -> None:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    commands = {
        path
        for path, operations in paths.items()
        if "post" in operations
        and path.startswith("/complaints")
        and path not in ("/complaints/search",)
    }
    assert commands - set(COMMAND_ROUTES) == set()
    assert len({command for command, _ in COMMAND_ROUTES.values()}) == len(COMMAND_ROUTES)

    complaint = complaint_in(client, "in_contact")[-1]
    before = scrape(client)[1]
    allegation = {"category": "delivery_of_duties_and_service", "description": "Kept waiting."}
    added = client.post(
        f"/complaints/{complaint['complaint_id']}/allegations", json=allegation, headers=CASEWORKER
    )
    assert added.status_code == 200, added.text
    after = scrape(client)[1]
    counted = delta(before, after, "complaints_commands_total", command="add_allegation")
    assert counted == 1
    assert delta(before, after, "complaints_events_written_total", type="AllegationAdded") == 1


def test_operations_endpoints_hold_no_personal_data(client: TestClient) -> None:
    lodged = traffic(client)
    bodies = [
        client.get("/health/live").text,
        client.get("/health/ready").text,
        client.get("/metrics").text,
    ]
    for body in bodies:
        for secret in [*SECRETS, lodged["reference"], lodged["complaint_id"]]:
            assert secret not in body


def test_each_request_leaves_one_log_line(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="complaints.requests")
    sent_id = f"ops-{uuid.uuid4()}"
    lodged = client.post("/complaints", json=PERSONAL, headers={**INTAKE, "X-Request-ID": sent_id})
    assert lodged.headers["x-request-id"] == sent_id
    url = f"/complaints/{lodged.json()['complaint_id']}"
    read = client.get(url, headers=CASEWORKER)
    made_up = read.headers["x-request-id"]
    assert made_up
    refused = client.get(url, headers={**ANALYST, "X-Request-ID": "no spaces allowed\there"})
    assert refused.status_code == 403
    replaced = refused.headers["x-request-id"]
    assert replaced not in ("", "no spaces allowed\there")

    lines = [
        json.loads(record.getMessage())
        for record in caplog.records
        if record.name == "complaints.requests"
    ]
    expected = [
        (sent_id, "POST", "/complaints", 201, "intake-1"),
        (made_up, "GET", "/complaints/{complaint_id}", 200, "cw-1"),
        (replaced, "GET", "/complaints/{complaint_id}", 403, "ana-1"),
    ]
    assert len(lines) == len(expected), lines
    for line, (request_id, method, route, status, actor) in zip(lines, expected, strict=True):
        assert line["request_id"] == request_id
        assert (line["method"], line["route"], line["status"], line["actor"]) == (
            method, route, status, actor,
        )  # fmt: skip
        assert isinstance(line["latency_ms"], int | float)
        assert line["latency_ms"] >= 0
    assert len({made_up, replaced, sent_id}) == 3
    text = caplog.text
    for secret in SECRETS:
        assert secret not in text


def test_a_request_refused_for_its_body_is_logged_with_its_actor(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="complaints.requests")
    for content in (b'{"channel": ', b'{"channel": "carrier pigeon"}'):
        headers = {**INTAKE, "Content-Type": "application/json"}
        assert client.post("/complaints", content=content, headers=headers).status_code == 422
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "complaints.requests"]
    assert [(line["status"], line["actor"]) for line in lines] == [(422, "intake-1")] * 2


@pytest.mark.postgres
def test_an_outage_is_503_but_for_liveness_and_metrics_and_then_passes(
    postgres_admin: str, postgres_url: str
) -> None:
    settings = Settings(
        _env_file=None, database_url=postgres_url, projections="external", database_timeout=1
    )
    keyed = {**INTAKE, "Idempotency-Key": "during-the-outage"}
    requests: dict[str, Callable[[TestClient], httpx.Response]] = {
        "live": lambda c: c.get("/health/live"),
        "metrics": lambda c: c.get("/metrics"),
        "ready": lambda c: c.get("/health/ready"),
        "lodge": lambda c: c.post("/complaints", json=lodging(), headers=INTAKE),
        "integrity": lambda c: c.get("/integrity", headers=AUDITOR),
        "keyed lodge": lambda c: c.post("/complaints", json=lodging(), headers=keyed),
        "access log": lambda c: c.get("/access-log", headers=AUDITOR),
        "case list": lambda c: c.get("/complaints", headers=ANALYST),
        "statistics": lambda c: c.get("/statistics/learning", headers=ANALYST),
    }
    app = create_app(settings, jwt_secret=JWT_SECRET)
    with TestClient(app, raise_server_exceptions=False) as client:
        lodge(client)
        with connections_refused(postgres_admin, postgres_url), ThreadPoolExecutor(9) as pool:
            futures = {name: pool.submit(send, client) for name, send in requests.items()}
            answers = {name: future.result(timeout=60) for name, future in futures.items()}

        assert answers.pop("live").status_code == 200
        assert answers.pop("metrics").status_code == 200
        ready = assert_problem(answers["ready"], 503)
        assert ready["dependencies"]["event_store"]["status"] == "down"
        for name, answer in answers.items():
            assert answer.status_code == 503, (name, answer.text)
            assert_problem(answer, 503)
            assert int(answer.headers["retry-after"]) > 0

        deadline = time.monotonic() + 20  # when the database is back, so is the service
        while client.get("/health/ready").status_code != 200:
            assert time.monotonic() < deadline, "the service did not recover"
            time.sleep(0.2)
        lodged = client.post("/complaints", json=lodging(), headers=keyed)
        assert lodged.status_code == 201, lodged.text  # the key was not kept by the outage
