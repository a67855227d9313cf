"""`GET /events/stream` on both stores (docs/API.md "Change feed").

Each stream is read on the test's thread with a short ping configured, so that a read never
waits long for a byte and every wait has a deadline; a watchdog closes a stream that outlives
its limit, so no test can hang. Closing the response ends the stream on the server too.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import deque
from types import TracebackType
from typing import Any

import pytest
from fastapi.testclient import TestClient

import api.feed
from api.app import create_app
from api.feed import ChangeFeed
from api.settings import Settings
from tests.support import (
    ANALYST,
    ASSIGN_CASEWORKER,
    AUDITOR,
    CASEWORKER,
    CONTACT,
    INTAKE,
    JWT_SECRET,
    RECORDS_MANAGER,
    REDIRECT_IOPC,
    RESOLVE,
    RESTRICT,
    SUPERVISOR,
    assert_problem,
    command,
    error_fields,
    head_position,
    lodge,
    lodging,
)

PING = 0.1
KEYS = {"position", "complaint_id", "reference", "version", "type", "status", "recorded_at"}


class Stream:
    """One open stream: its events, its comments, and every byte it sent."""

    def __init__(
        self,
        client: TestClient,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
        limit: float = 60.0,
    ) -> None:
        self.client = client
        self.headers = headers if headers is not None else CASEWORKER
        self.params = params or {}
        self.limit = limit
        self.raw = bytearray()
        self.comments: list[str] = []
        self._pending = b""
        self._items: deque[dict[str, Any]] = deque()

    def __enter__(self) -> Stream:
        self._context = self.client.stream(
            "GET", "/events/stream", headers=self.headers, params=self.params
        )
        self.response = self._context.__enter__()
        assert self.response.status_code == 200, self.response.read()
        self._chunks = self.response.iter_bytes()
        self._watchdog = threading.Timer(self.limit, self.response.close)
        self._watchdog.daemon = True
        self._watchdog.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._watchdog.cancel()
        self._context.__exit__(kind, error, trace)

    def _read(self, deadline: float) -> dict[str, Any] | None:
        while not self._items:
            if time.monotonic() > deadline:
                return None
            chunk = next(self._chunks, None)  # a ping comes every PING seconds at the latest
            assert chunk is not None, "the stream ended"
            self.raw += chunk
            self._pending += chunk
            while b"\r\n\r\n" in self._pending:
                block, self._pending = self._pending.split(b"\r\n\r\n", 1)
                self._items.append(parse(block.decode()))
        return self._items.popleft()

    def event(self, timeout: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while (item := self._read(deadline)) is not None:
            if "comment" in item:
                self.comments.append(item["comment"])
                continue
            return item
        raise AssertionError(f"no event within {timeout} s")

    def events(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        return [self.event(timeout) for _ in range(count)]

    def until_the_end(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for chunk in self._chunks:
            self.raw += chunk
            assert time.monotonic() < deadline, "the stream did not end"

    def quiet(self, seconds: float = 0.5) -> None:
        """Asserts that no event comes within `seconds` (comments may)."""
        deadline = time.monotonic() + seconds
        while (item := self._read(deadline)) is not None:
            assert "comment" in item, f"unexpected event {item}"
            self.comments.append(item["comment"])


def parse(block: str) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for line in block.split("\r\n"):
        name, _, value = line.partition(":")
        if not name:
            item["comment"] = value.strip()
        elif name == "data":
            item["data"] = json.loads(value.strip())
        else:
            item[name] = value.strip()
    return item


@pytest.fixture
def feed_client(client: TestClient) -> TestClient:
    client.app.state.feed_ping_seconds = PING  # type: ignore[attr-defined]
    return client


def assign(client: TestClient, complaint_id: str) -> dict[str, Any]:
    return command(client, complaint_id, "assign", ASSIGN_CASEWORKER, SUPERVISOR)


def contact(client: TestClient, complaint_id: str) -> dict[str, Any]:
    return command(client, complaint_id, "contacts", CONTACT, CASEWORKER)


def resolve(client: TestClient, complaint_id: str) -> dict[str, Any]:
    return command(client, complaint_id, "resolve", RESOLVE, CASEWORKER)


def feed_of(client: TestClient) -> ChangeFeed:
    feed: ChangeFeed = client.app.state.feed  # type: ignore[attr-defined]
    return feed


def wait_for_no_subscribers(client: TestClient) -> None:
    deadline = time.monotonic() + 10
    while feed_of(client).subscriber_count:
        assert time.monotonic() < deadline, "a closed stream stayed subscribed"
        time.sleep(0.02)


# ---- resuming ---------------------------------------------------------------------------------


def test_a_reconnect_with_last_event_id_gets_every_event_once_across_the_gap(
    feed_client: TestClient,
) -> None:
    client = feed_client
    with Stream(client) as stream:
        first = lodge(client)
        complaint_id = first["complaint_id"]
        assigned = assign(client, complaint_id)
        received = stream.events(2)
    assert [int(e["id"]) for e in received] == [first["position"], assigned["position"]]
    wait_for_no_subscribers(client)  # the server saw the client go

    # While disconnected
    missed = [contact(client, complaint_id), lodge(client), resolve(client, complaint_id)]
    with Stream(client, headers={**CASEWORKER, "Last-Event-ID": received[-1]["id"]}) as stream:
        caught_up = stream.events(3)
        live = lodge(client)
        after = stream.event()
        stream.quiet()
    assert [int(e["id"]) for e in caught_up] == [m["position"] for m in missed]
    assert int(after["id"]) == live["position"]
    positions = [int(e["id"]) for e in [*received, *caught_up, after]]
    assert positions == sorted(set(positions))  # in log order, none twice
    assert positions[-1] == head_position(client)


def test_after_resumes_and_last_event_id_wins_over_it(feed_client: TestClient) -> None:
    client = feed_client
    lodged = [lodge(client) for _ in range(3)]
    with Stream(client, params={"after": str(lodged[0]["position"])}) as stream:
        got = stream.events(2)
        stream.quiet(0.3)
    assert [e["data"]["complaint_id"] for e in got] == [c["complaint_id"] for c in lodged[1:]]

    headers = {**CASEWORKER, "Last-Event-ID": str(lodged[1]["position"])}
    with Stream(client, headers=headers, params={"after": "0"}) as stream:
        only = stream.event()
        stream.quiet(0.3)
    assert int(only["id"]) == lodged[2]["position"]


def test_without_a_resume_the_stream_starts_at_the_head(feed_client: TestClient) -> None:
    client = feed_client
    lodge(client)
    with Stream(client) as stream:
        stream.quiet(0.3)  # nothing recorded before it opened is sent
        new = lodge(client)
        got = stream.event()
    assert int(got["id"]) == new["position"]


def test_a_follower_that_never_saw_a_complaint_works_out_its_reference_and_status(
    settings: Settings,
) -> None:
    # Given a complaint recorded by another process (an earlier run of this one)
    with TestClient(create_app(settings, jwt_secret=JWT_SECRET)) as earlier:
        complaint_id = lodge(earlier)["complaint_id"]
        assigned = assign(earlier, complaint_id)
    # when a new process follows its next event, and a stream resumes from an old position
    app = create_app(settings, jwt_secret=JWT_SECRET)
    app.state.feed_ping_seconds = PING
    with TestClient(app) as client:
        with Stream(client) as live:
            contacted = contact(client, complaint_id)
            got = live.event()
        with Stream(client, params={"after": str(assigned["position"] - 1)}) as resumed:
            again = resumed.events(2)
    reference = assigned["reference"]
    assert got["data"] | {"recorded_at": None} == {
        "position": contacted["position"],
        "complaint_id": complaint_id,
        "reference": reference,
        "version": 3,
        "type": "ComplainantContacted",
        "status": "in_contact",
        "recorded_at": None,
    }
    # then the one read from the store has the state before it replayed too
    assert [(e["data"]["reference"], e["data"]["status"]) for e in again] == [
        (reference, "assigned"),
        (reference, "in_contact"),
    ]


def test_a_subscriber_too_far_behind_reads_the_store_and_misses_nothing(
    feed_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = feed_client
    monkeypatch.setattr(api.feed, "BUFFER_LIMIT", 2)
    feed = feed_of(client)

    async def follow() -> list[int]:
        start = await asyncio.to_thread(head_position, client)
        subscription = feed.subscribe(start)
        first_lodged = await asyncio.to_thread(lodge, client)
        positions = [(await anext(subscription)).position]
        assert positions == [first_lodged["position"]]
        # It reads nothing while ten more are recorded: its buffer overflows
        for _ in range(10):
            await asyncio.to_thread(lodge, client)
        await asyncio.sleep(1.0)
        while len(positions) < 11:
            change = await asyncio.wait_for(anext(subscription), timeout=10)
            positions.append(change.position)
        await subscription.aclose()
        return positions

    positions = asyncio.run(follow())
    assert positions == list(range(positions[0], positions[0] + 11))


# ---- what an event says -----------------------------------------------------------------------


def test_the_complaint_id_filter_sends_only_that_complaint(feed_client: TestClient) -> None:
    client = feed_client
    mine, other = lodge(client), lodge(client)
    with Stream(client, params={"complaint_id": mine["complaint_id"]}) as stream:
        assign(client, other["complaint_id"])
        assigned = assign(client, mine["complaint_id"])
        contact(client, other["complaint_id"])
        contacted = contact(client, mine["complaint_id"])
        got = stream.events(2)
        stream.quiet(0.3)
    assert [int(e["id"]) for e in got] == [assigned["position"], contacted["position"]]
    assert {e["data"]["complaint_id"] for e in got} == {mine["complaint_id"]}


def test_the_payload_has_exactly_its_keys_and_nothing_personal(feed_client: TestClient) -> None:
    client = feed_client
    marker = uuid.uuid4().hex[:10]
    body = lodging(
        complainant={
            "name": f"Name{marker}",
            "email": f"mail{marker}@example.org",
            "phone": "07700 900456",
            "address": f"{marker} Street",
        },
        subject={"kind": "officer", "name": f"Officer{marker}", "shoulder_number": "9876ZQ"},
        location=f"Place{marker}",
        description=f"What happened {marker}.",
    )
    with Stream(client, headers=AUDITOR) as stream:
        lodged = lodge(client, body)
        complaint_id = lodged["complaint_id"]
        assign(client, complaint_id)
        command(
            client, complaint_id, "contacts", {**CONTACT, "summary": f"Rang {marker}."}, SUPERVISOR
        )
        command(
            client, complaint_id, "resolve", {**RESOLVE, "summary": f"Done {marker}."}, SUPERVISOR
        )
        events = stream.events(4)
    for event in events:
        assert set(event["data"]) == KEYS
        assert event["event"] == event["data"]["type"]
        assert event["id"] == str(event["data"]["position"])
        assert event["data"]["reference"] == lodged["reference"]
        assert event["data"]["recorded_at"].endswith("Z")
    stream_bytes = bytes(stream.raw)
    for secret in (marker, "07700", "900456", "9876ZQ", "Sam Jones"):
        assert secret.encode() not in stream_bytes


def test_the_status_is_the_complaints_after_each_event(feed_client: TestClient) -> None:
    client = feed_client
    with Stream(client, headers=SUPERVISOR) as stream:
        lodged = lodge(client)
        complaint_id = lodged["complaint_id"]
        answers = [
            lodged,
            assign(client, complaint_id),
            contact(client, complaint_id),
            # A reassignment is an InvestigatorAssigned that leaves the status as it is
            command(
                client,
                complaint_id,
                "assign",
                {"investigator_id": "inv-2", "investigator_name": "DC Two", "reason": "Leave."},
                SUPERVISOR,
            ),
            command(client, complaint_id, "restrict", RESTRICT, RECORDS_MANAGER),
            command(
                client, complaint_id, "lift-restriction", {"reason": "Ended."}, RECORDS_MANAGER
            ),
            command(client, complaint_id, "resolve", RESOLVE, SUPERVISOR),
            command(
                client,
                complaint_id,
                "erase",
                {"basis": "erasure_request", "authority_ref": "DPO-1"},
                RECORDS_MANAGER,
            ),
        ]
        redirected = lodge(client)
        answers += [
            redirected,
            command(client, redirected["complaint_id"], "redirect", REDIRECT_IOPC, CASEWORKER),
        ]
        events = stream.events(len(answers))
    assert [(e["data"]["position"], e["data"]["version"], e["data"]["status"]) for e in events] == [
        (a["position"], a["version"], a["status"]) for a in answers
    ]
    assert [e["event"] for e in events] == [
        "ComplaintLodged",
        "InvestigatorAssigned",
        "ComplainantContacted",
        "InvestigatorAssigned",
        "ProcessingRestricted",
        "RestrictionLifted",
        "ComplaintResolved",
        "PersonalDataErased",
        "ComplaintLodged",
        "ComplaintRedirected",
    ]


# ---- who may, what is refused, and keeping the connection open -----------------------------


@pytest.mark.parametrize(
    "headers", [ANALYST, INTAKE, RECORDS_MANAGER], ids=["analyst", "intake", "records_manager"]
)
def test_other_roles_are_refused(feed_client: TestClient, headers: dict[str, str]) -> None:
    assert_problem(feed_client.get("/events/stream", headers=headers), 403, "forbidden")


def test_a_stream_needs_a_token(feed_client: TestClient) -> None:
    assert_problem(feed_client.get("/events/stream"), 401)


@pytest.mark.parametrize("headers", [CASEWORKER, SUPERVISOR, AUDITOR], ids=["cw", "sup", "aud"])
def test_the_reading_roles_may_stream(feed_client: TestClient, headers: dict[str, str]) -> None:
    with Stream(feed_client, headers=headers) as stream:
        stream.quiet(0.2)
    assert stream.response.headers["content-type"].startswith("text/event-stream")
    assert stream.response.headers["x-accel-buffering"] == "no"
    assert stream.response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("headers", "params", "field"),
    [
        ({"Last-Event-ID": "abc"}, {}, "Last-Event-ID"),
        ({"Last-Event-ID": "-1"}, {}, "Last-Event-ID"),
        ({"Last-Event-ID": "1.5"}, {}, "Last-Event-ID"),
        ({"Last-Event-ID": "99999999999999999999"}, {}, "Last-Event-ID"),
        ({}, {"after": "x"}, "after"),
        ({}, {"after": ""}, "after"),
        ({}, {"complaint_id": "not-a-uuid"}, "complaint_id"),
    ],
)
def test_a_malformed_position_or_complaint_id_is_422(
    feed_client: TestClient, headers: dict[str, str], params: dict[str, str], field: str
) -> None:
    answer = feed_client.get("/events/stream", headers={**CASEWORKER, **headers}, params=params)
    assert field in error_fields(assert_problem(answer, 422))


def test_a_comment_line_keeps_an_idle_stream_open(feed_client: TestClient) -> None:
    with Stream(feed_client) as stream:
        stream.quiet(4 * PING)
    assert stream.comments, "no heartbeat came"
    assert b"\r\n:" in bytes(stream.raw) or bytes(stream.raw).startswith(b":")


def test_closing_ends_the_subscription_and_shutting_down_ends_the_stream(
    feed_client: TestClient,
) -> None:
    client = feed_client
    with Stream(client):
        assert feed_of(client).subscriber_count == 1
    wait_for_no_subscribers(client)
    with Stream(client) as stream:
        feed_of(client).close()  # as the app's shutdown does
        stream.until_the_end(timeout=10)
    assert feed_of(client).subscriber_count == 0
