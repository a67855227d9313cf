"""docs/DOMAIN.md part B, rules 15 and 16 (referral to the IOPC, the notified outcome) and the
statutory process's status machine: recorded, notified, reviewed, reopened, finalised, withdrawn.

Each refusal is checked for its exact error class and rule slug, and for leaving the complaint
exactly as it was (no pending event, same version, same state); see `builders.assert_refused`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from domain.complaint import Complaint
from domain.errors import (
    NotAssignedInvestigatorError,
    NotOutsideSchedule3Error,
    NotRecordedError,
    NotRedirectableError,
    OutcomeIncompleteError,
    OutcomeStateError,
    ReferralGroundsError,
    ReferralRequiredError,
    ReferralStateError,
)
from domain.statutory_events import (
    ComplaintWithdrawn,
    IopcDetermined,
    OutcomeNotified,
    ReferredToIopc,
)
from domain.values import Status
from tests.unit.domain.builders import (
    INVESTIGATOR,
    NOW,
    OTHER_CASEWORKER,
    SUPERVISOR,
    assert_refused,
    assign_command,
    lodge,
    redirect_command,
    resolve_command,
)
from tests.unit.domain.statutory_builders import (
    DEADLINE,
    FINAL_ON,
    LATER,
    MANDATORY,
    NOT_MANDATORY,
    OPEN_BUILDERS,
    act,
    allegation_command,
    attempt,
    contact_command,
    contacted,
    determination_command,
    handling_command,
    notified,
    outcome_command,
    recorded,
    referral_command,
    reopened,
    resolve_by_investigator,
    review_command,
    review_decision_command,
    under_review,
    update_command,
    withdraw_command,
)

# ---- Rule 15: referral to the IOPC before an outcome, and its determination first ---------------


@pytest.mark.parametrize("flag", MANDATORY)
def test_rule_15_a_mandatory_flag_needs_referral_and_determination_before_the_outcome(
    flag: str,
) -> None:
    # Given a recorded complaint with an allegation so flagged
    complaint = recorded([flag])

    # Then no outcome until it is referred
    assert_refused(
        complaint, attempt(complaint, outcome_command()), ReferralRequiredError, "referral-required"
    )
    # When referred, the grounds are the flags that made it mandatory
    referral = act(complaint, referral_command())
    assert isinstance(referral, ReferredToIopc)
    assert referral.grounds == [flag]
    assert complaint.status is Status.RECORDED
    # Then still no outcome until the IOPC's determination arrives
    assert_refused(
        complaint, attempt(complaint, outcome_command()), ReferralRequiredError, "referral-required"
    )
    determination = act(complaint, determination_command("returned_to_force"), now=LATER)
    assert isinstance(determination, IopcDetermined)
    assert complaint.iopc == {
        "referred_at": NOW,
        "grounds": [flag],
        "reference": "2026/012345",
        "determination": "returned_to_force",
        "determined_at": LATER,
    }
    # And then the outcome, reviewed by the IOPC
    outcome = act(complaint, outcome_command(), now=LATER)
    assert isinstance(outcome, OutcomeNotified)
    assert outcome.review_body == "iopc"
    assert complaint.status is Status.OUTCOME_NOTIFIED


@pytest.mark.parametrize("flag", NOT_MANDATORY)
def test_rule_15_other_flags_oblige_no_referral_but_make_the_iopc_the_review_body(
    flag: str,
) -> None:
    complaint = recorded([flag])
    outcome = act(complaint, outcome_command())
    assert isinstance(outcome, OutcomeNotified)
    assert outcome.review_body == "iopc"
    assert complaint.iopc is None
    assert complaint.review is not None
    assert complaint.review["body"] == "iopc"


def test_rule_15_a_voluntary_referral_also_waits_for_the_determination() -> None:
    # Given a recorded complaint with nothing that obliges referral, referred voluntarily
    complaint = recorded([])
    referral = act(complaint, referral_command(iopc_reference=None))
    assert isinstance(referral, ReferredToIopc)
    assert referral.grounds == ["voluntary"]

    # Then no outcome until the determination, which may bring the IOPC's reference
    assert_refused(
        complaint, attempt(complaint, outcome_command()), ReferralRequiredError, "referral-required"
    )
    act(complaint, determination_command(iopc_reference="2026/999"))
    assert complaint.iopc is not None
    assert complaint.iopc["reference"] == "2026/999"
    outcome = act(complaint, outcome_command())
    assert isinstance(outcome, OutcomeNotified)
    assert outcome.review_body == "iopc"


@pytest.mark.parametrize(
    ("flags", "grounds", "recorded_grounds"),
    [
        (["discrimination", "criminal_offence"], None, ["discrimination"]),
        (["criminal_offence"], None, ["voluntary"]),
        (["criminal_offence"], ["criminal_offence"], ["criminal_offence"]),
        (
            ["discrimination", "misconduct"],
            ["misconduct", "discrimination"],
            ["discrimination", "misconduct"],
        ),
        (["discrimination"], ["voluntary"], ["voluntary"]),
    ],
)
def test_referral_grounds_are_flags_carried_or_voluntary(
    flags: list[str], grounds: list[str] | None, recorded_grounds: list[str]
) -> None:
    complaint = recorded(flags)
    referral = act(complaint, referral_command(grounds))
    assert isinstance(referral, ReferredToIopc)
    assert referral.grounds == recorded_grounds


@pytest.mark.parametrize(
    "grounds",
    [["serious_assault"], ["no_such_flag"], ["voluntary", "discrimination"]],
    ids=["not-carried", "unknown", "voluntary-and-a-flag"],
)
def test_referral_grounds_not_carried_by_the_allegations_are_refused(grounds: list[str]) -> None:
    complaint = recorded(["discrimination"])
    error = assert_refused(
        complaint,
        attempt(complaint, referral_command(grounds)),
        ReferralGroundsError,
        "referral-grounds-invalid",
    )
    assert [problem.field for problem in error.fields] == ["grounds"]


@pytest.mark.parametrize("start", [lodge, contacted], ids=["lodged", "in_contact"])
def test_only_a_recorded_complaint_is_referred(start: Callable[[], Complaint]) -> None:
    complaint = start()
    act(complaint, allegation_command("serious_assault"))
    assert_refused(
        complaint, attempt(complaint, referral_command()), NotRecordedError, "not-recorded"
    )


def test_a_complaint_is_referred_once_and_determined_once() -> None:
    complaint = recorded(["serious_assault"])
    assert_refused(
        complaint,
        attempt(complaint, determination_command()),
        ReferralStateError,
        "referral-state",
    )
    act(complaint, referral_command())
    assert_refused(
        complaint, attempt(complaint, referral_command()), ReferralStateError, "referral-state"
    )
    act(complaint, determination_command())
    assert_refused(
        complaint,
        attempt(complaint, determination_command("independent_investigation")),
        ReferralStateError,
        "referral-state",
    )


# ---- Rule 16: a recorded complaint ends by OutcomeNotified, one outcome per allegation ----------


@pytest.mark.parametrize("start", [recorded, notified, under_review, reopened])
def test_rule_16_resolve_is_refused_once_recorded(start: Callable[[], Complaint]) -> None:
    complaint = start()
    assert_refused(
        complaint,
        resolve_by_investigator(complaint),
        NotOutsideSchedule3Error,
        "not-outside-schedule-3",
    )


def test_rule_16_resolving_a_recorded_complaint_is_refused_for_a_supervisor_too() -> None:
    complaint = recorded([])
    assert_refused(
        complaint,
        lambda: complaint.resolve(resolve_command(), actor=SUPERVISOR, supervisor=True, now=NOW),
        NotOutsideSchedule3Error,
        "not-outside-schedule-3",
    )


@pytest.mark.parametrize("handled_outside", [False, True], ids=["no-decision", "outside"])
def test_rule_16_an_outcome_is_notified_only_for_a_recorded_complaint(
    handled_outside: bool,
) -> None:
    complaint = contacted()
    act(complaint, allegation_command())
    if handled_outside:
        act(complaint, handling_command("outside_schedule_3"))
    assert_refused(
        complaint, attempt(complaint, outcome_command()), NotRecordedError, "not-recorded"
    )


@pytest.mark.parametrize(
    ("allegations", "results", "messages"),
    [
        ([], [], ["the complaint has no allegations"]),
        ([], [("A1", "upheld")], ["the complaint has no allegations", "A1 is not an"]),
        ([[], []], [("A1", "upheld")], ["no outcome for A2"]),
        ([[]], [], ["no outcome for A1"]),
        ([[]], [("A1", "upheld"), ("A9", "upheld")], ["A9 is not an allegation"]),
        ([[]], [("A1", "upheld"), ("A1", "not_upheld")], ["A1 is given more than one"]),
    ],
    ids=["no-allegations", "none-but-named", "missing", "empty", "unknown", "duplicated"],
)
def test_rule_16_an_outcome_needs_allegations_and_exactly_one_outcome_for_each(
    allegations: list[list[str]], results: list[tuple[str, str]], messages: list[str]
) -> None:
    complaint = recorded(*allegations)
    error = assert_refused(
        complaint,
        attempt(complaint, outcome_command(results)),
        OutcomeIncompleteError,
        "outcome-incomplete",
    )
    assert [problem.field for problem in error.fields] == ["allegations"] * len(messages)
    for problem, message in zip(error.fields, messages, strict=True):
        assert problem.message.startswith(message)


def test_rule_16_the_outcome_is_notified_per_allegation_with_its_review() -> None:
    # Given a recorded complaint with two allegations
    complaint = recorded([], [])
    learning = [{"theme": "communication", "note": "Explain the stop first."}]

    # When the investigator notifies the outcome, giving the allegations in any order
    event = act(
        complaint,
        outcome_command(
            [("A2", "upheld"), ("A1", "no_further_action")],
            actions=["learning", "apology", "learning"],
            learning=learning,
        ),
        actor=INVESTIGATOR,
        supervisor=False,
        now=LATER,
    )

    # Then the outcomes follow the allegations' order, and a review is open to the local body
    assert isinstance(event, OutcomeNotified)
    assert event.allegations == [
        {"allegation_id": "A1", "outcome": "no_further_action"},
        {"allegation_id": "A2", "outcome": "upheld"},
    ]
    assert event.actions == ["apology", "learning"]
    assert event.review_body == "local_policing_body"
    assert event.review_deadline == LATER.date() + timedelta(days=28)
    assert complaint.status is Status.OUTCOME_NOTIFIED
    assert complaint.outcome is not None
    assert complaint.outcome["learning"] == learning
    assert complaint.outcome["notified_at"] == LATER
    assert complaint.outcome["by"] == INVESTIGATOR.model_dump()
    assert complaint.next_update_due() is None


def test_rule_16_another_caseworker_cannot_notify_the_outcome() -> None:
    complaint = recorded([])
    assert_refused(
        complaint,
        attempt(complaint, outcome_command(), actor=OTHER_CASEWORKER, supervisor=False),
        NotAssignedInvestigatorError,
        "not-assigned-investigator",
    )


@pytest.mark.parametrize("start", [notified, under_review])
def test_an_outcome_is_notified_once_until_reopened(start: Callable[[], Complaint]) -> None:
    complaint = start()
    assert_refused(
        complaint, attempt(complaint, outcome_command()), OutcomeStateError, "outcome-state"
    )


# ---- The statutory status machine ----------------------------------------------------------------


def test_the_recorded_path_through_review_and_reopening_to_finalised() -> None:
    # Given a complaint lodged, assigned and contacted
    complaint = lodge()
    seen = [complaint.status]
    complaint.assign_investigator(assign_command(), actor=SUPERVISOR, now=NOW)
    seen.append(complaint.status)
    complaint.decide(
        contact_command(wants_recording=True), actor=INVESTIGATOR, supervisor=False, now=NOW
    )
    seen.append(complaint.status)

    # When it is recorded, worked, notified, reviewed, reopened and notified again
    steps = [
        allegation_command(),
        handling_command(),
        update_command(),
        contact_command(),
        outcome_command(),
        review_command(),
        review_decision_command(False, recommendations=["Look at the CCTV."]),
        allegation_command(),
        update_command(),
        outcome_command([("A1", "upheld"), ("A2", "not_upheld")]),
    ]
    for step in steps:
        complaint.decide(step, actor=SUPERVISOR, supervisor=True, now=NOW)
        seen.append(complaint.status)

    # Then the statuses follow DOMAIN.md, the second outcome being finalised by its deadline
    assert seen == [
        Status.LODGED,
        Status.ASSIGNED,
        Status.IN_CONTACT,
        Status.IN_CONTACT,  # an allegation changes no status
        Status.RECORDED,
        Status.RECORDED,  # nor an update
        Status.RECORDED,  # nor a further contact
        Status.OUTCOME_NOTIFIED,
        Status.UNDER_REVIEW,
        Status.RECORDED,  # reopened
        Status.RECORDED,
        Status.RECORDED,
        Status.OUTCOME_NOTIFIED,
    ]
    assert complaint.status_at(NOW) is Status.OUTCOME_NOTIFIED
    assert complaint.status_at(NOW + timedelta(days=29)) is Status.FINALISED
    assert complaint.final_on(NOW + timedelta(days=29)) == FINAL_ON
    assert [type(event).__name__ for event in complaint.collect_events()] == [
        "InvestigatorAssigned",
        "ComplainantContacted",
        "AllegationAdded",
        "HandlingDecided",
        "ProgressUpdateSent",
        "ComplainantContacted",
        "OutcomeNotified",
        "ReviewRequested",
        "ReviewDecided",
        "AllegationAdded",
        "ProgressUpdateSent",
        "OutcomeNotified",
    ]
    assert complaint.version == 13
    # The first review is kept; the second outcome has a review of its own, not yet requested
    assert [review["reasonable_and_proportionate"] for review in complaint.reviews] == [False]
    assert complaint.review is not None
    assert complaint.review["deadline"] == DEADLINE
    assert complaint.review["requested_at"] is None


def test_a_review_finding_the_outcome_reasonable_finalises_the_complaint() -> None:
    complaint = under_review()
    act(complaint, review_decision_command(True), now=LATER)
    assert complaint.status is Status.FINALISED
    assert not complaint.status.is_open
    assert complaint.final_at == LATER
    assert complaint.final_on(LATER + timedelta(days=100)) == LATER.date()


@pytest.mark.parametrize("start", list(OPEN_BUILDERS))
def test_the_withdrawn_path_from_any_open_status(start: str) -> None:
    complaint = OPEN_BUILDERS[start]()
    event = act(complaint, withdraw_command(), now=LATER)
    assert isinstance(event, ComplaintWithdrawn)
    assert complaint.status is Status.WITHDRAWN
    assert complaint.final_at == LATER


@pytest.mark.parametrize("start", [notified, under_review])
def test_redirection_ends_with_the_outcome_notified(start: Callable[[], Complaint]) -> None:
    complaint = start()
    assert_refused(
        complaint,
        lambda: complaint.redirect_to(redirect_command(), actor=SUPERVISOR, now=NOW),
        NotRedirectableError,
        "not-redirectable",
    )


@pytest.mark.parametrize("start", [recorded, reopened])
def test_a_recorded_complaint_may_still_be_redirected(start: Callable[[], Complaint]) -> None:
    complaint = start()
    complaint.redirect_to(redirect_command(), actor=SUPERVISOR, now=LATER)
    assert complaint.status is Status.REDIRECTED
