"""docs/DOMAIN.md rules 7 and 8 (redirecting and assigning), on the `Complaint` aggregate.

Each refusal is checked for its exact error class and rule slug, and for leaving the complaint
exactly as it was (no pending event, same version, same state).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from domain.complaint import Complaint
from domain.errors import (
    AlreadyAssignedError,
    CaseStateError,
    ComplaintClosedError,
    ComplaintContentError,
    ContactBeforeAssignmentError,
    ContactDateError,
    ForceNameRequiredError,
    MustRedirectError,
    OccurredAtError,
    ReassignmentReasonRequiredError,
    RedirectDestinationNotAllowedError,
    ResolutionWithoutContactError,
)
from domain.values import Status
from tests.unit.domain.builders import (
    INVESTIGATOR,
    NOW,
    OTHER_CASEWORKER,
    OTHER_INVESTIGATOR,
    SUPERVISOR,
    assert_refused,
    assign_command,
    assigned,
    body,
    in_contact,
    lodge,
    redirect_command,
    redirected,
    resolved,
    subject,
)

COMMISSIONER = body(subject=subject("commissioner"), behaviours=[])
OTHER_FORCE = body(subject=subject("other_force", force_name="Kent Police"))


def test_state_errors_are_all_case_state_errors() -> None:
    # The API maps the base class to 409, so every rule 7-11 error must derive from it.
    for error in (
        MustRedirectError,
        RedirectDestinationNotAllowedError,
        ReassignmentReasonRequiredError,
        AlreadyAssignedError,
        ContactBeforeAssignmentError,
        ContactDateError,
        OccurredAtError,
        ResolutionWithoutContactError,
        ComplaintClosedError,
    ):
        assert issubclass(error, CaseStateError)
        assert not issubclass(error, ComplaintContentError)


# ---- Rule 7: the Commissioner's complaints go to MOPAC, another force's to it or the IOPC -------


def test_rule_7_a_complaint_about_the_commissioner_cannot_be_assigned() -> None:
    complaint = lodge(COMMISSIONER)
    error = assert_refused(
        complaint,
        lambda: complaint.assign_investigator(assign_command(), actor=SUPERVISOR, now=NOW),
        MustRedirectError,
        "must-redirect",
    )
    assert "MOPAC" in error.detail


@pytest.mark.parametrize(("destination", "force_name"), [("iopc", None), ("other_force", "Kent")])
def test_rule_7_the_commissioners_complaint_goes_nowhere_but_mopac(
    destination: str, force_name: str | None
) -> None:
    complaint = lodge(COMMISSIONER)
    assert_refused(
        complaint,
        lambda: complaint.redirect_to(
            redirect_command(destination, force_name=force_name), actor=SUPERVISOR, now=NOW
        ),
        RedirectDestinationNotAllowedError,
        "redirect-destination-not-allowed",
    )


def test_rule_7_the_commissioners_complaint_is_redirected_to_mopac() -> None:
    complaint = lodge(COMMISSIONER)

    complaint.redirect_to(
        redirect_command("mopac", reason="MOPAC is the appropriate authority."),
        actor=SUPERVISOR,
        now=NOW,
    )

    (event,) = complaint.collect_events()
    assert isinstance(event, Complaint.Redirected)
    assert (event.destination, event.force_name) == ("mopac", None)
    assert complaint.status is Status.REDIRECTED
    assert complaint.version == 2
    assert complaint.redirect == {
        "destination": "mopac",
        "force_name": None,
        "reason": "MOPAC is the appropriate authority.",
        "redirected_at": NOW,
        "by": {"id": "sup-1", "name": "DI Grace Hopper"},
    }


def test_rule_7_a_complaint_about_another_force_cannot_be_assigned() -> None:
    complaint = lodge(OTHER_FORCE)
    assert_refused(
        complaint,
        lambda: complaint.assign_investigator(assign_command(), actor=SUPERVISOR, now=NOW),
        MustRedirectError,
        "must-redirect",
    )


def test_rule_7_another_forces_complaint_does_not_go_to_mopac() -> None:
    complaint = lodge(OTHER_FORCE)
    assert_refused(
        complaint,
        lambda: complaint.redirect_to(redirect_command("mopac"), actor=SUPERVISOR, now=NOW),
        RedirectDestinationNotAllowedError,
        "redirect-destination-not-allowed",
    )


def test_rule_7_a_redirect_to_another_force_names_the_force() -> None:
    complaint = lodge(OTHER_FORCE)
    error = assert_refused(
        complaint,
        lambda: complaint.redirect_to(redirect_command("other_force"), actor=SUPERVISOR, now=NOW),
        ForceNameRequiredError,
        "force-name-required",
    )
    assert [problem.field for problem in error.fields] == ["force_name"]

    complaint.redirect_to(
        redirect_command("other_force", force_name="Kent Police"), actor=SUPERVISOR, now=NOW
    )
    assert complaint.status is Status.REDIRECTED
    assert complaint.redirect is not None
    assert complaint.redirect["force_name"] == "Kent Police"


def test_rule_7_another_forces_complaint_goes_to_that_force_not_another() -> None:
    # Given a complaint about Kent Police
    complaint = lodge(OTHER_FORCE)
    # When it is redirected to a different force, it is refused
    assert_refused(
        complaint,
        lambda: complaint.redirect_to(
            redirect_command("other_force", force_name="Surrey Police"), actor=SUPERVISOR, now=NOW
        ),
        RedirectDestinationNotAllowedError,
        "redirect-destination-not-allowed",
    )
    # Then the same force, however spaced or cased, is accepted
    complaint.redirect_to(
        redirect_command("other_force", force_name="  kent   POLICE "), actor=SUPERVISOR, now=NOW
    )
    assert complaint.status is Status.REDIRECTED


def test_rule_7_another_forces_complaint_may_go_to_the_iopc() -> None:
    complaint = lodge(OTHER_FORCE)
    complaint.redirect_to(redirect_command("iopc"), actor=SUPERVISOR, now=NOW)
    assert complaint.status is Status.REDIRECTED
    assert complaint.redirect is not None
    assert complaint.redirect["destination"] == "iopc"


@pytest.mark.parametrize("start", [lodge, assigned, in_contact])
@pytest.mark.parametrize(
    ("destination", "force_name"), [("mopac", None), ("iopc", None), ("other_force", "Kent")]
)
def test_rule_7_any_open_complaint_may_be_redirected_with_a_reason(
    start: Callable[[], Complaint], destination: str, force_name: str | None
) -> None:
    complaint = start()
    version = complaint.version

    complaint.redirect_to(
        redirect_command(destination, force_name=force_name, reason="Wrong force."),
        actor=OTHER_CASEWORKER,
        now=NOW,
    )

    assert complaint.status is Status.REDIRECTED
    assert complaint.version == version + 1
    assert complaint.redirect is not None
    assert complaint.redirect["destination"] == destination
    assert complaint.redirect["reason"] == "Wrong force."


# ---- Rule 8: assignment needs an open complaint; reassignment needs a reason --------------------


def test_rule_8_assigning_a_lodged_complaint() -> None:
    complaint = lodge()
    later = NOW + timedelta(hours=1)

    complaint.assign_investigator(assign_command(), actor=SUPERVISOR, now=later)

    (event,) = complaint.collect_events()
    assert isinstance(event, Complaint.InvestigatorAssigned)
    assert (event.previous_investigator_id, event.reason) == (None, None)
    assert complaint.status is Status.ASSIGNED
    assert complaint.investigator == {
        "id": "inv-0042",
        "name": "DS Ada Lovelace",
        "assigned_at": later,
    }
    assert complaint.assigned_at == later
    assert complaint.version == 2


def test_rule_8_reassignment_without_a_reason_is_refused() -> None:
    complaint = assigned()
    assert_refused(
        complaint,
        lambda: complaint.assign_investigator(
            assign_command(OTHER_INVESTIGATOR), actor=SUPERVISOR, now=NOW
        ),
        ReassignmentReasonRequiredError,
        "reassignment-reason-required",
    )


def test_rule_8_reassignment_with_a_reason_keeps_the_first_assignment_time() -> None:
    # Given a complaint assigned at NOW and in contact
    complaint = in_contact()
    later = NOW + timedelta(days=2)

    # When it is reassigned with a reason
    complaint.assign_investigator(
        assign_command(OTHER_INVESTIGATOR, reason="DS Lovelace is on leave."),
        actor=SUPERVISOR,
        now=later,
    )

    # Then the event names the previous investigator and the new one holds the case
    (event,) = complaint.collect_events()
    assert isinstance(event, Complaint.InvestigatorAssigned)
    assert (event.previous_investigator_id, event.previous_investigator_name) == (
        "inv-0042",
        "DS Ada Lovelace",
    )
    assert event.reason == "DS Lovelace is on leave."
    assert complaint.investigator_id == "inv-0099"
    assert [entry["investigator_id"] for entry in complaint.assignments] == [
        "inv-0042",
        "inv-0099",
    ]
    # And the status and assigned_at are those of the first assignment
    assert complaint.status is Status.IN_CONTACT
    assert complaint.assigned_at == NOW


def test_rule_8_assigning_the_same_investigator_again_is_refused() -> None:
    complaint = assigned()
    assert_refused(
        complaint,
        lambda: complaint.assign_investigator(
            assign_command(INVESTIGATOR, reason="Again."), actor=SUPERVISOR, now=NOW
        ),
        AlreadyAssignedError,
        "already-assigned",
    )


@pytest.mark.parametrize("closed", [resolved, redirected])
def test_rule_8_assignment_needs_an_open_complaint(closed: Callable[[], Complaint]) -> None:
    complaint = closed()
    assert_refused(
        complaint,
        lambda: complaint.assign_investigator(
            assign_command(OTHER_INVESTIGATOR, reason="Reopen."), actor=SUPERVISOR, now=NOW
        ),
        ComplaintClosedError,
        "complaint-closed",
    )
