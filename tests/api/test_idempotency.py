"""Idempotency-Key (docs/API.md "Concurrency and retries") on every command, on both stores.

A retry with the same key and body returns the first answer byte for byte and records nothing;
the same key with another body (or on another complaint) is 422; keys belong to one caller; a
refusal is remembered like a success; a claim still running is 409 with Retry-After, and one
abandoned for over 5 seconds is taken over (claims are planted in `idempotency_keys`); a
command that lost a race (409 concurrent-modification) is not remembered, so its retry succeeds.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.eventstore.idempotency import IdempotencyKeys
from api.settings import Settings
from tests.ops_support import raw_sql
from tests.support import (
    ASSIGN_CASEWORKER,
    CASEWORKER,
    CONTACT,
    INTAKE,
    JWT_SECRET,
    REDIRECT_IOPC,
    RESOLVE,
    SUPERVISOR,
    assert_problem,
    auth,
    complaint_in,
    head_position,
    history_of,
    lodging,
    nothing_recorded,
)


@dataclass(frozen=True)
class Sent:
    """A command that succeeds once, and the complaint it acts on (None for lodging)."""

    url: str
    body: dict[str, Any]
    headers: dict[str, str]
    complaint_id: str | None
    other_body: dict[str, Any]  # the same command with one field changed


# command -> (status the complaint must be in, body, who sends it, the field to change)
COMMANDS: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {
    "redirect": ("lodged", REDIRECT_IOPC, CASEWORKER),
    "assign": ("lodged", ASSIGN_CASEWORKER, SUPERVISOR),
    "contacts": ("assigned", CONTACT, CASEWORKER),
    "resolve": ("in_contact", RESOLVE, CASEWORKER),
}
NAMES = ["lodge", *COMMANDS]


def prepare(client: TestClient, name: str) -> Sent:
    if name == "lodge":
        return Sent("/complaints", lodging(), INTAKE, None, lodging(location="Regent Street"))
    status, body, headers = COMMANDS[name]
    complaint_id = complaint_in(client, status)[-1]["complaint_id"]
    changed_field = {"redirect": "reason", "assign": "investigator_name"}.get(name, "summary")
    other = {**body, changed_field: body[changed_field] + " (again)"}
    return Sent(f"/complaints/{complaint_id}/{name}", body, headers, complaint_id, other)


def post(
    client: TestClient,
    sent: Sent,
    key: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    response: httpx.Response = client.post(
        sent.url,
        json=sent.body if body is None else body,
        headers={**sent.headers, "Idempotency-Key": key, **(headers or {})},
    )
    return response


def answer(response: httpx.Response) -> tuple[int, bytes, str | None, str | None, str | None]:
    """Everything a retry must see again."""
    return (
        response.status_code,
        response.content,
        response.headers.get("etag"),
        response.headers.get("location"),
        response.headers.get("content-type"),
    )


def test_three_identical_requests_record_one_event_and_get_one_answer(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    for name in NAMES:
        with subtests.test(command=name):
            sent = prepare(client, name)
            before = len(history_of(client, sent.complaint_id)) if sent.complaint_id else 0
            head = head_position(client)
            key = f"retry-{uuid.uuid4()}"

            responses = [post(client, sent, key) for _ in range(3)]

            assert responses[0].status_code == (201 if name == "lodge" else 200), responses[0].text
            assert answer(responses[1]) == answer(responses[0])
            assert answer(responses[2]) == answer(responses[0])
            first = responses[0].json()
            assert head_position(client) == head + 1
            assert first["position"] == head + 1
            assert responses[0].headers["etag"] == f'"{first["version"]}"'
            if name == "lodge":
                assert responses[0].headers["location"] == f"/complaints/{first['complaint_id']}"
            assert len(history_of(client, first["complaint_id"])) == before + 1


def test_the_same_key_with_another_request_is_refused_and_records_nothing(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    for name in NAMES:
        with subtests.test(command=name, change="body"):
            sent = prepare(client, name)
            key = f"reuse-{uuid.uuid4()}"
            first = post(client, sent, key)
            assert first.status_code in (200, 201), first.text
            with nothing_recorded(client, first.json()["complaint_id"]):
                response = post(client, sent, key, sent.other_body)
                assert_problem(response, 422, "idempotency-key-reused")
                assert answer(post(client, sent, key)) == answer(first)  # still remembered

    with subtests.test(change="another complaint"):
        first_id, second_id = (complaint_in(client, "assigned")[-1]["complaint_id"] for _ in "12")
        headers = {**CASEWORKER, "Idempotency-Key": f"other-path-{uuid.uuid4()}"}
        response = client.post(f"/complaints/{first_id}/contacts", json=CONTACT, headers=headers)
        assert response.status_code == 200, response.text
        with nothing_recorded(client, second_id):
            response = client.post(
                f"/complaints/{second_id}/contacts", json=CONTACT, headers=headers
            )
            assert_problem(response, 422, "idempotency-key-reused")

    with subtests.test(change="If-Match"):
        sent = prepare(client, "contacts")
        key = f"if-match-{uuid.uuid4()}"
        first = post(client, sent, key)
        assert first.status_code == 200, first.text
        with nothing_recorded(client, sent.complaint_id):
            response = post(client, sent, key, headers={"If-Match": '"2"'})
            assert_problem(response, 422, "idempotency-key-reused")


def test_keys_belong_to_the_caller(client: TestClient, subtests: pytest.Subtests) -> None:
    for name in ("lodge", "contacts"):
        with subtests.test(command=name):
            sent = prepare(client, name)
            # Another caller allowed to send it: for contacts, a supervisor.
            other = auth("intake-2", "intake") if name == "lodge" else SUPERVISOR
            head = head_position(client)
            key = f"shared-{uuid.uuid4()}"

            mine = post(client, sent, key)
            theirs = client.post(
                sent.url, json=sent.body, headers={**other, "Idempotency-Key": key}
            )

            assert mine.status_code == theirs.status_code == (201 if name == "lodge" else 200)
            assert head_position(client) == head + 2
            assert theirs.json()["version"] == mine.json()["version"] + (name != "lodge")
            if name == "lodge":
                assert theirs.json()["complaint_id"] != mine.json()["complaint_id"]


def _refusal(client: TestClient, case: str) -> tuple[Sent, int, str, dict[str, str]]:
    """A command refused now: (the command, its status, the problem's slug, extra headers)."""
    if case == "content":
        body = lodging(complainant={"name": "Sam Jones"})  # nobody can reach them: rule 1
        return Sent("/complaints", body, INTAKE, None, body), 422, "complainant-unreachable", {}
    status = "assigned" if case == "not-investigator" else "lodged"
    complaint_id = complaint_in(client, status)[-1]["complaint_id"]
    url = f"/complaints/{complaint_id}"
    if case == "state":
        sent = Sent(f"{url}/resolve", RESOLVE, SUPERVISOR, complaint_id, {})
        return sent, 409, "resolution-without-contact", {}
    if case == "stale-if-match":
        sent = Sent(f"{url}/redirect", REDIRECT_IOPC, CASEWORKER, complaint_id, {})
        return sent, 412, "version-mismatch", {"If-Match": '"7"'}
    sent = Sent(f"{url}/contacts", CONTACT, auth("cw-2", "caseworker"), complaint_id, {})
    return sent, 403, "not-assigned-investigator", {}


def test_a_refused_command_is_answered_the_same_on_retry_and_records_nothing(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    for case in ("content", "state", "stale-if-match", "not-investigator"):
        with subtests.test(refusal=case):
            sent, status, slug, extra = _refusal(client, case)
            key = f"refused-{uuid.uuid4()}"
            with nothing_recorded(client, sent.complaint_id):
                responses = [post(client, sent, key, headers=extra) for _ in range(3)]
            assert_problem(responses[0], status, slug)
            assert answer(responses[1]) == answer(responses[0])
            assert answer(responses[2]) == answer(responses[0])

    with subtests.test(refusal="stands after the case moves on"):
        complaint_id = complaint_in(client, "lodged")[-1]["complaint_id"]
        url = f"/complaints/{complaint_id}/contacts"
        headers = {**SUPERVISOR, "Idempotency-Key": f"early-{uuid.uuid4()}"}
        first = client.post(url, json=CONTACT, headers=headers)
        assert_problem(first, 409, "contact-before-assignment")
        assign = client.post(
            f"/complaints/{complaint_id}/assign", json=ASSIGN_CASEWORKER, headers=SUPERVISOR
        )
        assert assign.status_code == 200, assign.text
        with nothing_recorded(client, complaint_id):  # it would succeed now: the key says no
            assert answer(client.post(url, json=CONTACT, headers=headers)) == answer(first)


def test_an_invalid_key_is_a_problem_and_records_nothing(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    for name in ("lodge", "resolve"):
        for key in ("x" * 201, "k" * 5000, "", "tab\there"):
            with subtests.test(command=name, key_length=len(key)):
                sent = prepare(client, name)
                with nothing_recorded(client, sent.complaint_id):
                    response = post(client, sent, key)
                    assert response.status_code in (400, 422), response.text
                    assert_problem(response, response.status_code)

    with subtests.test(key_length=200):
        sent = prepare(client, "lodge")
        first, again = post(client, sent, "k" * 200), post(client, sent, "k" * 200)
        assert first.status_code == 201, first.text
        assert answer(again) == answer(first)


def _plant_claim(
    database_url: str, client: TestClient, sent: Sent, key: str, age: timedelta
) -> None:
    """A 'running' claim on `key` for `sent`'s caller and request, claimed `age` ago.

    The request's fingerprint is taken from a completed twin under another key."""
    twin = f"twin-{uuid.uuid4()}"
    response = post(client, sent, twin)
    assert response.status_code in (200, 201), response.text
    rows = raw_sql(
        database_url,
        "SELECT caller, request_hash FROM idempotency_keys WHERE idempotency_key = ?",
        (twin,),
    )
    assert len(rows) == 1, rows
    caller, fingerprint = rows[0]
    claimed_at = (datetime.now(UTC) - age).isoformat(timespec="microseconds")
    raw_sql(
        database_url,
        "INSERT INTO idempotency_keys (caller, idempotency_key, request_hash, token, claimed_at,"
        " state) VALUES (?, ?, ?, ?, ?, 'running')",
        (caller, key, fingerprint, secrets.token_hex(16), claimed_at),
    )


def test_a_claim_still_running_is_409_with_retry_after_and_an_abandoned_one_is_taken_over(
    client: TestClient, settings: Settings, subtests: pytest.Subtests
) -> None:
    for age in (0, 3):  # younger than STALE_AFTER (5 s)
        with subtests.test(claimed_seconds_ago=age):
            sent = prepare(client, "contacts")
            key = f"running-{uuid.uuid4()}"
            _plant_claim(settings.database_url, client, sent, key, timedelta(seconds=age))
            with nothing_recorded(client, sent.complaint_id):
                response = post(client, sent, key)
                assert_problem(response, 409)
            assert int(response.headers["retry-after"]) >= 0

    with subtests.test(answered_hours_ago=23):  # keys are remembered for at least 24 hours
        sent = prepare(client, "contacts")
        key = f"yesterday-{uuid.uuid4()}"
        first = post(client, sent, key)
        assert first.status_code == 200, first.text
        yesterday = (datetime.now(UTC) - timedelta(hours=23)).isoformat(timespec="microseconds")
        raw_sql(
            settings.database_url,
            "UPDATE idempotency_keys SET claimed_at = ? WHERE idempotency_key = ?",
            (yesterday, key),
        )
        with nothing_recorded(client, sent.complaint_id):
            assert answer(post(client, sent, key)) == answer(first)

    for name in ("lodge", "contacts"):
        with subtests.test(claimed_seconds_ago=35, command=name):
            sent = prepare(client, name)
            key = f"abandoned-{uuid.uuid4()}"
            _plant_claim(settings.database_url, client, sent, key, timedelta(seconds=35))
            head = head_position(client)

            taken_over = post(client, sent, key)
            retried = post(client, sent, key)

            assert taken_over.status_code == (201 if name == "lodge" else 200), taken_over.text
            assert answer(retried) == answer(taken_over)
            assert head_position(client) == head + 1
            rows = raw_sql(
                settings.database_url,
                "SELECT state FROM idempotency_keys WHERE idempotency_key = ?",
                (key,),
            )
            assert rows == [("done",)]


def _at_once(
    client: TestClient, url: str, sends: list[tuple[dict[str, Any], dict[str, str]]]
) -> list[httpx.Response]:
    start = threading.Barrier(len(sends))

    def send(index: int) -> httpx.Response:
        start.wait(timeout=10)
        body, headers = sends[index]
        response: httpx.Response = client.post(url, json=body, headers=headers)
        return response

    with ThreadPoolExecutor(len(sends)) as pool:
        return list(pool.map(send, range(len(sends))))


@pytest.mark.postgres
def test_a_keyed_command_that_lost_a_race_succeeds_when_retried_with_its_key(
    postgres_url: str,
) -> None:
    settings = Settings(_env_file=None, database_url=postgres_url, projections="external")
    with TestClient(create_app(settings, jwt_secret=JWT_SECRET)) as client:
        complaint_id = complaint_in(client, "assigned")[-1]["complaint_id"]
        url = f"/complaints/{complaint_id}/contacts"
        recorded: list[str] = []
        for round_number in range(5):
            sends = [
                (
                    {**CONTACT, "summary": f"round {round_number}, thread {i}"},
                    {**CASEWORKER, "Idempotency-Key": f"race-{round_number}-{i}"},
                )
                for i in range(20)
            ]
            responses = _at_once(client, url, sends)
            recorded += [sends[i][0]["summary"] for i, r in enumerate(responses) if r.is_success]
            losers = [i for i, response in enumerate(responses) if response.status_code == 409]
            if losers:
                break
        else:
            pytest.skip("no command lost a race in five rounds")
        for index in losers:
            assert_problem(responses[index], 409, "concurrent-modification")
            body, headers = sends[index]
            retried = client.post(url, json=body, headers=headers)
            assert retried.status_code == 200, retried.text
            recorded.append(body["summary"])
        summaries = [
            event["data"]["summary"]
            for event in history_of(client, complaint_id)
            if event["type"] == "ComplainantContacted"
        ]
        assert sorted(summaries) == sorted(recorded)


def test_keys_older_than_48_hours_are_forgotten_off_the_request_path(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    forgotten_on: list[str] = []
    forget_old = IdempotencyKeys.forget_old

    def noting_the_thread(self: IdempotencyKeys) -> int:
        forgotten_on.append(threading.current_thread().name)
        return forget_old(self)

    monkeypatch.setattr(IdempotencyKeys, "forget_old", noting_the_thread)
    # Given a key answered three days ago, and one answered yesterday
    with TestClient(create_app(settings, jwt_secret=JWT_SECRET)) as api:
        for key, hours in (("three-days-ago", 72), ("yesterday", 23)):
            at = (datetime.now(UTC) - timedelta(hours=hours)).isoformat(timespec="microseconds")
            raw_sql(
                settings.database_url,
                "INSERT INTO idempotency_keys (caller, idempotency_key, request_hash, token, "
                "claimed_at, state, status, body) "
                "VALUES ('sup-1', ?, 'h', 't', ?, 'done', 409, '{}')",
                (key, at),
            )
        sent = prepare(api, "contacts")
        assert post(api, sent, f"fresh-{uuid.uuid4()}").status_code == 200
        # When the process's clear-out next runs (its thread ran one as the app started)
        deadline = time.monotonic() + 10
        while not forgotten_on and time.monotonic() < deadline:
            time.sleep(0.01)
        api.app.state.idempotency.forget_old()  # type: ignore[attr-defined]
    # Then the old key is gone, yesterday's is still remembered, and no request ran a clear-out
    keys = {
        row[0]
        for row in raw_sql(settings.database_url, "SELECT idempotency_key FROM idempotency_keys")
    }
    assert "three-days-ago" not in keys
    assert "yesterday" in keys
    assert forgotten_on[0] == "forget-idempotency-keys"
    assert set(forgotten_on) <= {"forget-idempotency-keys", threading.current_thread().name}


def test_forgetting_reads_an_index_on_the_age_of_keys(
    client: TestClient, settings: Settings
) -> None:
    if settings.database_url.startswith("sqlite"):
        plan = raw_sql(
            settings.database_url,
            "EXPLAIN QUERY PLAN DELETE FROM idempotency_keys WHERE claimed_at < '2026'",
        )
        assert any("idempotency_keys_by_age" in str(row) for row in plan), plan
    else:
        found = raw_sql(
            settings.database_url,
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'idempotency_keys_by_age'",
        )
        assert found, "no index on claimed_at"
        assert "(claimed_at)" in found[0][0], found
