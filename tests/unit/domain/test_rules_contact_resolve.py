"""docs/DOMAIN.md rules 9 to 11 (contact, resolution, closed complaints) and the status machine.

Each refusal is checked for its exact error class and rule slug, and for leaving the complaint
exactly as it was (no pending event, same version, same state).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from domain.complaint import Complaint
from domain.errors import (
    ComplaintClosedError,
    ContactBeforeAssignmentError,
    ContactDateError,
    NotAssignedInvestigatorError,
    OccurredAtError,
    ResolutionWithoutContactError,
)
from domain.values import Actor, ResolveComplaint, Status
from tests.unit.domain.builders import (
    INVESTIGATOR,
    NOW,
    OTHER_CASEWORKER,
    OTHER_INVESTIGATOR,
    RECEIVED_AT,
    SUPERVISOR,
    assert_refused,
    assign_command,
    assigned,
    contact_command,
    in_contact,
    lodge,
    redirect_command,
    redirected,
    resolve_command,
    resolved,
)

# ---- Rule 9: contact once assigned, by the investigator or a supervisor, dated sensibly ---------


@pytest.mark.parametrize(("actor", "supervisor"), [(INVESTIGATOR, False), (SUPERVISOR, True)])
def test_rule_9_no_contact_before_assignment(actor: Actor, supervisor: bool) -> None:
    complaint = lodge()
    assert_refused(
        complaint,
        lambda: complaint.record_contact(
            contact_command(), actor=actor, supervisor=supervisor, now=NOW
        ),
        ContactBeforeAssignmentError,
        "contact-before-assignment",
    )


def test_rule_9_another_caseworker_cannot_record_contact() -> None:
    complaint = assigned()
    assert_refused(
        complaint,
        lambda: complaint.record_contact(
            contact_command(), actor=OTHER_CASEWORKER, supervisor=False, now=NOW
        ),
        NotAssignedInvestigatorError,
        "not-assigned-investigator",
    )


def test_rule_9_the_assigned_investigator_records_contact() -> None:
    complaint = assigned()
    contacted_at = NOW + timedelta(hours=3)

    complaint.record_contact(
        contact_command(method="video", occurred_at=contacted_at),
        actor=INVESTIGATOR,
        supervisor=False,
        now=NOW + timedelta(days=1),
    )

    (event,) = complaint.collect_events()
    assert isinstance(event, Complaint.ComplainantContacted)
    assert (event.method, event.occurred_at) == ("video", contacted_at)
    assert complaint.status is Status.IN_CONTACT
    assert complaint.first_contact_at == contacted_at
    assert complaint.contacts == [
        {
            "method": "video",
            "occurred_at": contacted_at,
            "summary": "Talked it over.",
            "by": {"id": "inv-0042", "name": "DS Ada Lovelace"},
        }
    ]


def test_rule_9_a_supervisor_may_record_contact() -> None:
    complaint = assigned()
    complaint.record_contact(contact_command(), actor=SUPERVISOR, supervisor=True, now=NOW)
    assert complaint.status is Status.IN_CONTACT
    assert complaint.contacts[0]["by"] == {"id": "sup-1", "name": "DI Grace Hopper"}


@pytest.mark.parametrize(
    "occurred_at",
    [RECEIVED_AT - timedelta(seconds=1), NOW + timedelta(seconds=1)],
    ids=["before-receipt", "in-the-future"],
)
def test_rule_9_contact_dated_before_receipt_or_in_the_future_is_refused(
    occurred_at: datetime,
) -> None:
    complaint = assigned()
    assert_refused(
        complaint,
        lambda: complaint.record_contact(
            contact_command(occurred_at=occurred_at), actor=INVESTIGATOR, supervisor=False, now=NOW
        ),
        ContactDateError,
        "contact-date-invalid",
    )


def test_rule_9_contact_may_be_dated_at_receipt_or_now_and_first_contact_is_the_earliest() -> None:
    complaint = assigned()

    complaint.record_contact(contact_command(), actor=INVESTIGATOR, supervisor=False, now=NOW)
    complaint.record_contact(
        contact_command(method="letter", occurred_at=RECEIVED_AT),
        actor=INVESTIGATOR,
        supervisor=False,
        now=NOW,
    )

    assert [contact["occurred_at"] for contact in complaint.contacts] == [NOW, RECEIVED_AT]
    assert complaint.first_contact_at == RECEIVED_AT
    assert complaint.version == 4


# ---- Rule 10: resolution after contact, by the investigator or a supervisor ----------------------


def test_rule_10_resolution_needs_a_recorded_contact() -> None:
    complaint = assigned()
    assert_refused(
        complaint,
        lambda: complaint.resolve(resolve_command(), actor=INVESTIGATOR, supervisor=False, now=NOW),
        ResolutionWithoutContactError,
        "resolution-without-contact",
    )


def test_rule_10_a_supervisor_cannot_resolve_a_complaint_nobody_has_contacted() -> None:
    complaint = lodge()
    assert_refused(
        complaint,
        lambda: complaint.resolve(resolve_command(), actor=SUPERVISOR, supervisor=True, now=NOW),
        ResolutionWithoutContactError,
        "resolution-without-contact",
    )


def test_rule_10_another_caseworker_cannot_resolve() -> None:
    complaint = in_contact()
    assert_refused(
        complaint,
        lambda: complaint.resolve(
            resolve_command(), actor=OTHER_CASEWORKER, supervisor=False, now=NOW
        ),
        NotAssignedInvestigatorError,
        "not-assigned-investigator",
    )


@pytest.mark.parametrize(("who", "supervisor"), [(INVESTIGATOR, False), (SUPERVISOR, True)])
def test_rule_10_the_investigator_or_a_supervisor_resolves(who: Actor, supervisor: bool) -> None:
    complaint = in_contact()
    resolved_at = NOW + timedelta(days=3)
    learning = [{"theme": "communication", "note": "Listen before answering."}]

    complaint.resolve(
        resolve_command(outcome="practice_requiring_improvement", learning=learning),
        actor=who,
        supervisor=supervisor,
        now=resolved_at,
    )

    (event,) = complaint.collect_events()
    assert isinstance(event, Complaint.Resolved)
    assert event.learning == learning
    assert complaint.status is Status.RESOLVED
    assert complaint.resolved_at == resolved_at
    assert complaint.resolution == {
        "outcome": "practice_requiring_improvement",
        "summary": "Apologised for the officer's manner.",
        "learning": learning,
        "resolved_at": resolved_at,
        "by": who.model_dump(),
    }


@pytest.mark.parametrize(
    ("fields", "missing"),
    [
        ({"summary": "Done."}, "outcome"),
        ({"outcome": "closed_somehow", "summary": "Done."}, "outcome"),
        ({"outcome": "apology_given"}, "summary"),
        ({"outcome": "apology_given", "summary": "   "}, "summary"),
    ],
)
def test_rule_10_a_resolution_has_an_outcome_and_a_summary(
    fields: dict[str, str], missing: str
) -> None:
    # The command's shape enforces these before the aggregate sees it
    with pytest.raises(ValidationError) as raised:
        ResolveComplaint.model_validate(fields)
    assert [error["loc"] for error in raised.value.errors()] == [(missing,)]


# ---- Every later step: dated between receipt and now ---------------------------------------------


@pytest.mark.parametrize(
    "occurred_at",
    [RECEIVED_AT - timedelta(minutes=1), NOW + timedelta(minutes=1)],
    ids=["before-receipt", "in-the-future"],
)
@pytest.mark.parametrize("step", ["redirect", "assign", "resolve"])
def test_other_steps_are_not_dated_before_receipt_or_in_the_future(
    step: str, occurred_at: datetime
) -> None:
    complaint = in_contact() if step == "resolve" else lodge()
    commands: dict[str, Callable[[], None]] = {
        "redirect": lambda: complaint.redirect_to(
            redirect_command(occurred_at=occurred_at), actor=SUPERVISOR, now=NOW
        ),
        "assign": lambda: complaint.assign_investigator(
            assign_command(occurred_at=occurred_at), actor=SUPERVISOR, now=NOW
        ),
        "resolve": lambda: complaint.resolve(
            resolve_command(occurred_at=occurred_at), actor=INVESTIGATOR, supervisor=False, now=NOW
        ),
    }
    assert_refused(complaint, commands[step], OccurredAtError, "occurred-at-invalid")


def test_a_step_may_be_backdated_to_the_date_on_a_letter() -> None:
    complaint = lodge()
    on_the_letter = RECEIVED_AT + timedelta(days=1)
    complaint.assign_investigator(
        assign_command(occurred_at=on_the_letter), actor=SUPERVISOR, now=NOW
    )
    (event,) = complaint.collect_events()
    assert isinstance(event, Complaint.InvestigatorAssigned)
    assert event.occurred_at == on_the_letter
    assert complaint.assigned_at == on_the_letter


# ---- Rule 11: nothing happens to a resolved or redirected complaint ------------------------------


@pytest.mark.parametrize("closed", [resolved, redirected])
@pytest.mark.parametrize("step", ["redirect", "assign", "contact", "resolve"])
def test_rule_11_nothing_may_happen_to_a_closed_complaint(
    closed: Callable[[], Complaint], step: str
) -> None:
    complaint = closed()
    commands: dict[str, Callable[[], None]] = {
        "redirect": lambda: complaint.redirect_to(redirect_command(), actor=SUPERVISOR, now=NOW),
        "assign": lambda: complaint.assign_investigator(
            assign_command(OTHER_INVESTIGATOR, reason="Reopen."), actor=SUPERVISOR, now=NOW
        ),
        "contact": lambda: complaint.record_contact(
            contact_command(), actor=SUPERVISOR, supervisor=True, now=NOW
        ),
        "resolve": lambda: complaint.resolve(
            resolve_command(), actor=SUPERVISOR, supervisor=True, now=NOW
        ),
    }
    error = assert_refused(complaint, commands[step], ComplaintClosedError, "complaint-closed")
    assert complaint.status.value in error.detail


# ---- The status machine and its timestamps -------------------------------------------------------


def test_the_lifecycle_lodged_assigned_in_contact_resolved() -> None:
    complaint = lodge()
    assigned_at = NOW
    contacted_at = NOW + timedelta(days=1)
    resolved_at = NOW + timedelta(days=5)
    seen = [(complaint.status, complaint.version)]

    complaint.assign_investigator(assign_command(), actor=SUPERVISOR, now=assigned_at)
    seen.append((complaint.status, complaint.version))
    complaint.record_contact(
        contact_command(), actor=INVESTIGATOR, supervisor=False, now=contacted_at
    )
    seen.append((complaint.status, complaint.version))
    complaint.resolve(resolve_command(), actor=INVESTIGATOR, supervisor=False, now=resolved_at)
    seen.append((complaint.status, complaint.version))

    assert seen == [
        (Status.LODGED, 1),
        (Status.ASSIGNED, 2),
        (Status.IN_CONTACT, 3),
        (Status.RESOLVED, 4),
    ]
    assert (complaint.assigned_at, complaint.first_contact_at, complaint.resolved_at) == (
        assigned_at,
        contacted_at,
        resolved_at,
    )
    assert [type(event).__name__ for event in complaint.collect_events()] == [
        "InvestigatorAssigned",
        "ComplainantContacted",
        "Resolved",
    ]


@pytest.mark.parametrize("start", [lodge, assigned, in_contact])
def test_any_open_status_may_become_redirected_and_keeps_its_timestamps(
    start: Callable[[], Complaint],
) -> None:
    complaint = start()
    before = (complaint.assigned_at, complaint.first_contact_at)

    complaint.redirect_to(redirect_command(), actor=SUPERVISOR, now=NOW + timedelta(days=1))

    assert complaint.status is Status.REDIRECTED
    assert (complaint.assigned_at, complaint.first_contact_at) == before
    assert complaint.resolved_at is None
    assert not complaint.status.is_open
