"""The complainant's status page (docs/API.md): `GET /status/{reference}` with `X-Access-Code`.

The 201 of a lodging carries the access code (and its Idempotency-Key replays the same one); no
read shows it again. The right code shows the status and nothing personal; every wrong try is
the same 404; ten of them for one reference within an hour lock it out (429, Retry-After).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.http.routes.status import NEXT_STEPS, normal_code
from api.settings import Settings
from domain.complaint import Complaint
from domain.rules import local_date
from domain.values import Actor, LodgeComplaint, Status
from tests.support import (
    ASSIGN_CASEWORKER,
    AUDITOR,
    CASEWORKER,
    CONTACT,
    INTAKE,
    JWT_SECRET,
    RECORDS_MANAGER,
    REDIRECT_IOPC,
    RESOLVE,
    SUPERVISOR,
    MovableClock,
    assert_problem,
    command,
    complaint_in,
    lodge,
    lodging,
)

NOW = datetime(2026, 11, 24, 10, 15, tzinfo=UTC)
CODE = re.compile(r"^[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}-[A-HJKMNP-Z2-9]{4}$")
KEYS = {"reference", "status", "received_on", "last_activity_on", "next_step"}
# Headers that differ from one answer to the next whatever the answer (or are the transport's).
PER_REQUEST = {"x-request-id", "date", "server"}


def status_page(client: TestClient, reference: str, code: str | None) -> httpx.Response:
    headers = {} if code is None else {"X-Access-Code": code}
    return client.get(f"/status/{reference}", headers=headers)


def same_answer(response: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    headers = {k: v for k, v in response.headers.items() if k.lower() not in PER_REQUEST}
    return response.status_code, response.content, headers


def marked_lodging() -> tuple[dict[str, Any], list[str]]:
    marker = uuid.uuid4().hex[:10]
    body = lodging(
        complainant={
            "name": f"Zebedee Q{marker}",
            "email": f"z{marker}@example.org",
            "phone": "07700 900456",
        },
        location=f"Quux Lane {marker}",
        description=f"The officer was rude to me, marker {marker}.",
    )
    return body, [marker, "900456", "Zebedee", "Quux", "1234AB", "rude"]


def test_the_right_code_shows_the_status_and_nothing_personal(
    client: TestClient, clock: MovableClock
) -> None:
    clock.now = NOW
    body, markers = marked_lodging()
    lodged = lodge(client, body)
    code = lodged["access_code"]
    assert isinstance(code, str)
    assert CODE.fullmatch(code), code

    response = status_page(client, lodged["reference"], code)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    shown = response.json()
    assert set(shown) == KEYS
    assert shown == {
        "reference": lodged["reference"],
        "status": "lodged",
        "received_on": local_date(NOW).isoformat(),
        "last_activity_on": local_date(NOW).isoformat(),
        "next_step": NEXT_STEPS[Status.LODGED],
    }
    for marker in [*markers, code, lodged["complaint_id"]]:
        assert marker not in response.text


def test_the_status_follows_the_lifecycle(client: TestClient, clock: MovableClock) -> None:
    clock.now = NOW
    lodged = lodge(client)
    reference, code, complaint_id = (
        lodged["reference"],
        lodged["access_code"],
        lodged["complaint_id"],
    )
    steps = [
        ("assign", ASSIGN_CASEWORKER, SUPERVISOR, "assigned"),
        ("contacts", CONTACT, CASEWORKER, "in_contact"),
        ("resolve", RESOLVE, CASEWORKER, "resolved"),
    ]
    seen = {"lodged": status_page(client, reference, code).json()}
    for days, (path, body, headers, status) in enumerate(steps, start=2):
        clock.now = NOW + timedelta(days=days)
        command(client, complaint_id, path, body, headers)
        shown = status_page(client, reference, code).json()
        assert shown["status"] == status
        assert shown["received_on"] == local_date(NOW).isoformat()
        assert shown["last_activity_on"] == local_date(clock.now).isoformat()
        seen[status] = shown

    # A records manager's decision is not activity the complainant sees.
    clock.now = NOW + timedelta(days=30)
    review = {"decision": "retain", "reason": "Linked to a claim.", "next_review_on": "2030-01-01"}
    command(client, complaint_id, "retention-reviews", review, RECORDS_MANAGER)
    assert status_page(client, reference, code).json() == seen["resolved"]

    redirected = complaint_in(client, "redirected")
    shown = status_page(client, redirected[0]["reference"], redirected[0]["access_code"]).json()
    seen["redirected"] = shown
    assert shown["status"] == "redirected"
    assert "IOPC" not in shown["next_step"]
    assert {s["next_step"] for s in seen.values()} == {NEXT_STEPS[Status(s)] for s in seen}
    assert len(set(NEXT_STEPS.values())) == len(Status)


def test_the_status_follows_the_statutory_process(client: TestClient, clock: MovableClock) -> None:
    # Given a complaint recorded under Schedule 3 (docs/DOMAIN.md part B)
    clock.now = NOW
    lodged = lodge(client)
    reference, code, complaint_id = (
        lodged["reference"],
        lodged["access_code"],
        lodged["complaint_id"],
    )
    allegation = {"category": "other", "description": "Was rude.", "flags": []}
    outcome = {
        "allegations": [{"allegation_id": "A1", "outcome": "upheld"}],
        "summary": "Upheld.",
    }
    decision = {"reasonable_and_proportionate": True, "recommendations": []}
    steps = [
        ("assign", ASSIGN_CASEWORKER, SUPERVISOR, "assigned"),
        ("contacts", CONTACT, CASEWORKER, "in_contact"),
        ("allegations", allegation, CASEWORKER, "in_contact"),
        ("handling", {"mode": "schedule_3", "reason": "Asked."}, CASEWORKER, "recorded"),
        ("updates", {"method": "letter", "summary": "Progress."}, CASEWORKER, "recorded"),
        ("outcome", outcome, CASEWORKER, "outcome_notified"),
        ("review", {"grounds": "Unfair."}, CASEWORKER, "under_review"),
        ("review-decision", decision, SUPERVISOR, "finalised"),
    ]
    seen = {}
    for days, (path, body, headers, status) in enumerate(steps, start=1):
        # When each step is taken, a day apart
        clock.now = NOW + timedelta(days=days)
        command(client, complaint_id, path, body, headers)
        # Then the page shows the status after it, and the step as its last activity
        shown = status_page(client, reference, code).json()
        assert shown["status"] == status
        assert shown["last_activity_on"] == local_date(clock.now).isoformat()
        seen[status] = shown["next_step"]
    assert seen == {status: NEXT_STEPS[Status(status)].format(every_days=28) for status in seen}
    assert "at least every 28 days" in seen["recorded"]  # the default interval of updates

    # And a notified outcome with no review shows as finalised once its deadline passes
    other = lodge(client)
    for path, body, headers, _ in steps[:6]:
        command(client, other["complaint_id"], path, body, headers)
    assert status_page(client, other["reference"], other["access_code"]).json()["status"] == (
        "outcome_notified"
    )
    clock.now = NOW + timedelta(days=40)
    late = status_page(client, other["reference"], other["access_code"]).json()
    assert late["status"] == "finalised"
    assert late["next_step"] == NEXT_STEPS[Status.FINALISED]


def _lodged_in_clear(client: TestClient) -> str:
    """A complaint stored in clear (as an import without a key would be): it has no code."""
    complaints = client.app.state.complaints  # type: ignore[attr-defined]
    now = complaints.clock()
    complaint = Complaint.lodge(
        reference=complaints.allocate_reference(now),
        command=LodgeComplaint.model_validate(lodging()),
        actor=Actor(id="import-1", name="Import"),
        now=now,
    )
    complaints.record_histories([complaint])
    assert complaint.access_code is None
    return complaint.reference


def test_every_refusal_is_the_same_404(client: TestClient) -> None:
    lodged = lodge(client)
    other = lodge(client)
    reference, code = lodged["reference"], lodged["access_code"]
    in_clear = _lodged_in_clear(client)
    wrong = "ABCD-EFGH-JKMN" if code != "ABCD-EFGH-JKMN" else "ABCD-EFGH-JKMP"
    answers = {
        "wrong code": status_page(client, reference, wrong),
        "another complaint's code": status_page(client, reference, other["access_code"]),
        "no code": status_page(client, reference, None),
        "empty code": status_page(client, reference, ""),
        "a very long code": status_page(client, reference, code + " " * 60 + "X"),
        "unknown reference": status_page(client, "PC/99999/26", code),
        "not a reference": status_page(client, "nothing-at-all", code),
        "stored in clear": status_page(client, in_clear, code),
    }
    first = same_answer(answers["wrong code"])
    assert_problem(answers["wrong code"], 404, "not-found")
    assert first[2]["cache-control"] == "no-store"
    for name, response in answers.items():
        assert same_answer(response) == first, name
    assert status_page(client, reference, code).status_code == 200


@pytest.mark.parametrize("path", ["/status/AB%0ACD", "/no-such-page"])
def test_a_path_no_route_serves_is_refused_and_kept_by_no_cache(
    client: TestClient, path: str
) -> None:
    # Found by the contract fuzzer: a newline in the reference matched no route, and the 404
    # lacked the `Cache-Control: no-store` the status page documents for every answer.
    response = client.get(path, headers={"X-Access-Code": "ABCD-EFGH-JKMN"})
    assert_problem(response, 404, "not-found")
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param(lambda code: code.lower(), id="lower case"),
        pytest.param(lambda code: code.replace("-", ""), id="no dashes"),
        pytest.param(lambda code: code.replace("-", " "), id="spaces"),
        pytest.param(lambda code: f"  {code[:6]} {code[6:]}\t", id="spaced anyhow"),
    ],
)
def test_the_code_may_be_typed_loosely(client: TestClient, typed: Any) -> None:
    lodged = lodge(client)
    response = status_page(client, lodged["reference"], typed(lodged["access_code"]))
    assert response.status_code == 200, response.text


def test_the_reference_may_be_typed_loosely_or_percent_encoded(client: TestClient) -> None:
    lodged = lodge(client)
    code = lodged["access_code"]
    for reference in (lodged["reference"].lower(), quote(lodged["reference"], safe="")):
        response = status_page(client, reference, code)
        assert response.status_code == 200, (reference, response.text)
        assert response.json()["reference"] == lodged["reference"]


def test_normal_code() -> None:
    assert normal_code("abcd efgh jkmn") == "ABCD-EFGH-JKMN"
    assert normal_code("ABCDEFGHJKMN") == "ABCD-EFGH-JKMN"
    assert normal_code("ABCD-EFGH") == "ABCDEFGH"  # too short: left to fail


def _locked(response: httpx.Response, retry_after: int) -> None:
    assert_problem(response, 429, "too-many-tries")
    assert response.headers["retry-after"] == str(retry_after)
    assert response.headers["cache-control"] == "no-store"


def test_ten_failures_lock_a_reference_out_for_an_hour(
    client: TestClient, clock: MovableClock
) -> None:
    clock.now = NOW
    lodged = lodge(client)
    neighbour = lodge(client)
    reference, code = lodged["reference"], lodged["access_code"]
    assert status_page(client, reference, code).status_code == 200  # successes do not count
    for minute in range(10):
        clock.now = NOW + timedelta(minutes=minute)
        assert status_page(client, reference, "WRONG-CODE-0000").status_code == 404

    clock.now = NOW + timedelta(minutes=10)
    _locked(status_page(client, reference, "WRONG-CODE-0000"), 50 * 60)
    _locked(status_page(client, reference, code), 50 * 60)  # the right code too, while locked
    _locked(status_page(client, reference.lower(), code), 50 * 60)  # the same reference, typed
    assert status_page(client, neighbour["reference"], neighbour["access_code"]).status_code == 200

    clock.now = NOW + timedelta(minutes=59, seconds=59, microseconds=500_000)
    _locked(status_page(client, reference, code), 1)  # never 0: it is still locked
    clock.now = NOW + timedelta(hours=1, seconds=1)  # the first failure no longer counts
    assert status_page(client, reference, "WRONG-CODE-0000").status_code == 404
    _locked(status_page(client, reference, code), 59)  # until the second is an hour old
    clock.now = NOW + timedelta(hours=1, minutes=1, seconds=1)
    assert status_page(client, reference, code).status_code == 200


def test_a_reference_that_does_not_exist_locks_out_alike(
    client: TestClient, clock: MovableClock
) -> None:
    clock.now = NOW
    unknown = "PC/424242/26"
    for _ in range(10):
        assert_problem(status_page(client, unknown, "ABCD-EFGH-JKMN"), 404)
    _locked(status_page(client, unknown, "ABCD-EFGH-JKMN"), 3600)
    _locked(status_page(client, unknown, None), 3600)
    clock.now = NOW + timedelta(hours=1, microseconds=1)
    assert_problem(status_page(client, unknown, None), 404)


def test_old_failures_are_cleared_out(client: TestClient, clock: MovableClock) -> None:
    attempts = client.app.state.status_attempts  # type: ignore[attr-defined]
    clock.now = NOW
    for reference in ("PC/1/20", "PC/2/20"):
        status_page(client, reference, None)
    clock.now = NOW + timedelta(minutes=61)
    status_page(client, "PC/3/20", None)
    attempts.forget_old()
    with attempts.store.reading() as cursor:
        cursor.execute("SELECT count(*) FROM status_failures")
        assert cursor.fetchone()[0] == 1  # the try of the last hour only


def test_the_code_is_in_the_lodging_answer_and_its_replay_only(client: TestClient) -> None:
    keyed = {**INTAKE, "Idempotency-Key": f"status-{uuid.uuid4()}"}
    first = client.post("/complaints", json=lodging(), headers=keyed)
    again = client.post("/complaints", json=lodging(), headers=keyed)
    assert first.status_code == again.status_code == 201, first.text
    assert again.content == first.content
    code = first.json()["access_code"]
    assert CODE.fullmatch(code)
    complaint_id, reference = first.json()["complaint_id"], first.json()["reference"]

    command(client, complaint_id, "assign", ASSIGN_CASEWORKER, SUPERVISOR)
    contacted = client.post(
        f"/complaints/{complaint_id}/contacts", json=CONTACT, headers=CASEWORKER
    )
    reads = [
        contacted,
        client.get(f"/complaints/{complaint_id}", headers=CASEWORKER),
        client.get(f"/complaints/{complaint_id}", headers=AUDITOR, params={"as_of_version": 1}),
        client.get(f"/complaints/{complaint_id}/history", headers=AUDITOR),
        client.get("/complaints", headers=CASEWORKER),
        client.get(f"/complaints/{complaint_id}/access-log", headers=AUDITOR),
        status_page(client, reference, code),
    ]
    for read in reads:
        assert read.status_code == 200, read.text
        assert code not in read.text, read.url
        assert code.replace("-", "") not in read.text, read.url
        assert "access_code" not in read.text, read.url


def test_the_status_page_needs_no_token_and_writes_no_access_log(client: TestClient) -> None:
    lodged = lodge(client)
    access_log = client.app.state.access_log  # type: ignore[attr-defined]
    before, _ = access_log.entries(None, after=0, limit=1000)
    response = client.get(
        f"/status/{lodged['reference']}",
        headers={"X-Access-Code": lodged["access_code"], "Authorization": "Bearer nonsense"},
    )
    assert response.status_code == 200, response.text  # a token is not looked at
    after, _ = access_log.entries(None, after=0, limit=1000)
    assert after == before


def test_erasure_shreds_the_code(client: TestClient) -> None:
    keyed = {**INTAKE, "Idempotency-Key": f"erased-{uuid.uuid4()}"}
    lodged = client.post("/complaints", json=lodging(), headers=keyed).json()
    complaint_id, reference, code = (
        lodged["complaint_id"],
        lodged["reference"],
        lodged["access_code"],
    )
    for path, body, headers in (
        ("assign", ASSIGN_CASEWORKER, SUPERVISOR),
        ("contacts", CONTACT, CASEWORKER),
        ("resolve", RESOLVE, CASEWORKER),
    ):
        command(client, complaint_id, path, body, headers)
    assert status_page(client, reference, code).status_code == 200
    wrong = same_answer(status_page(client, reference, "ABCD-EFGH-JKMN"))

    erase = {"basis": "erasure_request", "authority_ref": "X"}
    command(client, complaint_id, "erase", erase, RECORDS_MANAGER)
    assert same_answer(status_page(client, reference, code)) == wrong
    replay = client.post("/complaints", json=lodging(), headers=keyed)
    assert replay.status_code == 201, replay.text
    assert replay.json()["access_code"] is None
    assert replay.json()["reference"] == reference


def test_a_redirected_complaint_says_where_in_general_words_only(client: TestClient) -> None:
    for destination in ({"destination": "mopac", "reason": "Policy."}, REDIRECT_IOPC):
        lodged = lodge(client)
        command(client, lodged["complaint_id"], "redirect", destination, CASEWORKER)
        shown = status_page(client, lodged["reference"], lodged["access_code"]).json()
        assert shown["next_step"] == NEXT_STEPS[Status.REDIRECTED]
        assert destination["reason"] not in str(shown)


def test_the_openapi_document_describes_the_page_and_the_code(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    operation = document["paths"]["/status/{reference}"]["get"]
    assert "security" not in operation
    headers = {p["name"].lower() for p in operation["parameters"] if p["in"] == "header"}
    assert headers == {"x-access-code"}
    assert {"200", "404", "429"} <= set(operation["responses"])
    assert "Retry-After" in operation["responses"]["429"]["headers"]
    schema = document["components"]["schemas"]["StatusOut"]
    assert set(schema["properties"]) == KEYS

    lodging_201 = document["paths"]["/complaints"]["post"]["responses"]["201"]
    ref = lodging_201["content"]["application/json"]["schema"]["$ref"]
    lodged = document["components"]["schemas"][ref.rpartition("/")[2]]
    assert "access_code" in lodged["properties"]
    assert "access_code" in lodged["required"]
    for name, other in document["components"]["schemas"].items():
        if name != ref.rpartition("/")[2]:
            assert "access_code" not in other.get("properties", {}), name


def test_the_recorded_sentence_names_the_forces_interval_of_updates(
    settings: Settings, clock: MovableClock
) -> None:
    fortnightly = settings.model_copy(update={"update_every_days": 14})
    app = create_app(fortnightly, jwt_secret=JWT_SECRET, clock=clock)
    with TestClient(app) as client:
        lodged = lodge(client)
        allegation = {"category": "other", "description": "Was rude.", "flags": []}
        for path, body, headers in (
            ("assign", ASSIGN_CASEWORKER, SUPERVISOR),
            ("contacts", CONTACT, CASEWORKER),
            ("allegations", allegation, CASEWORKER),
            ("handling", {"mode": "schedule_3", "reason": "Asked."}, CASEWORKER),
        ):
            command(client, lodged["complaint_id"], path, body, headers)
        shown = status_page(client, lodged["reference"], lodged["access_code"]).json()
    assert shown["status"] == "recorded"
    assert "at least every 14 days" in shown["next_step"]
