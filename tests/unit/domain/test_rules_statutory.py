"""docs/DOMAIN.md part B, rules 12 to 14: allegations, the handling decision, and who must be
recorded under Schedule 3.

Each refusal is checked for its exact error class and rule slug, and for leaving the complaint
exactly as it was (no pending event, same version, same state); see `builders.assert_refused`.
Rules 15 and 16 and the status machine are in `test_rules_statutory_outcome.py`, 17 and 18 in
`test_rules_statutory_review.py`, 19 and 20 in `test_rules_statutory_withdrawal.py`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from domain.complaint import Complaint
from domain.errors import (
    AllegationIncompleteError,
    ComplaintClosedError,
    ContactRequiredError,
    HandlingAlreadyDecidedError,
    MustRecordError,
    NotAssignedInvestigatorError,
)
from domain.statutory_events import AllegationAdded, HandlingDecided
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
    ALL_FLAGS,
    CLOSED_BUILDERS,
    LATER,
    OPEN_BUILDERS,
    act,
    allegation_command,
    attempt,
    contact_command,
    contacted,
    handling_command,
    recorded,
    resolve_by_investigator,
)

# ---- Rule 12: allegations on any open complaint, each with a category and a description -------


@pytest.mark.parametrize("status", list(OPEN_BUILDERS))
def test_rule_12_an_allegation_may_be_added_to_any_open_complaint(status: str) -> None:
    # Given an open complaint
    complaint = OPEN_BUILDERS[status]()
    assert complaint.status.value == status
    before = len(complaint.allegations)

    # When an allegation is added
    event = act(complaint, allegation_command(category="discriminatory_behaviour"), now=LATER)

    # Then it is numbered within the complaint and the status is unchanged
    assert isinstance(event, AllegationAdded)
    assert event.allegation_id == f"A{before + 1}"
    assert complaint.status.value == status
    assert complaint.allegations[-1]["category"] == "discriminatory_behaviour"


def test_rule_12_allegations_are_numbered_and_their_flags_kept_sorted_once() -> None:
    complaint = lodge()

    first = act(complaint, allegation_command(subcategory="Rudeness"))
    second = act(
        complaint, allegation_command("misconduct", "criminal_offence", "misconduct"), now=LATER
    )

    assert isinstance(first, AllegationAdded)
    assert isinstance(second, AllegationAdded)
    assert (first.allegation_id, second.allegation_id) == ("A1", "A2")
    assert second.flags == ["criminal_offence", "misconduct"]
    assert complaint.allegations[0] == {
        "allegation_id": "A1",
        "category": "individual_behaviours",
        "subcategory": "Rudeness",
        "description": "The officer shouted at me.",
        "flags": [],
        "added_at": NOW,
        "by": SUPERVISOR.model_dump(),
    }
    assert complaint.allegations[1]["added_at"] == LATER
    assert complaint.version == 3


@pytest.mark.parametrize(
    ("changes", "fields"),
    [
        ({"category": None}, ("category",)),
        ({"description": None}, ("description",)),
        ({"description": "   "}, ("description",)),
        ({"category": None, "description": ""}, ("category", "description")),
    ],
    ids=["no-category", "no-description", "blank-description", "neither"],
)
def test_rule_12_an_allegation_needs_a_category_and_a_description(
    changes: dict[str, str | None], fields: tuple[str, ...]
) -> None:
    complaint = recorded()
    error = assert_refused(
        complaint,
        attempt(complaint, allegation_command(**changes)),  # type: ignore[arg-type]
        AllegationIncompleteError,
        "allegation-incomplete",
    )
    assert tuple(problem.field for problem in error.fields) == fields
    assert complaint.allegations == []


@pytest.mark.parametrize("closed", list(CLOSED_BUILDERS))
def test_rule_12_no_allegation_on_a_final_complaint(closed: str) -> None:
    complaint = CLOSED_BUILDERS[closed]()
    assert_refused(
        complaint,
        attempt(complaint, allegation_command()),
        ComplaintClosedError,
        "complaint-closed",
    )


# ---- Rule 13: a handling decision needs a recorded contact ---------------------------------------


@pytest.mark.parametrize("mode", ["schedule_3", "outside_schedule_3"])
@pytest.mark.parametrize("start", [lodge, assigned], ids=["lodged", "assigned"])
def test_rule_13_no_handling_decision_before_contact(
    mode: str, start: Callable[[], Complaint]
) -> None:
    complaint = start()
    assert_refused(
        complaint,
        attempt(complaint, handling_command(mode)),
        ContactRequiredError,
        "contact-required",
    )


def test_rule_13_only_the_investigator_or_a_supervisor_decides_the_handling() -> None:
    complaint = contacted()
    assert_refused(
        complaint,
        attempt(complaint, handling_command(), actor=OTHER_CASEWORKER, supervisor=False),
        NotAssignedInvestigatorError,
        "not-assigned-investigator",
    )


def test_rule_13_after_contact_the_investigator_records_the_complaint() -> None:
    # Given a complaint in contact
    complaint = contacted()

    # When the investigator records it under Schedule 3
    event = act(complaint, handling_command(), actor=INVESTIGATOR, supervisor=False, now=LATER)

    # Then it is recorded, and progress updates fall due from the recording
    assert isinstance(event, HandlingDecided)
    assert (event.mode, event.reason) == ("schedule_3", "The complainant's views were sought.")
    assert complaint.status is Status.RECORDED
    assert complaint.handling == {
        "mode": "schedule_3",
        "reason": "The complainant's views were sought.",
        "decided_at": LATER,
        "by": INVESTIGATOR.model_dump(),
    }
    assert complaint.recorded_at == LATER
    assert complaint.handling_mode == "schedule_3"
    assert complaint.next_update_due() == LATER.date() + timedelta(days=28)


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("schedule_3", "schedule_3"),
        ("schedule_3", "outside_schedule_3"),
        ("outside_schedule_3", "outside_schedule_3"),
    ],
)
def test_a_handling_decision_is_not_taken_twice_nor_undone(first: str, second: str) -> None:
    complaint = contacted()
    act(complaint, handling_command(first))
    assert_refused(
        complaint,
        attempt(complaint, handling_command(second)),
        HandlingAlreadyDecidedError,
        "handling-already-decided",
    )


# ---- Rule 14: who must be recorded cannot be handled outside Schedule 3 nor resolved -------------


def test_rule_14_outside_schedule_3_refused_when_the_complainant_asked_for_recording() -> None:
    complaint = contacted(wants_recording=True)
    error = assert_refused(
        complaint,
        attempt(complaint, handling_command("outside_schedule_3")),
        MustRecordError,
        "must-record",
    )
    assert "record it under Schedule 3" in error.detail


@pytest.mark.parametrize("flag", ALL_FLAGS)
def test_rule_14_outside_schedule_3_refused_when_an_allegation_is_flagged(flag: str) -> None:
    complaint = contacted()
    act(complaint, allegation_command())
    act(complaint, allegation_command(flag))
    error = assert_refused(
        complaint,
        attempt(complaint, handling_command("outside_schedule_3")),
        MustRecordError,
        "must-record",
    )
    assert flag in error.detail


def test_rule_14_a_complaint_nothing_obliges_may_be_handled_outside_and_resolved() -> None:
    # Given a complaint in contact, not wanting recording, with an unflagged allegation
    complaint = contacted(wants_recording=False)
    act(complaint, allegation_command())

    # When it is handled outside Schedule 3, then resolved
    act(complaint, handling_command("outside_schedule_3"))
    assert complaint.status is Status.IN_CONTACT
    assert complaint.handling_mode == "outside_schedule_3"
    assert complaint.next_update_due() is None
    resolve_by_investigator(complaint)()

    # Then it is resolved as in part A
    assert complaint.status is Status.RESOLVED


def test_rule_14_a_later_contact_saying_no_does_not_undo_a_request_for_recording() -> None:
    complaint = contacted(wants_recording=True)
    act(complaint, contact_command(wants_recording=False), now=LATER)
    assert complaint.wants_recording is True
    assert_refused(
        complaint,
        attempt(complaint, handling_command("outside_schedule_3"), now=LATER),
        MustRecordError,
        "must-record",
    )


@pytest.mark.parametrize("handled_outside_first", [False, True], ids=["no-decision", "outside"])
@pytest.mark.parametrize("trigger", ["wants_recording", "flagged_allegation"])
def test_rule_14_resolve_is_refused_in_the_same_cases(
    trigger: str, handled_outside_first: bool
) -> None:
    # Given a complaint in contact, perhaps handled outside Schedule 3 while nothing obliged it
    complaint = contacted()
    if handled_outside_first:
        act(complaint, handling_command("outside_schedule_3"))

    # When the complainant then asks for recording, or a flagged allegation is added
    if trigger == "wants_recording":
        act(complaint, contact_command(wants_recording=True), actor=INVESTIGATOR, supervisor=False)
    else:
        act(complaint, allegation_command("misconduct"))

    # Then it cannot be resolved: it must be recorded
    assert_refused(complaint, resolve_by_investigator(complaint), MustRecordError, "must-record")


def test_rule_14_a_complaint_handled_outside_may_later_be_recorded() -> None:
    complaint = contacted()
    act(complaint, handling_command("outside_schedule_3"))
    act(complaint, allegation_command("serious_assault"), now=LATER)

    event = act(complaint, handling_command("schedule_3", reason="Now flagged."), now=LATER)

    assert isinstance(event, HandlingDecided)
    assert complaint.status is Status.RECORDED
    assert complaint.handling is not None
    assert (complaint.handling["mode"], complaint.handling["decided_at"]) == ("schedule_3", LATER)
    assert complaint.recorded_at == LATER


def test_rule_14_a_complaint_without_a_handling_decision_resolves_as_in_part_a() -> None:
    complaint = contacted()
    act(complaint, allegation_command())
    resolve_by_investigator(complaint)()
    assert complaint.status is Status.RESOLVED
    assert complaint.handling is None
