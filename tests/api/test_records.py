"""Records management over HTTP on both stores: restriction, erasure, retention reviews and
subject access, each refusal of docs/API.md changing nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.eventstore.references import reference_numbers_for
from api.settings import Settings
from domain.rules import local_date
from domain.service import Complaints
from domain.values import Actor, LodgeComplaint
from tests.ops_support import cli_env, run_cli
from tests.projections.tables import dump
from tests.support import (
    ANALYST,
    AUDITOR,
    CASEWORKER,
    ERASE,
    RECORDS_MANAGER,
    RESTRICT,
    SUPERVISOR,
    MovableClock,
    assert_problem,
    command,
    complaint_in,
    head_position,
    lodging,
    nothing_recorded,
)


def resolved(client: TestClient, body: dict[str, Any] | None = None) -> str:
    complaint_id: str = complaint_in(client, "resolved", body)[-1]["complaint_id"]
    return complaint_id


def post(client: TestClient, complaint_id: str, path: str, body: dict[str, Any]) -> Any:
    return client.post(f"/complaints/{complaint_id}/{path}", json=body, headers=RECORDS_MANAGER)


def read(client: TestClient, complaint_id: str, headers: dict[str, str]) -> dict[str, Any]:
    response = client.get(f"/complaints/{complaint_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_a_restricted_complaint_hides_its_personal_data_but_from_records_and_audit(
    client: TestClient,
) -> None:
    complaint_id = resolved(client)
    restricted = post(client, complaint_id, "restrict", RESTRICT)
    assert restricted.status_code == 200, restricted.text
    assert restricted.json()["restricted"]["reason"] == RESTRICT["reason"]

    hidden = read(client, complaint_id, CASEWORKER)
    assert hidden["complainant"] is None
    assert hidden["description"] is None
    assert hidden["location"] is None
    assert hidden["subject"]["shoulder_number"] is None
    assert hidden["subject"]["kind"] == "officer"  # categories stay
    assert hidden["contacts"][0]["summary"] is None
    assert hidden["resolution"]["summary"] is None
    assert hidden["resolution"]["learning"] == [{"theme": "communication", "note": None}]
    history = client.get(f"/complaints/{complaint_id}/history", headers=SUPERVISOR).json()
    assert history["events"][0]["data"]["complainant"] is None
    for reader in (RECORDS_MANAGER, AUDITOR):
        assert read(client, complaint_id, reader)["complainant"]["name"] == "Sam Jones"

    lifted = post(client, complaint_id, "lift-restriction", {"reason": "Proceedings ended."})
    assert lifted.status_code == 200, lifted.text
    assert read(client, complaint_id, CASEWORKER)["complainant"]["name"] == "Sam Jones"


def test_erasure_reads_as_null_everywhere_and_changes_no_statistic(client: TestClient) -> None:
    complaint_id = resolved(client)
    position = head_position(client)
    before = [
        client.get(f"/statistics/{name}?min_position={position}", headers=ANALYST).content
        for name in ("learning", "timeliness")
    ]

    erased = post(client, complaint_id, "erase", ERASE)
    assert erased.status_code == 200, erased.text
    body = erased.json()
    assert body["erased"]["parts"] == ["complainant", "subject", "narrative"]
    assert body["erased"]["basis"] == "erasure_request"
    assert body["complainant"] is None
    assert body["description"] is None

    assert read(client, complaint_id, CASEWORKER)["contacts"][0]["summary"] is None
    past = client.get(f"/complaints/{complaint_id}?as_of_version=1", headers=AUDITOR).json()
    assert past["complainant"] is None
    assert past["description"] is None
    assert past["erased"] == body["erased"]  # what was erased later, and why, is shown
    events = client.get(f"/complaints/{complaint_id}/history", headers=AUDITOR).json()["events"]
    assert events[0]["data"]["complainant"] is None
    assert events[0]["data"]["subject"]["kind"] == "officer"
    assert events[0]["data"]["subject"]["shoulder_number"] is None
    assert events[2]["data"]["summary"] is None  # the contact's
    verified = client.get(f"/complaints/{complaint_id}/verify", headers=AUDITOR).json()
    assert verified["valid"] is True
    after = [
        client.get(
            f"/statistics/{name}?min_position={erased.json()['position']}", headers=ANALYST
        ).content
        for name in ("learning", "timeliness")
    ]
    assert after == before


def test_erasure_of_one_part_keeps_the_others(client: TestClient) -> None:
    complaint_id = resolved(client)
    answer = post(client, complaint_id, "erase", {**ERASE, "parts": ["complainant"]})
    assert answer.status_code == 200, answer.text
    shown = read(client, complaint_id, CASEWORKER)
    assert shown["complainant"] is None
    assert shown["description"] == lodging()["description"]
    again = post(client, complaint_id, "erase", {**ERASE, "parts": ["narrative"]})
    assert again.json()["erased"]["parts"] == ["complainant", "narrative"]


def test_every_refusal_of_the_records_commands_changes_nothing(
    client: TestClient, clock: MovableClock
) -> None:
    open_id = complaint_in(client, "in_contact")[-1]["complaint_id"]
    final_id = resolved(client)
    review = {"decision": "retain", "reason": "Civil claim.", "next_review_on": "2099-01-01"}
    refusals = [
        (open_id, "erase", ERASE, 409, "not-final"),
        (open_id, "retention-reviews", review, 409, "not-final"),
        (final_id, "erase", {**ERASE, "basis": "retention_expired"}, 409, "erasure-not-due"),
        (final_id, "lift-restriction", {"reason": "x"}, 409, "not-restricted"),
        (
            final_id,
            "retention-reviews",
            {**review, "next_review_on": "2001-01-01"},
            422,
            "next-review-not-in-future",
        ),
    ]
    for complaint_id, path, body, status, slug in refusals:
        with nothing_recorded(client, complaint_id):
            assert_problem(post(client, complaint_id, path, body), status, slug)

    assert post(client, final_id, "restrict", RESTRICT).status_code == 200
    for path, body, slug in [
        ("erase", ERASE, "processing-restricted"),
        ("restrict", RESTRICT, "already-restricted"),
    ]:
        with nothing_recorded(client, final_id):
            assert_problem(post(client, final_id, path, body), 409, slug)
    assert post(client, final_id, "lift-restriction", {"reason": "Done."}).status_code == 200
    assert post(client, final_id, "erase", ERASE).status_code == 200
    with nothing_recorded(client, final_id):
        assert_problem(post(client, final_id, "erase", ERASE), 409, "already-erased")
        assert_problem(post(client, final_id, "retention-reviews", review), 409, "already-erased")


def test_only_records_managers_decide_on_records(client: TestClient) -> None:
    complaint_id = resolved(client)
    for headers in (CASEWORKER, SUPERVISOR, AUDITOR, ANALYST):
        with nothing_recorded(client, complaint_id):
            answer = client.post(f"/complaints/{complaint_id}/erase", json=ERASE, headers=headers)
            assert_problem(answer, 403)


def test_retention_expires_after_the_years_or_at_the_next_review(
    client: TestClient, clock: MovableClock
) -> None:
    complaint_id = resolved(client)
    review = {"decision": "retain", "reason": "Civil claim.", "next_review_on": "2099-01-01"}
    clock.advance(timedelta(days=366 * 6 + 2))
    reviewed = post(client, complaint_id, "retention-reviews", review)
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["retention_reviews"][0]["next_review_on"] == "2099-01-01"
    # Retained until 2099: erasure at the end of retention is not due yet
    assert_problem(
        post(client, complaint_id, "erase", {**ERASE, "basis": "retention_expired"}),
        409,
        "erasure-not-due",
    )
    other_id = resolved(client)
    clock.advance(timedelta(days=366 * 6 + 2))
    answer = post(client, other_id, "erase", {**ERASE, "basis": "retention_expired"})
    assert answer.status_code == 200, answer.text


def test_a_complaint_stored_in_clear_still_reads_and_its_erasure_is_refused(
    client: TestClient, settings: Settings
) -> None:
    plain = Complaints(env=settings.eventsourcing_env, reference_numbers=reference_numbers_for)
    try:
        recorded = plain.lodge(
            LodgeComplaint.model_validate(lodging()), actor=Actor(id="old", name="Old system")
        )
    finally:
        plain.close()
    complaint_id = str(recorded.complaint.id)
    assert read(client, complaint_id, CASEWORKER)["complainant"]["name"] == "Sam Jones"
    command(client, complaint_id, "redirect", {"destination": "iopc", "reason": "x"}, CASEWORKER)
    with nothing_recorded(client, complaint_id):
        assert_problem(post(client, complaint_id, "erase", ERASE), 409, "stored-in-clear")


def test_subject_access_finds_a_person_however_written_and_not_once_erased(
    client: TestClient,
) -> None:
    person = {"name": "Ann  Other", "email": "Ann.Other@Example.org", "phone": "07700 900555"}
    first = resolved(client, lodging(complainant={**person, "date_of_birth": "1980-02-03"}))
    second = complaint_in(client, "lodged", lodging(complainant=person))[-1]["complaint_id"]
    resolved(client)  # somebody else

    def search(body: dict[str, Any]) -> set[str]:
        answer = client.post("/subject-access", json=body, headers=RECORDS_MANAGER)
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert all(item["appears_as"] == "complainant" for item in items)
        return {item["complaint_id"] for item in items}

    assert search({"email": "  ann.other@EXAMPLE.ORG "}) == {first, second}
    assert search({"phone": "+44 7700 900555"}) == {first, second}
    assert search({"name": "ann other", "date_of_birth": "1980-02-03"}) == {first}
    assert search({"email": "nobody@example.org"}) == set()

    assert post(client, first, "erase", ERASE).status_code == 200
    assert search({"email": "ann.other@example.org"}) == {second}

    log = client.get("/access-log", headers=AUDITOR).json()
    searches = [e for e in log["entries"] if e["action"] == "subject_access"]
    assert searches
    assert all("ann" not in str(e).lower() for e in searches)


def test_subject_access_wants_one_way_to_find_a_person(client: TestClient) -> None:
    for body in (
        {},
        {"email": "a@b.c", "phone": "1"},
        {"name": "A"},
        {"date_of_birth": "1980-01-01"},
    ):
        assert_problem(client.post("/subject-access", json=body, headers=RECORDS_MANAGER), 422)
    assert_problem(client.post("/subject-access", json={"email": "a@b.c"}, headers=SUPERVISOR), 403)


def test_the_retention_schedule_lists_what_is_due_and_no_personal_data(
    client: TestClient, clock: MovableClock
) -> None:
    answer = complaint_in(client, "resolved")[-1]
    complaint_id, position = answer["complaint_id"], answer["position"]
    final_on = local_date(datetime.fromisoformat(answer["resolution"]["resolved_at"])).isoformat()

    def due(as_of: str) -> list[dict[str, Any]]:
        url = f"/retention/due?as_of={as_of}&min_position={position}"
        response = client.get(url, headers=RECORDS_MANAGER)
        assert response.status_code == 200, response.text
        assert int(response.headers["X-Projection-Position"]) >= position
        items: list[dict[str, Any]] = response.json()["items"]
        return [item for item in items if item["complaint_id"] == complaint_id]

    year, rest = int(final_on[:4]), final_on[4:]
    assert due(f"{year + 5}{rest}") == []
    [item] = due(f"{year + 6}{rest}")
    assert item == {
        "complaint_id": complaint_id,
        "reference": answer["reference"],
        "status": "resolved",
        "final_on": final_on,
        "due_on": f"{year + 6}{rest}",
        "last_review_on": None,
    }
    assert_problem(client.get("/retention/due", headers=CASEWORKER), 403)
    assert_problem(client.get("/retention/due?cursor=nonsense", headers=RECORDS_MANAGER), 400)


def test_after_erasure_a_rebuild_gives_the_same_read_model_rows(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    complaint_ids = [resolved(client) for _ in range(3)]
    post(client, complaint_ids[0], "erase", ERASE)
    post(client, complaint_ids[1], "restrict", RESTRICT)
    last = post(client, complaint_ids[2], "erase", {**ERASE, "parts": ["subject"]}).json()
    caught_up = client.get(
        f"/retention/due?min_position={last['position']}", headers=RECORDS_MANAGER
    )
    assert caught_up.status_code == 200, caught_up.text
    before = dump(settings.database_url)

    rebuilt = run_cli(["rebuild"], cli_env(settings.database_url), tmp_path)

    assert rebuilt.returncode == 0, rebuilt.stderr
    assert dump(settings.database_url) == before
