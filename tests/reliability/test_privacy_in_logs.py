"""Personal data appears in no log line and in nothing an analyst can get (docs/DOMAIN.md
"Personal data"; observability.py: "Nothing personal is logged").

Every personal field carries a unique marker. The complaint is lodged, assigned, contacted and
resolved through the API, a refused lodging carries markers too, and every role then reads
every endpoint. Every log record of the process (all loggers, DEBUG and up, with their extra
attributes and tracebacks) and everything written to stdout/stderr is searched for every
marker, and so is every response body and header an analyst receives.
"""

from __future__ import annotations

import logging
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.reliability.server import served
from tests.support import ANALYST, AUDITOR, ROLE_HEADERS, SUPERVISOR, auth

TAG = uuid.uuid4().hex[:6]
FIELDS = [
    "complainant.name",
    "complainant.email",
    "complainant.phone",
    "complainant.address",
    "on_behalf.name",
    "on_behalf.consent",
    "subject.name",
    "subject.shoulder",
    "subject.description",
    "location",
    "description",
    "assign.reason",
    "contact.summary",
    "resolution.summary",
    "learning.note.1",
    "learning.note.2",
    "refused.name",
    "refused.description",
]
M = {field: f"zq{TAG}p{index:02d}" for index, field in enumerate(FIELDS)}
BIRTHDAYS = {"complainant": "1931-02-03", "on_behalf": "1944-05-06"}
MARKERS = [*M.values(), *BIRTHDAYS.values()]
INVESTIGATOR_NAME = f"DS zq{TAG}investigator"  # staff, not personal: analysts only
CASEWORKER_ID = "cw-priv"
CASEWORKER = auth(CASEWORKER_ID, "caseworker", name=INVESTIGATOR_NAME)


def _lodging(**changes: Any) -> dict[str, Any]:
    return {
        "channel": "online",
        "complainant": {
            "name": f"Ms {M['complainant.name']}",
            "email": f"{M['complainant.email']}@example.org",
            "phone": M["complainant.phone"],
            "address": f"1 {M['complainant.address']} Street",
            "date_of_birth": BIRTHDAYS["complainant"],
        },
        "on_behalf_of": {
            "name": M["on_behalf.name"],
            "date_of_birth": BIRTHDAYS["on_behalf"],
            "basis": "written_consent",
            "consent_reference": M["on_behalf.consent"],
        },
        "standing": "experienced",
        "subject": {
            "kind": "officer",
            "name": M["subject.name"],
            "shoulder_number": M["subject.shoulder"],
            "description": f"Tall, {M['subject.description']}",
        },
        "behaviours": ["rude_or_aggressive", "causing_distress"],
        "incident_date": "2026-01-05",
        "location": f"Outside {M['location']}",
        "description": f"He shouted at me. {M['description']}",
        **changes,
    }


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def _case_through_its_life(client: httpx.Client) -> tuple[dict[str, Any], int]:
    lodged = _ok(client.post("/complaints", json=_lodging(), headers=ROLE_HEADERS["intake"]), 201)
    path = f"/complaints/{lodged['complaint_id']}"
    steps = [
        ("assign", {"investigator_id": "cw-priv", "investigator_name": INVESTIGATOR_NAME,
                    "reason": M["assign.reason"]}, SUPERVISOR),
        ("contacts", {"method": "phone", "summary": M["contact.summary"]}, CASEWORKER),
        ("resolve", {"outcome": "apology_given", "summary": M["resolution.summary"],
                     "learning": [{"theme": "communication", "note": M["learning.note.1"]},
                                  {"theme": "tone", "note": M["learning.note.2"]}]}, CASEWORKER),
    ]  # fmt: skip
    position = lodged["position"]
    for step, body, headers in steps:
        position = _ok(client.post(f"{path}/{step}", json=body, headers=headers))["position"]
    return lodged, position


def _refused(client: httpx.Client) -> None:
    """Requests refused with markers in them: their logs must not keep the markers either."""
    too_long = _lodging(complainant={"name": M["refused.name"] * 20, "phone": "1"})
    future = _lodging(received_at="2999-01-01T00:00:00Z", description=M["refused.description"])
    broken = b'{"description": "' + M["refused.description"].encode() + b'", '
    for kwargs in ({"json": too_long}, {"json": future}, {"content": broken}):
        response = client.post("/complaints", headers=ROLE_HEADERS["intake"], **kwargs)
        assert response.status_code == 422, response.text


