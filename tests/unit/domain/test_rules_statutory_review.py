"""docs/DOMAIN.md part B, rules 17 and 18: progress updates, the review and its deadline, and the
derived `finalised` status.

Periods are calendar days counted on London dates: the builders' NOW (24 November 2026) is GMT,
and the summer cases check British Summer Time, when 23:30 UTC is already the next London day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest

from domain import statutory_rules as rules
from domain.complaint import Complaint
from domain.errors import (
    ComplaintClosedError,
    NotAssignedInvestigatorError,
    NotFinalError,
    NotRecordedError,
    OutcomeStateError,
    ReviewOutOfTimeError,
    StatutoryDateError,
    SupervisorRequiredError,
)
from domain.statutory_events import (
    OutcomeNotified,
    ProgressUpdateSent,
    ReviewDecided,
    ReviewRequested,
)
from domain.statutory_values import ReviewBody
from domain.values import Status
from tests.unit.domain.builders import (
    INVESTIGATOR,
    NOW,
    OTHER_CASEWORKER,
    SUPERVISOR,
    assert_refused,
    assigned,
    lodge,
)
from tests.unit.domain.statutory_builders import (
    DEADLINE,
    FINAL_ON,
    FIRST_MOMENT_LATE,
    LAST_MOMENT_IN_TIME,
    LONG_AFTER,
    act,
    attempt,
    contacted,
    every_command,
    finalised_by_review,
    handling_command,
    lift_command,
    london,
    notified,
    outcome_command,
    recorded,
    reopened,
    restrict_command,
    retention_command,
    review_command,
    review_decision_command,
    summer_complaint,
    under_review,
    update_command,
    withdrawn,
)

# ---- Rule 17: progress updates every 28 days from the recording, then from the last update ------


@pytest.mark.parametrize(
    "start",
    [lodge, assigned, contacted, notified, under_review, finalised_by_review, withdrawn],
)
def test_rule_17_no_update_is_due_unless_recorded_and_investigated(
    start: Callable[[], Complaint],
) -> None:
    assert start().next_update_due() is None


def test_rule_17_none_is_due_outside_schedule_3() -> None:
    complaint = contacted()
    act(complaint, handling_command("outside_schedule_3"))
    assert complaint.next_update_due() is None


def test_rule_17_due_28_days_from_the_recording_then_from_the_last_update() -> None:
    # Given a complaint recorded on 24 November
    complaint = recorded([])
    assert complaint.next_update_due() == date(2026, 12, 22)
    assert complaint.next_update_due(every_days=14) == date(2026, 12, 8)

    # When an update is sent on 4 December
    sent_at = NOW + timedelta(days=10)
    event = act(complaint, update_command(), actor=INVESTIGATOR, supervisor=False, now=sent_at)

    # Then the next is due 28 days after it
    assert isinstance(event, ProgressUpdateSent)
    assert complaint.next_update_due() == date(2027, 1, 1)
    assert complaint.updates == [
        {
            "method": "letter",
            "summary": "Statements are being taken.",
            "occurred_at": sent_at,
            "by": INVESTIGATOR.model_dump(),
        }
    ]
    # And an update recorded later but dated earlier does not bring it forward
    act(complaint, update_command(occurred_at=NOW + timedelta(days=2)), now=sent_at)
    assert complaint.next_update_due() == date(2027, 1, 1)
    assert complaint.status is Status.RECORDED


def test_rule_17_due_again_from_the_reopening() -> None:
    complaint = under_review()
    reopened_at = NOW + timedelta(days=40)
    act(complaint, review_decision_command(False), now=reopened_at)
    assert complaint.status is Status.RECORDED
    assert complaint.next_update_due() == reopened_at.date() + timedelta(days=28)


def test_rule_17_counted_on_the_london_date_in_summer_time() -> None:
    # 23:30 UTC on 10 June is 00:30 on 11 June in London
    recorded_at = datetime(2026, 6, 10, 23, 30, tzinfo=UTC)
    complaint = recorded([], data=summer_complaint(), now=recorded_at)
    assert complaint.next_update_due() == date(2026, 7, 9)
    assert rules.next_update_due(recorded_at) == date(2026, 7, 9)


@pytest.mark.parametrize("start", [lodge, contacted], ids=["lodged", "in_contact"])
def test_rule_17_only_a_recorded_complaint_has_progress_updates(
    start: Callable[[], Complaint],
) -> None:
    complaint = start()
    assert_refused(
        complaint, attempt(complaint, update_command()), NotRecordedError, "not-recorded"
    )


def test_rule_17_another_caseworker_cannot_send_an_update() -> None:
    complaint = recorded([])
    assert_refused(
        complaint,
        attempt(complaint, update_command(), actor=OTHER_CASEWORKER, supervisor=False),
        NotAssignedInvestigatorError,
        "not-assigned-investigator",
    )


# ---- Rule 18: the review body, the deadline, and what the review decides -------------------------


@pytest.mark.parametrize(
    ("iopc", "allegations", "body_"),
    [
        (None, [], ReviewBody.LOCAL_POLICING_BODY),
        (None, [{"flags": []}, {"flags": []}], ReviewBody.LOCAL_POLICING_BODY),
        (None, [{"flags": []}, {"flags": ["misconduct"]}], ReviewBody.IOPC),
        ({"grounds": ["voluntary"]}, [{"flags": []}], ReviewBody.IOPC),
    ],
    ids=["nothing", "unflagged", "one-flag", "referred"],
)
def test_rule_18_the_review_body(
    iopc: dict[str, object] | None, allegations: list[dict[str, list[str]]], body_: ReviewBody
) -> None:
    assert rules.review_body(iopc, allegations) is body_


def test_rule_18_the_deadline_is_the_28th_day_after_the_notifications_london_day() -> None:
    assert rules.review_deadline(NOW) == DEADLINE
    assert rules.review_deadline(london("2026-11-24 00:00")) == DEADLINE
    assert rules.review_deadline(london("2026-11-24 23:59")) == DEADLINE
    assert rules.final_on(DEADLINE) == FINAL_ON
    complaint = notified()
    assert complaint.review is not None
    assert complaint.review["deadline"] == DEADLINE


@pytest.mark.parametrize("judged_at", [LAST_MOMENT_IN_TIME, LONG_AFTER], ids=["then", "later"])
def test_rule_18_a_review_received_on_the_28th_day_is_in_time(judged_at: datetime) -> None:
    # Given an outcome notified on 24 November
    complaint = notified()

    # When a review received on 22 December is entered, then or after the deadline has passed
    event = act(
        complaint,
        review_command(received_at=LAST_MOMENT_IN_TIME),
        actor=OTHER_CASEWORKER,
        supervisor=False,
        now=judged_at,
    )

    # Then it is in time: no late reason, no supervisor needed
    assert isinstance(event, ReviewRequested)
    assert (event.received_at, event.late_reason) == (LAST_MOMENT_IN_TIME, None)
    assert complaint.status is Status.UNDER_REVIEW
    assert complaint.status_at(judged_at) is Status.UNDER_REVIEW
    assert complaint.review is not None
    assert complaint.review["requested_at"] == judged_at
    assert complaint.review["received_at"] == LAST_MOMENT_IN_TIME
    assert complaint.review["grounds"] == "Nobody looked at the CCTV."
    assert complaint.final_on(judged_at) is None


@pytest.mark.parametrize(("actor", "supervisor"), [(INVESTIGATOR, False), (SUPERVISOR, True)])
def test_rule_18_a_review_received_on_the_29th_day_is_out_of_time(
    actor: object, supervisor: bool
) -> None:
    complaint = notified()
    error = assert_refused(
        complaint,
        attempt(
            complaint,
            review_command(received_at=FIRST_MOMENT_LATE),
            actor=actor,  # type: ignore[arg-type]
            supervisor=supervisor,
            now=LONG_AFTER,
        ),
        ReviewOutOfTimeError,
        "review-out-of-time",
    )
    assert DEADLINE.isoformat() in error.detail


def test_rule_18_a_supervisor_accepts_a_late_review_of_a_finalised_outcome() -> None:
    # Given an outcome whose review deadline has long passed: finalised, with no event
    complaint = notified()
    assert complaint.status_at(LONG_AFTER) is Status.FINALISED

    # When a supervisor accepts a late review request, giving the reason
    event = act(
        complaint,
        review_command(late_reason="The complainant was in hospital."),
        now=LONG_AFTER,
    )

    # Then it is under review again, and no longer final
    assert isinstance(event, ReviewRequested)
    assert event.late_reason == "The complainant was in hospital."
    assert event.received_at == LONG_AFTER
    assert complaint.status_at(LONG_AFTER) is Status.UNDER_REVIEW
    assert complaint.final_on(LONG_AFTER) is None
    # And its decision ends it on the day decided
    decided_at = LONG_AFTER + timedelta(days=3)
    act(complaint, review_decision_command(True), now=decided_at)
    assert complaint.status_at(decided_at) is Status.FINALISED
    assert complaint.final_on(decided_at) == decided_at.date()


@pytest.mark.parametrize("received_at", [NOW, FIRST_MOMENT_LATE], ids=["in-time", "late"])
def test_rule_18_a_late_reason_only_from_a_supervisor(received_at: datetime) -> None:
    complaint = notified()
    assert_refused(
        complaint,
        attempt(
            complaint,
            review_command(received_at=received_at, late_reason="Post was slow."),
            actor=INVESTIGATOR,
            supervisor=False,
            now=LONG_AFTER,
        ),
        SupervisorRequiredError,
        "supervisor-required",
    )


@pytest.mark.parametrize(
    "received_at",
    [NOW - timedelta(seconds=1), LONG_AFTER + timedelta(seconds=1)],
    ids=["before-the-notification", "in-the-future"],
)
def test_rule_18_a_review_is_received_after_the_notification_and_not_in_the_future(
    received_at: datetime,
) -> None:
    complaint = notified()
    error = assert_refused(
        complaint,
        attempt(complaint, review_command(received_at=received_at), now=LONG_AFTER),
        StatutoryDateError,
        "date-invalid",
    )
    assert [problem.field for problem in error.fields] == ["received_at"]


@pytest.mark.parametrize("start", [recorded, under_review, reopened])
def test_rule_18_a_review_is_requested_of_a_notified_outcome_only(
    start: Callable[[], Complaint],
) -> None:
    complaint = start()
    assert_refused(
        complaint, attempt(complaint, review_command()), OutcomeStateError, "outcome-state"
    )


@pytest.mark.parametrize("start", [recorded, notified, finalised_by_review])
def test_rule_18_a_review_decision_needs_a_review_requested(
    start: Callable[[], Complaint],
) -> None:
    complaint = start()
    error_class = (
        ComplaintClosedError if complaint.status is Status.FINALISED else OutcomeStateError
    )
    assert_refused(
        complaint,
        attempt(complaint, review_decision_command()),
        error_class,
        error_class.rule,
    )


def test_rule_18_a_review_not_upholding_the_outcome_reopens_the_complaint() -> None:
    complaint = under_review()
    event = act(
        complaint,
        review_decision_command(False, recommendations=["Interview the witness."]),
        now=NOW + timedelta(days=10),
    )
    assert isinstance(event, ReviewDecided)
    assert complaint.status is Status.RECORDED
    assert complaint.final_at is None
    assert complaint.review is not None
    assert complaint.review["reasonable_and_proportionate"] is False
    assert complaint.review["recommendations"] == ["Interview the witness."]
    assert complaint.reviews == [complaint.review]


def test_rule_18_finalised_is_derived_the_day_after_the_deadline() -> None:
    complaint = notified()

    assert complaint.status_at(LAST_MOMENT_IN_TIME) is Status.OUTCOME_NOTIFIED
    assert complaint.final_on(LAST_MOMENT_IN_TIME) is None
    assert complaint.status_at(FIRST_MOMENT_LATE) is Status.FINALISED
    assert complaint.final_on(FIRST_MOMENT_LATE) == FINAL_ON == DEADLINE + timedelta(days=1)
    assert complaint.final_on(LONG_AFTER) == FINAL_ON
    # No event: the stored status is unchanged
    assert complaint.status is Status.OUTCOME_NOTIFIED
    assert complaint.collect_events() == []


def test_rule_18_in_summer_time_the_notification_counts_on_its_london_date() -> None:
    # Given an outcome notified at 23:30 UTC on 10 June, which is 11 June in London
    notified_at = datetime(2026, 6, 10, 23, 30, tzinfo=UTC)
    complaint = recorded([], data=summer_complaint(), now=notified_at)
    event = act(complaint, outcome_command(), now=notified_at)

    # Then the deadline is 28 days after 11 June, the London day
    assert isinstance(event, OutcomeNotified)
    assert event.review_deadline == date(2026, 7, 9)
    # Which ends at midnight London time (23:00 UTC)
    assert complaint.status_at(datetime(2026, 7, 9, 22, 59, tzinfo=UTC)) is Status.OUTCOME_NOTIFIED
    assert complaint.status_at(datetime(2026, 7, 9, 23, 0, tzinfo=UTC)) is Status.FINALISED
    assert complaint.final_on(datetime(2026, 7, 9, 23, 0, tzinfo=UTC)) == date(2026, 7, 10)
    # And a review received at 23:30 UTC on 9 July (10 July in London) is late
    late = datetime(2026, 7, 9, 23, 30, tzinfo=UTC)
    assert_refused(
        complaint,
        attempt(complaint, review_command(received_at=late), now=late),
        ReviewOutOfTimeError,
        "review-out-of-time",
    )


@pytest.mark.parametrize("command", list(every_command(LONG_AFTER)))
def test_rule_18_a_derived_finalised_complaint_takes_only_a_late_review(command: str) -> None:
    complaint = notified()
    if command == "review":
        act(complaint, every_command(LONG_AFTER)[command], now=LONG_AFTER)
        assert complaint.status is Status.UNDER_REVIEW
        return
    assert_refused(
        complaint,
        attempt(complaint, every_command(LONG_AFTER)[command], now=LONG_AFTER),
        ComplaintClosedError,
        "complaint-closed",
    )


@pytest.mark.parametrize("command", list(every_command(LONG_AFTER)))
def test_a_complaint_finalised_by_its_review_takes_nothing_more(command: str) -> None:
    complaint = finalised_by_review()
    error = assert_refused(
        complaint,
        attempt(complaint, every_command(LONG_AFTER)[command], now=LONG_AFTER),
        ComplaintClosedError,
        "complaint-closed",
    )
    assert "finalised" in error.detail


@pytest.mark.parametrize("final", ["derived", "by_review", "withdrawn"])
def test_a_final_statutory_complaint_still_takes_the_records_managers_commands(
    final: str,
) -> None:
    complaint = {"derived": notified, "by_review": finalised_by_review, "withdrawn": withdrawn}[
        final
    ]()
    for command in (retention_command(LONG_AFTER), restrict_command(), lift_command()):
        act(complaint, command, now=LONG_AFTER)
    assert len(complaint.retention_reviews) == 1
    assert complaint.restricted is None


def test_before_its_deadline_a_notified_outcome_is_not_final_for_the_records_manager() -> None:
    complaint = notified()
    assert_refused(
        complaint,
        attempt(complaint, retention_command(LAST_MOMENT_IN_TIME), now=LAST_MOMENT_IN_TIME),
        NotFinalError,
        "not-final",
    )
