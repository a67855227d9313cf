"""The access log (docs/API.md "Audit"): who read whose personal data, and when.

Every successful personal-data read leaves exactly one entry naming the actor (id, name, roles),
an action, the path as requested and the time; reads of the access log are recorded too; reads
without personal data (an analyst's case list, statistics) and refused reads leave none. Each
step below is checked against the whole log, read before and after it by a separate auditor.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from itertools import product
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.support import (
    ANALYST,
    AUDITOR,
    CASEWORKER,
    INTAKE,
    JWT_SECRET,
    SUPERVISOR,
    assert_problem,
    auth,
    complaint_in,
)

LOG_READER = auth("aud-log", "auditor", name="Log Reader")
HEADERS = {"cw-1": CASEWORKER, "sup-1": SUPERVISOR, "aud-1": AUDITOR}
TOKEN_ROLES = {
    "cw-1": {"caseworker"},
    "sup-1": {"supervisor"},
    "aud-1": {"auditor"},
    "aud-log": {"auditor"},
}


def whole_log(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/access-log", params={"limit": 500}, headers=LOG_READER)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    entries: list[dict[str, Any]] = response.json()["entries"]
    return entries


def sent_path(response: httpx.Response) -> str:
    """The path and query exactly as the client sent them."""
    return response.request.url.raw_path.decode("ascii")


def entries_left_by(client: TestClient, send: Any) -> tuple[httpx.Response, list[dict[str, Any]]]:
    """Sends a request (`send()`), and returns it with the log entries it left."""
    before = whole_log(client)
    response = send()
    after = whole_log(client)
    # `after` also holds the entry for reading `before` (the log's own read, by LOG_READER).
    assert after[: len(before)] == before, "the log changed its past"
    reading_before = after[len(before)]
    assert reading_before["actor"]["id"] == "aud-log", reading_before
    return response, after[len(before) + 1 :]


def assert_entry(
    entry: dict[str, Any],
    response: httpx.Response,
    actor: str,
    complaint_id: str | None,
    started: datetime,
) -> None:
    assert entry["actor"]["id"] == actor
    assert entry["actor"]["name"]
    assert TOKEN_ROLES[actor] <= set(entry["actor"]["roles"]), entry
    assert isinstance(entry["action"], str)
    assert entry["action"]
    assert entry["path"] == sent_path(response)
    assert entry.get("complaint_id") == complaint_id
    at = datetime.fromisoformat(entry["at"].replace("Z", "+00:00"))
    assert at.tzinfo is not None, entry["at"]
    assert started <= at <= datetime.now(UTC), entry["at"]


def test_each_personal_data_read_leaves_one_entry(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    complaint_id = complaint_in(client, "in_contact")[-1]["complaint_id"]
    url = f"/complaints/{complaint_id}"
    now = datetime.now(UTC).isoformat()
    reads: list[tuple[str, str, str, dict[str, Any], str | None]] = [
        ("complaint", "cw-1", url, {}, complaint_id),
        ("complaint as auditor", "aud-1", url, {}, complaint_id),
        ("as_of_version", "aud-1", url, {"as_of_version": 2}, complaint_id),
        ("as_of", "aud-1", url, {"as_of": now}, complaint_id),
        ("history", "cw-1", f"{url}/history", {}, complaint_id),
        ("history as auditor", "aud-1", f"{url}/history", {}, complaint_id),
        ("access log", "aud-1", f"{url}/access-log", {}, complaint_id),
        ("whole access log", "aud-1", "/access-log", {}, None),
        ("caseload", "sup-1", "/caseload", {}, None),
        ("own caseload", "cw-1", "/caseload/cw-1", {}, None),
        ("someone's caseload", "sup-1", "/caseload/cw-1", {}, None),
        ("case list", "cw-1", "/complaints", {"limit": 5}, None),
        ("case list as supervisor", "sup-1", "/complaints", {}, None),
        ("case list as auditor", "aud-1", "/complaints", {"status": "in_contact"}, None),
    ]
    for name, actor, path, params, about in reads:
        with subtests.test(read=name):
            headers = HEADERS[actor]
            started = datetime.now(UTC)
            response, left = entries_left_by(
                client, lambda h=headers, p=path, q=params: client.get(p, params=q, headers=h)
            )
            assert response.status_code == 200, response.text
            assert len(left) == 1, left
            assert_entry(left[0], response, actor, about, started)


def test_reads_without_personal_data_and_refused_reads_leave_no_entry(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    complaint_id = complaint_in(client, "in_contact")[-1]["complaint_id"]
    url = f"/complaints/{complaint_id}"
    unknown = "/complaints/00000000-0000-4000-8000-000000000000"
    reads: list[tuple[str, dict[str, str], str, dict[str, Any], int]] = [
        ("analyst case list", ANALYST, "/complaints", {}, 200),
        ("analyst learning statistics", ANALYST, "/statistics/learning", {}, 200),
        ("analyst timeliness statistics", ANALYST, "/statistics/timeliness", {}, 200),
        ("supervisor statistics", SUPERVISOR, "/statistics/learning", {}, 200),
        ("auditor statistics", AUDITOR, "/statistics/timeliness", {}, 200),
        ("analyst complaint", ANALYST, url, {}, 403),
        ("analyst history", ANALYST, f"{url}/history", {}, 403),
        ("intake complaint", INTAKE, url, {}, 403),
        ("caseworker as_of_version", CASEWORKER, url, {"as_of_version": 1}, 403),
        ("caseworker as_of", CASEWORKER, url, {"as_of": "2026-01-01T00:00:00Z"}, 403),
        ("no such version", AUDITOR, url, {"as_of_version": 99}, 404),
        ("before it was lodged", AUDITOR, url, {"as_of": "2001-01-01T00:00:00Z"}, 404),
        ("no such complaint", CASEWORKER, unknown, {}, 404),
        ("no such history", AUDITOR, f"{unknown}/history", {}, 404),
        ("another's caseload", CASEWORKER, "/caseload/cw-2", {}, 403),
        ("caseload as caseworker", CASEWORKER, "/caseload", {}, 403),
        ("analyst by investigator", ANALYST, "/complaints", {"investigator_id": "cw-1"}, 403),
        ("caseworker access log", CASEWORKER, f"{url}/access-log", {}, 403),
        ("supervisor whole access log", SUPERVISOR, "/access-log", {}, 403),
        ("no token", {}, url, {}, 401),
    ]
    for name, headers, path, params, status in reads:
        with subtests.test(read=name):
            response, left = entries_left_by(
                client, lambda h=headers, p=path, q=params: client.get(p, params=q, headers=h)
            )
            assert response.status_code == status, response.text
            if status >= 400:
                assert_problem(response, status)
            assert left == []


def test_the_log_of_one_complaint_lists_its_readers_oldest_first(client: TestClient) -> None:
    mine, other = (complaint_in(client, "assigned")[-1]["complaint_id"] for _ in "12")
    started = datetime.now(UTC)
    reads = [
        client.get(f"/complaints/{mine}", headers=CASEWORKER),
        client.get(f"/complaints/{other}", headers=CASEWORKER),  # not about `mine`
        client.get(f"/complaints/{mine}/history", headers=AUDITOR),
        client.get(f"/complaints/{mine}", params={"as_of_version": 1}, headers=AUDITOR),
        client.get(f"/complaints/{mine}/access-log", headers=AUDITOR),
    ]
    assert [r.status_code for r in reads] == [200] * 5
    response = client.get(f"/complaints/{mine}/access-log", headers=LOG_READER)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["complaint_id"] == mine
    entries = body["entries"]
    mine_reads = [reads[0], reads[2], reads[3], reads[4]]  # reading the log is recorded too
    assert [e["path"] for e in entries] == [sent_path(r) for r in mine_reads]
    assert [e["actor"]["id"] for e in entries] == ["cw-1", "aud-1", "aud-1", "aud-1"]
    for entry, read in zip(entries, mine_reads, strict=True):
        assert_entry(entry, read, entry["actor"]["id"], mine, started)
    times = [datetime.fromisoformat(e["at"].replace("Z", "+00:00")) for e in entries]
    assert times == sorted(times)


def test_the_log_pages_without_repeats_or_skips(client: TestClient) -> None:
    complaint_id = complaint_in(client, "lodged")[-1]["complaint_id"]
    for version in (None, 1, None, 1, None, 1, None):
        past = {} if version is None else {"as_of_version": version}
        client.get(f"/complaints/{complaint_id}", params=past, headers=AUDITOR)
    # Each page read is an entry too, so a page of one would never reach the end.
    for path, limit in product((f"/complaints/{complaint_id}/access-log", "/access-log"), (2, 3)):
        pages: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(100):
            params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
            response = client.get(path, params=params, headers=LOG_READER)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["entries"]) <= limit
            pages.extend(page["entries"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        else:
            pytest.fail("the pages never ended")
        everything = client.get(path, params={"limit": 500}, headers=LOG_READER).json()["entries"]
        # Reading a page is recorded too, so the log grew while it was paged: the pages are
        # its beginning, each entry once, in order.
        assert len(pages) >= 7
        assert pages == everything[: len(pages)]


def test_a_malformed_cursor_is_400(client: TestClient) -> None:
    complaint_id = complaint_in(client, "lodged")[0]["complaint_id"]
    for path in ("/access-log", f"/complaints/{complaint_id}/access-log"):
        for cursor in ("!!!", "abc", "%%", "====", base64.urlsafe_b64encode(b"ten").decode()):
            response = client.get(path, params={"cursor": cursor}, headers=AUDITOR)
            assert_problem(response, 400)
        for limit in (0, 501, -1):
            assert_problem(client.get(path, params={"limit": limit}, headers=AUDITOR), 422)


@pytest.mark.parametrize(
    "store",
    [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
)
def test_a_cursor_beyond_any_entry_is_never_a_5xx(
    request: pytest.FixtureRequest, store: str
) -> None:
    database_url: str = request.getfixturevalue(f"{store}_url")
    settings = Settings(_env_file=None, database_url=database_url, projections="external")
    with TestClient(create_app(settings, jwt_secret=JWT_SECRET)) as client:
        for number in (b"9223372036854775808", b"99999999999999999999999"):
            cursor = base64.urlsafe_b64encode(number).decode().rstrip("=")
            response = client.get("/access-log", params={"cursor": cursor}, headers=AUDITOR)
            assert response.status_code in (200, 400), response.text


def test_only_auditors_read_the_access_log(client: TestClient) -> None:
    complaint_id = complaint_in(client, "lodged")[0]["complaint_id"]
    for path in ("/access-log", f"/complaints/{complaint_id}/access-log"):
        for headers in (INTAKE, CASEWORKER, SUPERVISOR, ANALYST):
            assert_problem(client.get(path, headers=headers), 403)
        assert_problem(client.get(path), 401)
        assert client.get(path, headers=AUDITOR).status_code == 200