def _reads(complaint: dict[str, Any], position: int) -> list[tuple[str, dict[str, str]]]:
    """(path, extra headers): every read endpoint, in every form."""
    cid, ref = complaint["complaint_id"], complaint["reference"]
    wait = f"min_position={position}&wait_ms=5000"
    return [
        (f"/complaints/{cid}", {}),
        (f"/complaints/{cid}?as_of_version=1", {}),
        (f"/complaints/{cid}?as_of=2999-01-01T00:00:00Z", {}),
        (f"/complaints/{cid}/history", {}),
        (f"/complaints/by-reference/{quote(ref, safe='')}", {}),
        (f"/complaints/{cid}/verify", {}),
        (f"/complaints/{cid}/access-log", {}),
        ("/access-log", {}),
        ("/integrity", {}),
        (f"/complaints?{wait}", {}),
        (f"/complaints?{wait}&status=resolved&limit=1", {}),
        (f"/caseload?{wait}", {}),
        (f"/caseload/cw-priv?{wait}", {}),
        (f"/statistics/learning?{wait}", {}),
        (f"/statistics/learning?{wait}", {"Accept": "text/csv"}),
        (f"/statistics/learning?{wait}&from=2020-01-01&to=2999-12-31", {"Accept": "text/csv"}),
        (f"/statistics/timeliness?{wait}", {}),
        (f"/statistics/timeliness?{wait}", {"Accept": "text/csv"}),
        ("/health/live", {}),
        ("/health/ready", {}),
        ("/metrics", {}),
        ("/openapi.json", {}),
        ("/docs", {}),
    ]


def _everything_in(response: httpx.Response) -> str:
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.items())
    return f"{response.status_code}\n{headers}\n{response.text}"


def _log_text(caplog: pytest.LogCaptureFixture) -> str:
    lines = [caplog.text]
    for record in caplog.records:
        lines.append(record.getMessage())
        lines.append(repr({k: v for k, v in vars(record).items() if k != "msg"}))
    return "\n".join(lines)


def test_no_personal_data_in_logs_or_anything_an_analyst_gets(
    client: TestClient, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # the root logger: every logger that propagates
    for name in ("uvicorn", "uvicorn.access", "uvicorn.error"):
        caplog.set_level(logging.DEBUG, logger=name)

    # Given a complaint taken through its whole life, and refused lodgings carrying markers
    complaint, position = _case_through_its_life(client)
    _refused(client)

    # when every role reads every endpoint
    analyst_saw: list[str] = []
    statuses: dict[str, set[int]] = {}
    for role, headers in ROLE_HEADERS.items():
        for path, extra in _reads(complaint, position):
            response = client.get(path, headers=headers | extra, follow_redirects=False)
            assert response.status_code < 500, f"{role} {path}: {response.text}"
            statuses.setdefault(role, set()).add(response.status_code)
            if role == "analyst":
                analyst_saw.append(f"{path}\n{_everything_in(response)}")

    # (the control: the readers who may see the markers do get them, so the search can match)
    full = client.get(f"/complaints/{complaint['complaint_id']}/history", headers=AUDITOR).text
    refused = {M["refused.name"], M["refused.description"]}
    assert {marker for marker in MARKERS if marker not in full} == refused
    assert 200 in statuses["analyst"], "the analyst read nothing"
    assert caplog.records, "nothing was logged"

    # then no marker is in any log line, in anything printed, or in anything an analyst got
    logged = _log_text(caplog)
    captured = capfd.readouterr()
    printed = captured.out + captured.err
    analyst = "\n".join(analyst_saw)
    for marker in MARKERS:
        assert marker not in logged, f"{marker} was logged"
        assert marker not in printed, f"{marker} was printed"
        assert marker not in analyst, f"an analyst got {marker}"
    assert INVESTIGATOR_NAME not in analyst, "an analyst got the investigator's name"
    analyst_csv = client.get(
        f"/statistics/learning?min_position={position}", headers=ANALYST | {"Accept": "text/csv"}
    )
    assert analyst_csv.headers["content-type"].startswith("text/csv")
    assert "learning_theme,communication,1" in analyst_csv.text  # categories, not notes


def test_no_personal_data_in_what_a_real_server_writes(tmp_path: Path) -> None:
    # Given `complaints serve` (uvicorn and the app, writing to one log), when a complaint is
    # taken through its life and refused lodgings are sent, and every role reads everything
    with served(tmp_path) as server, httpx.Client(base_url=server.base_url, timeout=30) as http:
        complaint, position = _case_through_its_life(http)
        _refused(http)
        for headers in ROLE_HEADERS.values():
            for path, extra in _reads(complaint, position):
                response = http.get(path, headers=headers | extra)
                assert response.status_code < 500, f"{path}: {response.text}"
        log = server.log()
    # then the server wrote its request lines, and no marker
    assert f'"actor":"{CASEWORKER_ID}"' in log, log[-2000:]
    assert [marker for marker in MARKERS if marker in log] == []
