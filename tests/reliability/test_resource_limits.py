"""Resource limits against a real `complaints serve` process (uvicorn, SQLite file).

Oversize bodies (declared or chunked), deeply nested JSON, huge lists, very long request lines
and headers, and 500 concurrent connections: each is refused with a 4xx or answered, never a
5xx, the server stays up, and its memory stays bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.reliability.server import Served, served
from tests.support import (
    ANALYST,
    AUDITOR,
    CASEWORKER,
    INTAKE,
    PROBLEM_MEDIA_TYPE,
    SUPERVISOR,
    lodging,
)

MB = 1_048_576
RSS_LIMIT_MB = 500
CONNECTIONS = 500
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture(scope="module")
def http(server: Served) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture(scope="module")
def complaint(http: httpx.Client) -> dict[str, Any]:
    response = http.post("/complaints", json=lodging(), headers=INTAKE)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(autouse=True)
def still_up(server: Served) -> Iterator[None]:
    yield
    assert server.live(), f"the server is down after the test:\n{server.log()[-3000:]}"
    assert server.process.poll() is None


def _problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].split(";")[0] == PROBLEM_MEDIA_TYPE
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    for member in ("type", "title", "detail"):
        assert body[member], body
    return body


def test_an_oversize_body_is_413(http: httpx.Client) -> None:
    body = json.dumps(lodging(description="x" * (2 * MB))).encode()
    _problem(http.post("/complaints", content=body, headers=INTAKE | JSON), 413)


def test_an_oversize_chunked_body_is_413(http: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: Transfer-Encoding: chunked
        yield b'{"description": "'
        for _ in range(40):
            yield b"x" * 65_536
        yield b'"}'

    _problem(http.post("/complaints", content=chunks(), headers=INTAKE | JSON), 413)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="arrays"),
        pytest.param(b'{"a":' * 100_000 + b"1" + b"}" * 100_000, id="objects"),
        pytest.param(b"[" * 100_000, id="unclosed"),
    ],
)
def test_deeply_nested_json_is_a_4xx(http: httpx.Client, body: bytes) -> None:
    response = http.post("/complaints", content=body, headers=INTAKE | JSON)
    assert 400 <= response.status_code < 500, response.text[:500]
    _problem(response, response.status_code)


def test_ten_thousand_behaviours_are_422(http: httpx.Client) -> None:
    body = lodging(behaviours=["rude_or_aggressive"] * 10_000)
    _problem(http.post("/complaints", json=body, headers=INTAKE), 422)


def test_ten_thousand_learning_points_are_422(
    http: httpx.Client, complaint: dict[str, Any]
) -> None:
    body = {
        "outcome": "apology_given",
        "summary": "Apologised.",
        "learning": [{"theme": "communication", "note": "Be patient."}] * 10_000,
    }
    url = f"/complaints/{complaint['complaint_id']}/resolve"
    _problem(http.post(url, json=body, headers=SUPERVISOR), 422)


def _raw_status(server: Served, request_head: bytes, *, in_pieces: bool = False) -> int | None:
    """Sends a raw request head and reads the status code (None: closed without an answer).

    The head is sent from a thread while this one reads, so that a server that answers early
    and closes is heard even if the rest of the head can no longer be sent. `in_pieces` sends
    the first 32 KB, pauses, then the rest, as a head arrives from a real network; otherwise
    one write (on loopback, up to 64 KB arrive together).
    """
    with socket.create_connection((server.host, server.port), timeout=15) as connection:
        # Room for the whole head in the kernel at once, so that one write is one segment.
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MB)

        def send() -> None:
            with contextlib.suppress(OSError):  # closed early: the answer tells what happened
                if in_pieces:
                    connection.sendall(request_head[:32_768])
                    time.sleep(0.2)
                    connection.sendall(request_head[32_768:])
                else:
                    connection.sendall(request_head)

        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        answer = b""
        try:
            while b"\r\n" not in answer:
                chunk = connection.recv(4096)
                if not chunk:
                    break
                answer += chunk
        except OSError:
            pass
        finally:
            sender.join(timeout=15)
    return int(answer.split(b" ", 2)[1]) if b"\r\n" in answer else None


def _head(target: str, headers: dict[str, str]) -> bytes:
    lines = [f"GET {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


LONG_HEADS = [
    pytest.param("/complaints?x=" + "a" * 100_000, CASEWORKER, id="100kb-unknown-param"),
    pytest.param("/complaints?investigator_id=" + "a" * 100_000, CASEWORKER, id="100kb-id"),
    pytest.param("/complaints?" + "&".join(["a=1"] * 25_000), CASEWORKER, id="25k-params"),
    pytest.param("/health/live?" + "b" * 100_000, {}, id="100kb-query-unauthenticated"),
    pytest.param("/complaints", {"Authorization": "Bearer " + "a" * MB}, id="1mb-token"),
    pytest.param("/complaints", CASEWORKER | {"X-Pad": "z" * MB}, id="1mb-header"),
    pytest.param(
        "/complaints", CASEWORKER | {f"X-Pad-{i}": "y" * 100 for i in range(1_000)},
        id="100kb-in-1000-headers",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("target", "headers"), LONG_HEADS)
def test_very_long_request_heads_are_a_4xx(
    server: Served, target: str, headers: dict[str, str]
) -> None:
    status = _raw_status(server, _head(target, headers), in_pieces=True)
    assert status is not None, "closed without an answer"
    assert status in (400, 413, 414, 422, 431), status


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        pytest.param("/complaints?x=" + "a" * 40_000, CASEWORKER, id="40kb-unknown-param"),
        pytest.param("/complaints?" + "&".join(["a=1"] * 10_000), CASEWORKER, id="10k-params"),
        pytest.param("/health/live?" + "b" * 40_000, {}, id="40kb-query-unauthenticated"),
        pytest.param(
            "/complaints", CASEWORKER | {f"X-Pad-{i}": "y" * 100 for i in range(300)},
            id="33kb-in-300-headers",
        ),
    ],
)  # fmt: skip
def test_long_request_heads_arriving_at_once_are_refused_too(
    server: Served, target: str, headers: dict[str, str]
) -> None:
    status = _raw_status(server, _head(target, headers))
    assert status is not None, "closed without an answer"
    assert status in (400, 413, 414, 422, 431), status


def _raw_answer(server: Served, request: bytes) -> bytes:
    """All the server answers to one raw request, sent in one write."""
    with socket.create_connection((server.host, server.port), timeout=15) as connection:
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 * MB)
        sender = threading.Thread(target=lambda: connection.sendall(request), daemon=True)
        sender.start()
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := connection.recv(65536):
                answer += chunk
                if b"\r\n\r\n" in answer and answer.count(b"}") >= 1:
                    break
        sender.join(timeout=15)
    return answer


def test_a_head_past_the_servers_outer_bound_is_431_problem_details(server: Served) -> None:
    # A token is the authenticator's to refuse (401) up to a point; beyond the server's bound on
    # a whole head (httptools has none of its own) it is refused before the head is complete.
    answer = _raw_answer(server, _head("/complaints", {"Authorization": "Bearer " + "a" * MB}))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 "), head[:200]
    assert PROBLEM_MEDIA_TYPE.encode() in head
    assert json.loads(body)["type"].endswith("/headers-too-large")


def test_a_large_body_arriving_with_its_head_is_not_taken_for_a_long_head(server: Served) -> None:
    body = json.dumps(lodging(description="x" * 600_000)).encode()  # within the 1 MiB limit
    head = _head("/complaints", INTAKE | JSON | {"Content-Length": str(len(body))})
    answer = _raw_answer(server, head.replace(b"GET ", b"POST ", 1) + body)
    status = int(answer.split(b" ", 2)[1])
    assert status == 422, answer[-400:]  # the description's own limit, not the head's


def test_the_request_head_control_reads_a_normal_answer(server: Served) -> None:
    assert _raw_status(server, _head("/complaints?limit=1", CASEWORKER)) == 200


async def _one_connection(
    client: httpx.AsyncClient, index: int, complaint_id: str, start: asyncio.Event
) -> list[str]:
    reads = [
        ("/health/live", {}),
        (f"/complaints/{complaint_id}", AUDITOR),
        ("/complaints?limit=5", ANALYST),
        ("/caseload", SUPERVISOR),
    ]
    outcomes = []
    await start.wait()
    for path, headers in (reads[0], reads[1 + index % 3]):
        try:
            response = await client.get(path, headers=headers)
        except httpx.TimeoutException:
            outcomes.append("timeout")
            continue
        except httpx.TransportError:  # refused, reset or closed: a clean refusal
            outcomes.append("refused")
            continue
        clean_503 = response.status_code == 503 and "retry-after" in response.headers
        ok = response.status_code < 500 or clean_503
        outcomes.append("answered" if ok else f"status {response.status_code}")
    return outcomes


async def _storm(server: Served, complaint_id: str) -> tuple[Counter[str], float]:
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    timeout = httpx.Timeout(60, connect=30)
    peak = server.rss_mb()
    start = asyncio.Event()
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=timeout) as c:
        tasks = [
            asyncio.create_task(_one_connection(c, i, complaint_id, start))
            for i in range(CONNECTIONS)
        ]
        start.set()
        pending = set(tasks)
        while pending:
            _, pending = await asyncio.wait(pending, timeout=0.05)
            peak = max(peak, server.rss_mb())
        outcomes = Counter(outcome for task in tasks for outcome in task.result())
    return outcomes, peak


def test_500_concurrent_connections(server: Served, complaint: dict[str, Any]) -> None:
    outcomes, peak = asyncio.run(
        asyncio.wait_for(_storm(server, complaint["complaint_id"]), timeout=120)
    )
    assert sum(outcomes.values()) == 2 * CONNECTIONS
    assert set(outcomes) <= {"answered", "refused"}, outcomes
    assert outcomes["answered"] >= CONNECTIONS, outcomes  # most of it got through
    assert peak < RSS_LIMIT_MB, f"peak RSS {peak:.0f} MB"
    assert server.live()
    assert server.rss_mb() < RSS_LIMIT_MB


def test_no_5xx_and_no_traceback_in_the_server_log(server: Served) -> None:
    # Runs last in this module: everything above has been logged by now.
    log = server.log()
    assert "Traceback" not in log, log[-3000:]
    assert '"status":5' not in log, log[-3000:]
