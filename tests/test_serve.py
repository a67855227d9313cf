"""`complaints serve` as real processes: replicas, workers, metrics and logs.

- Two replicas on one PostgreSQL database record a command sent to both with one
  Idempotency-Key once, alternately and concurrently, and answer every retry the same.
- With `--workers 2`, /metrics adds up every worker's requests, whichever worker answers.
- Every request leaves one JSON log line on stderr with its request id, and nothing personal.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.ops_support import Server, cli_env, serving
from tests.support import (
    ASSIGN_CASEWORKER,
    AUDITOR,
    CASEWORKER,
    CONTACT,
    INTAKE,
    SUPERVISOR,
    auth,
    lodging,
)

Answer = tuple[int, bytes, str | None, str | None]


def head(url: str) -> int:
    response = httpx.get(f"{url}/health/ready", timeout=10)
    assert response.status_code == 200, response.text
    position: int = response.json()["dependencies"]["event_store"]["head_position"]
    return position


def send_until_answered(
    client: httpx.Client, path: str, body: dict[str, Any], headers: dict[str, str], deadline: float
) -> Answer:
    """Sends a keyed command, retrying while the key is still running elsewhere (409)."""
    while True:
        response = client.post(path, json=body, headers=headers)
        assert response.status_code < 500, response.text
        in_use = response.status_code == 409 and response.json()["type"].endswith(
            "/idempotency-key-in-use"
        )
        if not in_use:
            etag, location = response.headers.get("etag"), response.headers.get("location")
            return response.status_code, response.content, etag, location
        assert "retry-after" in response.headers
        assert time.monotonic() < deadline, "the key stayed in use"
        time.sleep(0.05)


def concurrently(
    urls: list[str], path: str, body: dict[str, Any], headers: dict[str, str], count: int
) -> list[Answer]:
    """`count` threads, each on an open connection to one of the servers, send at once."""
    start = threading.Barrier(count)
    deadline = time.monotonic() + 30

    def one(index: int) -> Answer:
        with httpx.Client(base_url=urls[index % len(urls)], timeout=20) as client:
            assert client.get("/health/live").status_code == 200  # connected before the start
            start.wait(timeout=10)
            return send_until_answered(client, path, body, headers, deadline)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


@pytest.mark.postgres
def test_two_replicas_record_a_keyed_command_once(postgres_url: str, tmp_path: Path) -> None:
    env = cli_env(postgres_url, projections="external")
    with serving(env, tmp_path, 2) as servers:
        urls = [server.url for server in servers]
        first_head = head(urls[0])

        keyed = {**INTAKE, "Idempotency-Key": f"alternate-{uuid.uuid4()}"}
        deadline = time.monotonic() + 30
        clients = [httpx.Client(base_url=url, timeout=20) for url in urls]
        try:
            answers = [
                send_until_answered(clients[i % 2], "/complaints", lodging(), keyed, deadline)
                for i in range(4)
            ]
        finally:
            for client in clients:
                client.close()
        assert answers[0][0] == 201, answers[0]
        assert answers == [answers[0]] * 4
        assert head(urls[0]) == head(urls[1]) == first_head + 1

        keyed = {**INTAKE, "Idempotency-Key": f"together-{uuid.uuid4()}"}
        answers = concurrently(urls, "/complaints", lodging(), keyed, 8)
        assert answers[0][0] == 201, answers[0]
        assert answers == [answers[0]] * 8
        assert head(urls[1]) == first_head + 2

        complaint_id = json.loads(answers[0][1])["complaint_id"]
        assign = httpx.post(
            f"{urls[1]}/complaints/{complaint_id}/assign",
            json=ASSIGN_CASEWORKER,
            headers=SUPERVISOR,
            timeout=20,
        )
        assert assign.status_code == 200, assign.text
        keyed = {**CASEWORKER, "Idempotency-Key": f"contact-{uuid.uuid4()}"}
        path = f"/complaints/{complaint_id}/contacts"
        answers = concurrently(urls, path, CONTACT, keyed, 8)
        assert answers[0][0] == 200, answers[0]
        assert answers == [answers[0]] * 8
        history = httpx.get(f"{urls[0]}{path.rsplit('/', 1)[0]}/history", headers=AUDITOR)
        types = [event["type"] for event in history.json()["events"]]
        assert types == ["ComplaintLodged", "InvestigatorAssigned", "ComplainantContacted"]


MARKERS = [f"zz{uuid.uuid4().hex[:10]}" for _ in range(6)]
PERSONAL_LODGING = lodging(
    complainant={
        "name": f"Name {MARKERS[0]}",
        "email": f"{MARKERS[1]}@example.org",
        "phone": f"07700 {MARKERS[2]}",
        "address": f"1 {MARKERS[3]} Road",
        "date_of_birth": "1957-03-29",
    },
    description=f"What happened: {MARKERS[4]}",
    location=f"Outside {MARKERS[5]}",
)


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """`complaints serve --workers 2` on an SQLite file; its temporary files under `folder`."""
    folder = tmp_path_factory.mktemp("workers")
    env = cli_env(f"sqlite:///{folder}/complaints.db")
    env["TMPDIR"] = str(folder)  # where `serve` makes its metrics folder
    with serving(env, folder, 1, "--workers", "2") as [server]:
        deadline = time.monotonic() + 30
        while server.log().count("Application startup complete") < 2:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        yield server, folder


def _count(metrics: str, name: str, **labels: str) -> float:
    total = 0.0
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


def test_metrics_add_up_across_workers(workers: tuple[Server, Path]) -> None:
    server, folder = workers
    route = {"method": "GET", "route": "/statistics/learning", "status": "200"}
    requests = 0

    def read(_: int) -> int:  # a new connection each time, so the workers share them
        headers = auth("ana-9", "analyst")
        return httpx.get(f"{server.url}/statistics/learning", headers=headers).status_code

    writers: set[str] = set()
    for _ in range(6):  # until both workers have answered some
        with ThreadPoolExecutor(6) as pool:
            assert set(pool.map(read, range(30))) == {200}
        requests += 30
        writers = {path.name for path in folder.rglob("counter_*.db")}
        if len(writers) >= 2:
            break
    assert len(writers) >= 2, f"one worker answered everything: {writers}"
    for _ in range(6):
        metrics = httpx.get(f"{server.url}/metrics", timeout=10).text
        assert _count(metrics, "complaints_http_requests_total", **route) == requests
        histogram = _count(metrics, "complaints_http_request_duration_seconds_count", method="GET")
        assert histogram >= requests


def test_each_request_leaves_one_json_log_line_and_nothing_personal(
    workers: tuple[Server, Path],
) -> None:
    server, _ = workers
    request_id = f"req-{uuid.uuid4()}"
    lodged = httpx.post(
        f"{server.url}/complaints",
        json=PERSONAL_LODGING,
        headers={**INTAKE, "X-Request-ID": request_id},
    )
    assert lodged.status_code == 201, lodged.text
    assert lodged.headers["x-request-id"] == request_id
    complaint_id = lodged.json()["complaint_id"]
    read = httpx.get(f"{server.url}/complaints/{complaint_id}", headers=CASEWORKER)
    assert read.status_code == 200
    generated = read.headers["x-request-id"]
    assert generated
    refused = httpx.get(f"{server.url}/complaints/{complaint_id}", headers=INTAKE)
    assert refused.status_code == 403

    deadline = time.monotonic() + 10
    while refused.headers["x-request-id"] not in server.log():
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.05)
    log = server.log()
    lines: dict[str, list[dict[str, Any]]] = {}
    for line in log.splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            lines.setdefault(entry["request_id"], []).append(entry)
    expected = [
        (request_id, "POST", "/complaints", 201, "intake-1"),
        (generated, "GET", "/complaints/{complaint_id}", 200, "cw-1"),
        (refused.headers["x-request-id"], "GET", "/complaints/{complaint_id}", 403, "intake-1"),
    ]
    for rid, method, route, status, actor in expected:
        assert len(lines.get(rid, [])) == 1, (rid, log)
        entry = lines[rid][0]
        assert (entry["method"], entry["route"], entry["status"]) == (method, route, status)
        assert entry["actor"] == actor
        assert isinstance(entry["latency_ms"], int | float)
        assert entry["latency_ms"] >= 0
    for marker in [*MARKERS, complaint_id, "1957-03-29"]:
        assert marker not in log
