"""The statutory process over HTTP on both stores (docs/API.md "The statutory process").

The whole recorded path with the statuses of docs/DOMAIN.md part B, then each of rules 12 to 20
refused with its problem type and nothing recorded.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.rules import local_date
from tests.support import (
    AUDITOR,
    CASEWORKER,
    SUPERVISOR,
    MovableClock,
    assert_problem,
    auth,
    command,
    complaint_in,
    error_fields,
    history_of,
    nothing_recorded,
)

OTHER_CASEWORKER = auth("cw-2", "caseworker", name="PC Mary Somerville")
WANTS_RECORDING = {
    "method": "phone",
    "summary": "Explained the options.",
    "wants_recording": True,
    "desired_outcome": "An apology.",
}
RUDENESS = {
    "category": "individual_behaviours",
    "subcategory": "impolite language",
    "description": "Swore at the complainant.",
    "flags": [],
}
DISCRIMINATION = {
    "category": "discriminatory_behaviour",
    "description": "A remark about the complainant's religion.",
    "flags": ["discrimination"],
}
RECORD = {"mode": "schedule_3", "reason": "The complainant asked for it to be recorded."}
OUTSIDE = {"mode": "outside_schedule_3", "reason": "Resolvable by explanation."}
UPDATE = {"method": "letter", "summary": "Statements taken."}
REVIEW = {"grounds": "The outcome misses the point."}
WITHDRAWAL = {"signed_by": "complainant", "signed_on": None, "scope": "The whole complaint."}


def _outcome(*allegation_ids: str, outcome: str = "upheld") -> dict[str, Any]:
    return {
        "allegations": [{"allegation_id": a, "outcome": outcome} for a in allegation_ids],
        "actions": ["apology", "learning"],
        "summary": "The language fell below the standard expected.",
        "learning": [{"theme": "communication", "note": "Briefing on tone."}],
    }


def _recorded(client: TestClient, *allegations: dict[str, Any]) -> str:
    """A complaint in contact (assigned to cw-1), its allegations added, then recorded."""
    complaint_id: str = complaint_in(client, "in_contact")[-1]["complaint_id"]
    for allegation in allegations:
        command(client, complaint_id, "allegations", allegation, CASEWORKER)
    answer = command(client, complaint_id, "handling", RECORD, CASEWORKER)
    assert answer["status"] == "recorded"
    return complaint_id


def _notified(client: TestClient) -> str:
    complaint_id = _recorded(client, RUDENESS)
    answer = command(client, complaint_id, "outcome", _outcome("A1"), CASEWORKER)
    assert answer["status"] == "outcome_notified"
    return complaint_id


def _post(
    client: TestClient, complaint_id: str, path: str, body: dict[str, Any], headers: dict[str, str]
) -> Any:
    return client.post(f"/complaints/{complaint_id}/{path}", json=body, headers=headers)


def _withdrawal() -> dict[str, Any]:
    return {**WITHDRAWAL, "signed_on": _today()}


def _today() -> str:
    """The force's (London) date now: the server's clock is not moved by these tests."""
    return local_date(datetime.now(UTC)).isoformat()


def test_the_whole_recorded_path(client: TestClient) -> None:
    # Given a complaint in contact whose complainant wants it recorded, with two allegations
    complaint_id = complaint_in(client, "in_contact")[-1]["complaint_id"]
    contacted = command(client, complaint_id, "contacts", WANTS_RECORDING, CASEWORKER)
    assert contacted["status"] == "in_contact"
    assert contacted["wants_recording"] is True
    first = command(client, complaint_id, "allegations", RUDENESS, CASEWORKER)
    second = command(client, complaint_id, "allegations", DISCRIMINATION, CASEWORKER)
    assert [a["allegation_id"] for a in first["allegations"]] == ["A1"]
    assert [a["allegation_id"] for a in second["allegations"]] == ["A1", "A2"]
    assert second["allegations"][-1]["flags"] == ["discrimination"]

    # When it is recorded, referred, determined and updated
    recorded = command(client, complaint_id, "handling", RECORD, SUPERVISOR)
    assert recorded["status"] == "recorded"
    assert recorded["handling"]["mode"] == "schedule_3"
    assert recorded["next_update_due"]
    referred = command(client, complaint_id, "iopc-referral", {}, SUPERVISOR)
    assert referred["iopc"]["grounds"] == ["discrimination"]
    assert referred["iopc"]["determination"] is None
    determined = command(
        client, complaint_id, "iopc-determination", {"mode": "local_investigation"}, SUPERVISOR
    )
    assert determined["iopc"]["determination"] == "local_investigation"
    updated = command(client, complaint_id, "updates", UPDATE, CASEWORKER)
    assert updated["status"] == "recorded"
    assert [u["summary"] for u in updated["updates"]] == ["Statements taken."]

    # Then the outcome is notified, with the IOPC as review body (referred) and a deadline
    notified = command(client, complaint_id, "outcome", _outcome("A1", "A2"), CASEWORKER)
    assert notified["status"] == "outcome_notified"
    assert notified["next_update_due"] is None
    assert notified["review"]["body"] == "iopc"
    assert notified["review"]["deadline"]
    assert [a["outcome"] for a in notified["outcome"]["allegations"]] == ["upheld", "upheld"]

    # And a review reopens it, a second outcome follows, and a second review finalises it
    assert command(client, complaint_id, "review", REVIEW, CASEWORKER)["status"] == "under_review"
    reopened = command(
        client,
        complaint_id,
        "review-decision",
        {"reasonable_and_proportionate": False, "recommendations": ["Interview the witness."]},
        SUPERVISOR,
    )
    assert reopened["status"] == "recorded"
    assert reopened["next_update_due"]
    command(client, complaint_id, "outcome", _outcome("A1", "A2", outcome="not_upheld"), SUPERVISOR)
    command(client, complaint_id, "review", REVIEW, CASEWORKER)
    final = command(
        client,
        complaint_id,
        "review-decision",
        {"reasonable_and_proportionate": True, "recommendations": []},
        SUPERVISOR,
    )
    assert final["status"] == "finalised"
    assert final["final_on"]
    assert len(final["reviews"]) == 2

    # And the history names each event as docs/DOMAIN.md does
    assert [event["type"] for event in history_of(client, complaint_id)][3:] == [
        "ComplainantContacted",
        "AllegationAdded",
        "AllegationAdded",
        "HandlingDecided",
        "ReferredToIopc",
        "IopcDetermined",
        "ProgressUpdateSent",
        "OutcomeNotified",
        "ReviewRequested",
        "ReviewDecided",
        "OutcomeNotified",
        "ReviewRequested",
        "ReviewDecided",
    ]
    read = client.get(f"/complaints/{complaint_id}", headers=AUDITOR).json()
    assert read == {key: value for key, value in final.items() if key != "position"}


def test_a_notified_outcome_is_finalised_when_its_review_deadline_passes(
    client: TestClient, clock: MovableClock
) -> None:
    # Given a notified outcome, local policing body as review body (no flag, not referred)
    complaint_id = _notified(client)
    deadline = client.get(f"/complaints/{complaint_id}", headers=CASEWORKER).json()["review"]
    assert deadline["body"] == "local_policing_body"

    # When the deadline passes with no review requested
    clock.advance(timedelta(days=30))

    # Then it reads as finalised from the day after the deadline, and takes no further command
    read = client.get(f"/complaints/{complaint_id}", headers=CASEWORKER).json()
    assert read["status"] == "finalised"
    assert read["final_on"] > deadline["deadline"]
    with nothing_recorded(client, complaint_id):
        refused = _post(client, complaint_id, "updates", UPDATE, CASEWORKER)
        assert_problem(refused, 409, "complaint-closed")

    # And only a late review is still accepted, from a supervisor with a late reason
    with nothing_recorded(client, complaint_id):
        assert_problem(
            _post(client, complaint_id, "review", REVIEW, CASEWORKER), 409, "review-out-of-time"
        )
        late = {**REVIEW, "late_reason": "In hospital."}
        assert_problem(_post(client, complaint_id, "review", late, CASEWORKER), 403)
    accepted = command(client, complaint_id, "review", late, SUPERVISOR)
    assert accepted["status"] == "under_review"
    assert accepted["review"]["late_reason"] == "In hospital."


def test_a_review_in_time_on_the_28th_day_and_out_of_time_on_the_29th(
    client: TestClient, clock: MovableClock
) -> None:
    complaint_id = _notified(client)
    deadline = client.get(f"/complaints/{complaint_id}", headers=CASEWORKER).json()["review"][
        "deadline"
    ]
    clock.advance(timedelta(days=40))
    received_late = f"{deadline}T23:59:00+00:00"
    in_time = {**REVIEW, "received_at": received_late.replace("23:59", "10:00")}
    day_after = (clock().date().fromisoformat(deadline) + timedelta(days=1)).isoformat()
    with nothing_recorded(client, complaint_id):
        late = {**REVIEW, "received_at": f"{day_after}T10:00:00+00:00"}
        assert_problem(
            _post(client, complaint_id, "review", late, CASEWORKER), 409, "review-out-of-time"
        )
    assert command(client, complaint_id, "review", in_time, CASEWORKER)["status"] == "under_review"


@pytest.mark.parametrize(
    ("setup", "path", "body", "status", "slug"),
    [
        (
            "in_contact",
            "allegations",
            {"description": "No category."},
            422,
            "allegation-incomplete",
        ),
        ("in_contact", "allegations", {"category": "other"}, 422, "allegation-incomplete"),
        ("assigned", "handling", RECORD, 409, "contact-required"),
        ("wants_recording", "handling", OUTSIDE, 409, "must-record"),
        ("wants_recording", "resolve", None, 409, "must-record"),
        ("flagged", "handling", OUTSIDE, 409, "must-record"),
        ("flagged", "resolve", None, 409, "must-record"),
        ("recorded_flagged", "outcome", _outcome("A1"), 409, "referral-required"),
        ("referred", "outcome", _outcome("A1"), 409, "referral-required"),
        ("recorded", "resolve", None, 409, "not-outside-schedule-3"),
        ("recorded", "outcome", _outcome(), 422, "outcome-incomplete"),
        ("recorded", "outcome", _outcome("A1", "A9"), 422, "outcome-incomplete"),
        ("recorded_bare", "outcome", _outcome(), 422, "outcome-incomplete"),
        ("recorded", "handling", OUTSIDE, 409, "handling-already-decided"),
        ("in_contact", "updates", UPDATE, 409, "not-recorded"),
        ("notified", "redirect", {"destination": "iopc", "reason": "x"}, 409, "not-redirectable"),
        ("in_contact", "withdraw", {"scope": "All of it."}, 422, "withdrawal-unsigned"),
        ("withdrawn", "allegations", RUDENESS, 409, "complaint-closed"),
        ("withdrawn", "contacts", {"method": "phone", "summary": "x"}, 409, "complaint-closed"),
        ("withdrawn", "withdraw", "signed", 409, "complaint-closed"),
    ],
)
def test_each_rule_is_refused_with_its_problem_and_records_nothing(
    client: TestClient,
    setup: str,
    path: str,
    body: dict[str, Any] | str | None,
    status: int,
    slug: str,
) -> None:
    complaint_id = _prepare(client, setup)
    if body is None:
        body = {"outcome": "apology_given", "summary": "Apologised.", "learning": []}
    elif body == "signed":
        body = _withdrawal()
    assert isinstance(body, dict)
    with nothing_recorded(client, complaint_id):
        problem = assert_problem(_post(client, complaint_id, path, body, CASEWORKER), status, slug)
    if status == 422:
        assert error_fields(problem)


def _prepare(client: TestClient, setup: str) -> str:
    if setup in ("assigned", "in_contact"):
        found: str = complaint_in(client, setup)[-1]["complaint_id"]
        return found
    if setup == "recorded":
        return _recorded(client, RUDENESS)
    if setup == "recorded_bare":
        return _recorded(client)
    if setup == "recorded_flagged":
        return _recorded(client, DISCRIMINATION)
    if setup == "notified":
        return _notified(client)
    complaint_id = complaint_in(client, "in_contact")[-1]["complaint_id"]
    if setup == "wants_recording":
        command(client, complaint_id, "contacts", WANTS_RECORDING, CASEWORKER)
    elif setup == "flagged":
        command(client, complaint_id, "allegations", DISCRIMINATION, CASEWORKER)
    elif setup == "referred":
        command(client, complaint_id, "allegations", RUDENESS, CASEWORKER)
        command(client, complaint_id, "handling", RECORD, CASEWORKER)
        command(client, complaint_id, "iopc-referral", {"grounds": ["voluntary"]}, SUPERVISOR)
    elif setup == "withdrawn":
        answer = command(client, complaint_id, "withdraw", _withdrawal(), CASEWORKER)
        assert answer["status"] == "withdrawn"
    return complaint_id


def test_an_iopc_flagged_case_reaches_an_outcome_only_after_referral_and_determination(
    client: TestClient,
) -> None:
    complaint_id = _recorded(client, DISCRIMINATION)
    steps = [
        ("iopc-referral", {"iopc_reference": "IOPC-1"}),
        ("iopc-determination", {"mode": "directed_investigation"}),
    ]
    for path, body in steps:
        with nothing_recorded(client, complaint_id):
            early = _post(client, complaint_id, "outcome", _outcome("A1"), CASEWORKER)
            assert_problem(early, 409, "referral-required")
        command(client, complaint_id, path, body, SUPERVISOR)
    notified = command(client, complaint_id, "outcome", _outcome("A1"), CASEWORKER)
    assert notified["status"] == "outcome_notified"
    assert notified["review"]["body"] == "iopc"


@pytest.mark.parametrize(
    ("path", "body"),
    [("iopc-referral", {}), ("iopc-determination", {"mode": "local_investigation"})],
)
def test_referral_and_determination_are_for_supervisors(
    client: TestClient, path: str, body: dict[str, Any]
) -> None:
    complaint_id = _recorded(client, RUDENESS)
    with nothing_recorded(client, complaint_id):
        assert_problem(_post(client, complaint_id, path, body, CASEWORKER), 403)


def test_the_review_decision_is_for_supervisors(client: TestClient) -> None:
    complaint_id = _notified(client)
    command(client, complaint_id, "review", REVIEW, CASEWORKER)
    decision = {"reasonable_and_proportionate": True, "recommendations": []}
    with nothing_recorded(client, complaint_id):
        assert_problem(_post(client, complaint_id, "review-decision", decision, CASEWORKER), 403)


@pytest.mark.parametrize(("path", "body"), [("handling", RECORD), ("updates", UPDATE)])
def test_another_caseworker_may_not_work_the_case(
    client: TestClient, path: str, body: dict[str, Any]
) -> None:
    complaint_id = (
        _recorded(client, RUDENESS) if path == "updates" else _prepare(client, "in_contact")
    )
    with nothing_recorded(client, complaint_id):
        refused = _post(client, complaint_id, path, body, OTHER_CASEWORKER)
        assert_problem(refused, 403, "not-assigned-investigator")


@pytest.mark.parametrize("setup", ["in_contact", "recorded", "notified", "under_review"])
def test_any_open_complaint_may_be_withdrawn_and_then_takes_no_command(
    client: TestClient, setup: str
) -> None:
    if setup == "under_review":
        complaint_id = _notified(client)
        command(client, complaint_id, "review", REVIEW, CASEWORKER)
    else:
        complaint_id = _prepare(client, setup)
    withdrawn = command(client, complaint_id, "withdraw", _withdrawal(), CASEWORKER)
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["withdrawal"]["signed_by"] == "complainant"
    assert withdrawn["final_on"] == _today()
    for path, body in [
        ("allegations", RUDENESS),
        ("updates", UPDATE),
        ("review", REVIEW),
        ("redirect", {"destination": "iopc", "reason": "x"}),
    ]:
        with nothing_recorded(client, complaint_id):
            assert_problem(
                _post(client, complaint_id, path, body, SUPERVISOR), 409, "complaint-closed"
            )


def test_a_statutory_command_honours_if_match_and_idempotency_keys(client: TestClient) -> None:
    complaint_id = _prepare(client, "in_contact")
    with nothing_recorded(client, complaint_id):
        stale = client.post(
            f"/complaints/{complaint_id}/allegations",
            json=RUDENESS,
            headers={**CASEWORKER, "If-Match": '"1"'},
        )
        assert_problem(stale, 412)
    keyed = {**CASEWORKER, "Idempotency-Key": "allegation-1"}
    first = client.post(f"/complaints/{complaint_id}/allegations", json=RUDENESS, headers=keyed)
    assert first.status_code == 200, first.text
    with nothing_recorded(client, complaint_id):
        again = client.post(f"/complaints/{complaint_id}/allegations", json=RUDENESS, headers=keyed)
        assert again.status_code == 200
        assert again.json() == first.json()


def test_occurred_at_is_never_before_receipt_nor_in_the_future(
    client: TestClient, clock: MovableClock
) -> None:
    complaint_id = _prepare(client, "in_contact")
    for occurred_at in ("2001-01-01T00:00:00Z", (clock() + timedelta(days=2)).isoformat()):
        with nothing_recorded(client, complaint_id):
            refused = _post(
                client,
                complaint_id,
                "allegations",
                {**RUDENESS, "occurred_at": occurred_at},
                CASEWORKER,
            )
            assert_problem(refused, 409, "occurred-at-invalid")


def test_a_backdated_step_dates_its_signature_and_its_receipt(
    client: TestClient, clock: MovableClock
) -> None:
    # Given complaints worked a while ago and recorded only now
    withdrawn_id = _prepare(client, "in_contact")
    notified_id = _notified(client)
    received = client.get(f"/complaints/{notified_id}", headers=CASEWORKER).json()
    notified_at = datetime.fromisoformat(received["outcome"]["notified_at"])
    clock.now = notified_at + timedelta(days=40)
    step = (notified_at + timedelta(days=2)).isoformat()
    # A withdrawal signed after the day it is dated is refused; signed by then, accepted
    signed_later = {**WITHDRAWAL, "occurred_at": step, "signed_on": local_date(clock()).isoformat()}
    with nothing_recorded(client, withdrawn_id):
        refused = _post(client, withdrawn_id, "withdraw", signed_later, CASEWORKER)
        assert_problem(refused, 422, "date-invalid")
    signed = {**signed_later, "signed_on": local_date(notified_at).isoformat()}
    assert command(client, withdrawn_id, "withdraw", signed, CASEWORKER)["status"] == "withdrawn"
    # A review received after the step that records it is refused
    with nothing_recorded(client, notified_id):
        after = {**REVIEW, "occurred_at": step, "received_at": clock().isoformat()}
        assert_problem(_post(client, notified_id, "review", after, CASEWORKER), 422, "date-invalid")
    # And a review recorded as of two days after the notification was received then: in time,
    # though today is past the deadline
    review = command(client, notified_id, "review", {**REVIEW, "occurred_at": step}, CASEWORKER)
    assert review["status"] == "under_review"
    assert datetime.fromisoformat(review["review"]["received_at"]) == datetime.fromisoformat(step)
