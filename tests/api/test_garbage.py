"""Malformed requests (docs/API.md "Problem details"): always 4xx problem details, never 5xx,
nothing recorded.

Every command endpoint gets the same generic garbage and its own wrong types, unknown enum
values, unknown fields, over-long strings, oversized lists and naive datetimes; then the valid
body, which must still succeed (so the refusals were not caused by the complaint's state).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.support import (
    CONTACT,
    INTAKE,
    REDIRECT_IOPC,
    RESOLVE,
    SUPERVISOR,
    assert_problem,
    complaint_in,
    error_fields,
    history_of,
    lodging,
    nothing_recorded,
)

JSON = {"content-type": "application/json"}
TOO_LONG = "x" * 20_001
NAIVE = "2026-11-24T10:15:00"
INVESTIGATOR = "investigator_id"
THEME = "learning.0.theme"


def _raw(data: Any) -> bytes:
    return json.dumps(data).encode()


def _with(body: dict[str, Any], path: str, value: Any) -> bytes:
    """`body` with the field at the dotted `path` set to `value` (or removed for `...`)."""
    copy: dict[str, Any] = json.loads(json.dumps(body))
    *parents, last = path.split(".")
    target = copy
    for parent in parents:
        target = target[parent]
    if value is ...:
        target.pop(last, None)
    else:
        target[last] = value
    return _raw(copy)


# (case, raw body): sent to every command endpoint, with Content-Type: application/json.
GENERIC: list[tuple[str, bytes]] = [
    ("empty body", b""),
    ("invalid JSON", b'{"method": "phone",'),
    ("a JSON array", b"[]"),
    ("a JSON string", b'"phone"'),
    ("a JSON number", b"42"),
    ("JSON null", b"null"),
    ("an empty object", b"{}"),
    ("bytes that are not UTF-8", b'{"summary": "caf\xe9"}'),
    ("deeply nested arrays", b"[" * 100_000 + b"]" * 100_000),
    ("a number with 5000 digits", b'{"n": 1' + b"0" * 5_000 + b"}"),
]

# (endpoint path, a valid body, [(case, raw body, a field the 422 should name or None)])
LODGING = lodging()
ASSIGN = {"investigator_id": "inv-2", "investigator_name": "DC Two", "reason": "Load."}
SPECIFIC: dict[str, tuple[dict[str, Any], list[tuple[str, bytes, str | None]]]] = {
    "": (
        LODGING,
        [
            ("channel a number", _with(LODGING, "channel", 5), "channel"),
            ("complainant a string", _with(LODGING, "complainant", "Sam"), "complainant"),
            ("behaviours a string", _with(LODGING, "behaviours", "rude"), "behaviours"),
            ("subject null", _with(LODGING, "subject", None), "subject"),
            ("description a number", _with(LODGING, "description", 42), "description"),
            ("channel missing", _with(LODGING, "channel", ...), "channel"),
            ("description missing", _with(LODGING, "description", ...), "description"),
            ("description blank", _with(LODGING, "description", "   "), "description"),
            ("unknown channel", _with(LODGING, "channel", "fax"), "channel"),
            ("unknown standing", _with(LODGING, "standing", "heard_of_it"), "standing"),
            ("unknown subject kind", _with(LODGING, "subject.kind", "mayor"), "subject.kind"),
            ("unknown behaviour", _with(LODGING, "behaviours", ["bad_vibes"]), "behaviours.0"),
            (
                "unknown on-behalf basis",
                _with(LODGING, "on_behalf_of", {"name": "A", "basis": "friend"}),
                "on_behalf_of.basis",
            ),
            ("unknown field", _with(LODGING, "priority", "high"), "priority"),
            ("unknown nested field", _with(LODGING, "complainant.ssn", "1"), "complainant.ssn"),
            ("description too long", _with(LODGING, "description", TOO_LONG), "description"),
            ("name too long", _with(LODGING, "complainant.name", "n" * 201), "complainant.name"),
            ("email too long", _with(LODGING, "complainant.email", "e" * 255), "complainant.email"),
            ("phone too long", _with(LODGING, "complainant.phone", "1" * 41), "complainant.phone"),
            (
                "address too long",
                _with(LODGING, "complainant.address", "a" * 501),
                "complainant.address",
            ),
            (
                "shoulder number too long",
                _with(LODGING, "subject.shoulder_number", "9" * 21),
                "subject.shoulder_number",
            ),
            ("location too long", _with(LODGING, "location", "l" * 501), "location"),
            (
                "10,000 behaviours",
                _with(LODGING, "behaviours", ["rude_or_aggressive"] * 10_000),
                "behaviours",
            ),
            ("received_at naive", _with(LODGING, "received_at", NAIVE), "received_at"),
            ("received_at a date", _with(LODGING, "received_at", "2026-11-20"), "received_at"),
            ("received_at not a time", _with(LODGING, "received_at", "soon"), "received_at"),
            ("impossible date", _with(LODGING, "incident_date", "2026-02-30"), "incident_date"),
            (
                "impossible birthday",
                _with(LODGING, "complainant.date_of_birth", "1990-13-01"),
                "complainant.date_of_birth",
            ),
        ],
    ),
    "/redirect": (
        REDIRECT_IOPC,
        [
            ("unknown destination", _with(REDIRECT_IOPC, "destination", "moon"), "destination"),
            ("destination a number", _with(REDIRECT_IOPC, "destination", 5), "destination"),
            ("reason missing", _with(REDIRECT_IOPC, "reason", ...), "reason"),
            ("reason too long", _with(REDIRECT_IOPC, "reason", TOO_LONG), "reason"),
            ("force name too long", _with(REDIRECT_IOPC, "force_name", "f" * 201), "force_name"),
            ("unknown field", _with(REDIRECT_IOPC, "urgent", True), "urgent"),
            ("occurred_at naive", _with(REDIRECT_IOPC, "occurred_at", NAIVE), "occurred_at"),
        ],
    ),
    "/assign": (
        ASSIGN,
        [
            ("investigator missing", _with(ASSIGN, "investigator_id", ...), "investigator_id"),
            ("investigator a number", _with(ASSIGN, "investigator_id", 42), "investigator_id"),
            ("investigator blank", _with(ASSIGN, "investigator_id", " "), "investigator_id"),
            ("investigator too long", _with(ASSIGN, "investigator_id", "i" * 101), INVESTIGATOR),
            (
                "investigator name too long",
                _with(ASSIGN, "investigator_name", "n" * 201),
                "investigator_name",
            ),
            ("reason too long", _with(ASSIGN, "reason", TOO_LONG), "reason"),
            ("unknown field", _with(ASSIGN, "rank", "DS"), "rank"),
            ("occurred_at naive", _with(ASSIGN, "occurred_at", NAIVE), "occurred_at"),
        ],
    ),
    "/contacts": (
        CONTACT,
        [
            ("unknown method", _with(CONTACT, "method", "carrier_pigeon"), "method"),
            ("method missing", _with(CONTACT, "method", ...), "method"),
            ("summary missing", _with(CONTACT, "summary", ...), "summary"),
            ("summary a list", _with(CONTACT, "summary", ["a"]), "summary"),
            ("summary too long", _with(CONTACT, "summary", TOO_LONG), "summary"),
            ("unknown field", _with(CONTACT, "duration", 5), "duration"),
            ("occurred_at naive", _with(CONTACT, "occurred_at", NAIVE), "occurred_at"),
            ("occurred_at not a time", _with(CONTACT, "occurred_at", "yesterday"), "occurred_at"),
        ],
    ),
    "/resolve": (
        RESOLVE,
        [
            ("unknown outcome", _with(RESOLVE, "outcome", "sorted"), "outcome"),
            ("outcome missing", _with(RESOLVE, "outcome", ...), "outcome"),
            ("summary missing", _with(RESOLVE, "summary", ...), "summary"),
            ("learning a string", _with(RESOLVE, "learning", "be nicer"), "learning"),
            (
                "10,000 learning points",
                _with(RESOLVE, "learning", [{"theme": "t"}] * 10_000),
                "learning",
            ),
            ("theme missing", _with(RESOLVE, "learning", [{"note": "n"}]), THEME),
            ("theme too long", _with(RESOLVE, "learning", [{"theme": "t" * 81}]), THEME),
            (
                "unknown learning field",
                _with(RESOLVE, "learning", [{"theme": "t", "owner": "x"}]),
                "learning.0.owner",
            ),
            ("unknown field", _with(RESOLVE, "satisfied", True), "satisfied"),
            ("occurred_at naive", _with(RESOLVE, "occurred_at", NAIVE), "occurred_at"),
        ],
    ),
}


def _cases(path: str) -> Iterator[tuple[str, bytes, str | None]]:
    yield from ((case, raw, None) for case, raw in GENERIC)
    yield from SPECIFIC[path][1]


def test_malformed_requests_are_4xx_problems_and_record_nothing(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    headers = {**SUPERVISOR, **JSON}
    for path, (valid, _) in SPECIFIC.items():
        complaint = complaint_in(client, "in_contact")[-1]
        complaint_id = complaint["complaint_id"]
        url = "/complaints" if not path else f"/complaints/{complaint_id}{path}"

        for case, raw, field in _cases(path):
            with subtests.test(case, path=url), nothing_recorded(client):
                response = client.post(url, content=raw, headers=headers)
                assert 400 <= response.status_code < 500, response.text
                problem = assert_problem(response, response.status_code)
                if field is not None:
                    assert response.status_code == 422, response.text
                    assert field in error_fields(problem)

        for content_type in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
            with subtests.test(content_type=content_type, path=url), nothing_recorded(client):
                content_headers = {**SUPERVISOR, "content-type": content_type}
                response = client.post(url, content=_raw(valid), headers=content_headers)
                assert 400 <= response.status_code < 500, response.text
                assert_problem(response, response.status_code)

        two_mb = _raw({**valid, "padding": "p" * 2_000_000})
        chunked = (two_mb[i : i + 65_536] for i in range(0, len(two_mb), 65_536))
        for case, content in (("2 MB with Content-Length", two_mb), ("2 MB chunked", chunked)):
            with subtests.test(case, path=url), nothing_recorded(client):
                assert_problem(client.post(url, content=content, headers=headers), 413)

        with subtests.test("the complaint is unchanged and the valid body succeeds", path=url):
            assert history_of(client, complaint_id)[-1]["version"] == complaint["version"]
            response = client.post(url, json=valid, headers=SUPERVISOR)
            assert response.status_code in (200, 201), response.text


def test_unusual_text_is_kept_exactly_or_refused(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    for case, text in (
        ("a NUL character", "before\u0000after"),
        ("control characters", "tab\tbell\u0007escape\u001b"),
        ("emoji and right-to-left text", "😀 \u202eolleh"),
        ("a lone surrogate", "broken \ud800 pair"),
        ("a byte-order mark", "\ufeffstarts with a BOM"),
    ):
        with subtests.test(case):
            raw = json.dumps(lodging(description=text)).encode()  # escapes the surrogate
            response = client.post("/complaints", content=raw, headers={**INTAKE, **JSON})
            if response.status_code != 201:
                assert_problem(response, 422)
                continue
            complaint_id = response.json()["complaint_id"]
            read = client.get(f"/complaints/{complaint_id}", headers=SUPERVISOR)
            assert read.status_code == 200, read.text
            assert read.json()["description"] == text.strip()


def test_dates_at_the_edge_of_the_calendar_are_never_a_5xx(client: TestClient) -> None:
    parent = {"name": "Kid", "basis": "parent_or_guardian_of_child_under_16"}
    answers: dict[str, int] = {}
    for case, changes in (
        ("received at the first instant of year 1", {"received_at": "0001-01-01T00:00:00Z"}),
        ("received in year 1 at +14:00", {"received_at": "0001-01-01T10:00:00+14:00"}),
        (
            "received in year 1, incident earlier that year",
            {"received_at": "0001-06-01T12:00:00Z", "incident_date": "0001-01-01"},
        ),
        (
            "received in year 10 for a child",
            {
                "received_at": "0010-06-01T12:00:00Z",
                "on_behalf_of": {**parent, "date_of_birth": "0005-01-01"},
            },
        ),
    ):
        body = lodging(**{"incident_date": None, **changes})
        response = client.post("/complaints", json=body, headers=INTAKE)
        answers[case] = response.status_code
        if response.status_code == 422:
            assert_problem(response, 422)
    # Year 1 and year 10 are typing slips: refused as invalid input, never a 5xx.
    assert all(status == 422 for status in answers.values()), answers
