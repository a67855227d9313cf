"""Random command sequences against the `Complaint` aggregate, checked against a simple model.

A hypothesis `RuleBasedStateMachine` lodges one complaint, then redirects, assigns, reassigns,
records contact and resolves it with random actors and random dates, between lodging attempts with
invalid bodies that must be refused and create nothing. It also takes the complaint through the
statutory process (part B: allegations, the handling decision, referral and determination,
updates, the outcome, the review and its deadline, withdrawal) and the records manager's commands
(part C). The model says which of docs/DOMAIN.md's refusals apply to each command (several may
apply at once; the aggregate must raise one of them) and what the complaint must look like
afterwards, its status judged at the machine's clock (a notified outcome is `finalised` once its
review deadline has passed, with no event).
After every step the aggregate matches the model, no rule is broken, and replaying the stored
events through the JSON mapper rebuilds exactly the same complaint.
The model, the constants and the command-running helpers are in machine_model.py; the rules
and invariants of parts B and C in machine_statutory.py and machine_review.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from domain.complaint import Complaint
from domain.errors import (
    AlreadyAssignedError,
    ComplaintClosedError,
    ContactBeforeAssignmentError,
    ContactDateError,
    DomainError,
    ForceNameRequiredError,
    MustRecordError,
    MustRedirectError,
    NotAssignedInvestigatorError,
    NotOutsideSchedule3Error,
    NotRedirectableError,
    OccurredAtError,
    ReassignmentReasonRequiredError,
    RedirectDestinationNotAllowedError,
    ResolutionWithoutContactError,
)
from domain.json_mapper import JsonMapper
from domain.service import _UnusedTranscoder
from domain.values import Actor, Status
from tests.unit.domain.builders import (
    INTAKE,
    INVESTIGATOR,
    OTHER_INVESTIGATOR,
    SUPERVISOR,
    assign_command,
    body,
    contact_command,
    lodge_command,
    redirect_command,
    resolve_command,
    watching_creations,
)
from tests.unit.domain.machine_model import (
    ACTORS,
    INVALID,
    LONDON,
    MUST_REDIRECT,
    RECORDS_TOPICS,
    REDIRECTABLE,
    REFERENCE,
    START,
    VALID,
    WHEN,
    Model,
)
from tests.unit.domain.machine_statutory import StatutoryRules
from tests.unit.domain.statutory_builders import (
    contact_command as views_command,
)


class ComplaintMachine(StatutoryRules, RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.complaint: Complaint | None = None
        self.model: Model | None = None
        self.stored: list[StoredEvent] = []
        self.mapper = JsonMapper(transcoder=_UnusedTranscoder())

    # ---- rules ------------------------------------------------------------------------------

    @rule(minutes=st.integers(min_value=0, max_value=3 * 24 * 60))
    def time_passes(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)

    @rule(case=st.sampled_from(INVALID))
    def lodge_invalid(
        self, case: tuple[Callable[[datetime], dict[str, Any]], type[DomainError]]
    ) -> None:
        changes, error = case
        base = {"received_at": self.now.isoformat(), "incident_date": None}
        command = lodge_command(body(**{**base, **changes(self.now)}))
        with watching_creations() as created, pytest.raises(DomainError) as raised:
            Complaint.lodge(reference="PC/0/26", command=command, actor=INTAKE, now=self.now)
        assert type(raised.value) is error
        assert created == []

    @initialize(
        changes=st.sampled_from(VALID),
        received_minutes_ago=st.none() | st.integers(min_value=0, max_value=10 * 24 * 60),
        incident_days_before=st.none() | st.integers(min_value=0, max_value=800),
    )
    def lodge(
        self,
        changes: dict[str, Any],
        received_minutes_ago: int | None,
        incident_days_before: int | None,
    ) -> None:
        received_at = (
            self.now
            if received_minutes_ago is None
            else self.now - timedelta(minutes=received_minutes_ago)
        )
        received_day = received_at.astimezone(LONDON).date()
        incident: date | None = None
        if incident_days_before is not None:
            incident = received_day - timedelta(days=incident_days_before)
        data = body(
            **{
                **changes,
                "received_at": None if received_minutes_ago is None else received_at.isoformat(),
            },
        )
        data["incident_date"] = incident.isoformat() if incident else None

        self.complaint = Complaint.lodge(
            reference=REFERENCE, command=lodge_command(data), actor=INTAKE, now=self.now
        )

        events = self.complaint.collect_events()
        assert len(events) == 1
        self.stored = [self.mapper.to_stored_event(events[0])]
        self.model = Model(
            subject_kind=data["subject"]["kind"],
            received_at=received_at,
            late=incident is not None
            and incident < received_day.replace(year=received_day.year - 1),
        )

    @rule(
        destination=st.sampled_from(["mopac", "other_force", "iopc"]),
        force_name=st.sampled_from([None, "Kent Police"]),
        when=WHEN,
    )
    def redirect(self, destination: str, force_name: str | None, when: str | None) -> None:
        assert self.complaint is not None
        assert self.model is not None
        model, now, occurred_at = self.model, self.now, self.when(when)
        refusals: set[type[DomainError]] = set()
        if not model.open_at(now):
            refusals.add(ComplaintClosedError)
        elif model.status_at(now) not in REDIRECTABLE:
            refusals.add(NotRedirectableError)
        if destination == "other_force" and not force_name:
            refusals.add(ForceNameRequiredError)
        if model.subject_kind == "commissioner" and destination != "mopac":
            refusals.add(RedirectDestinationNotAllowedError)
        if model.subject_kind == "other_force" and destination == "mopac":
            refusals.add(RedirectDestinationNotAllowedError)
        if occurred_at is not None and not model.possible(occurred_at, now):
            refusals.add(OccurredAtError)

        command = redirect_command(destination, force_name=force_name, occurred_at=occurred_at)
        complaint = self.complaint
        if self.attempt(
            "redirect", lambda: complaint.redirect_to(command, actor=SUPERVISOR, now=now), refusals
        ):
            model.status = Status.REDIRECTED
            model.redirect_destination = destination
            model.final_at = occurred_at or now
            model.record()

    @rule(
        investigator=st.sampled_from([INVESTIGATOR, OTHER_INVESTIGATOR]),
        reason=st.sampled_from([None, "Workload."]),
        when=WHEN,
    )
    def assign(self, investigator: Actor, reason: str | None, when: str | None) -> None:
        assert self.complaint is not None
        assert self.model is not None
        model, now, occurred_at = self.model, self.now, self.when(when)
        refusals: set[type[DomainError]] = set()
        if not model.open_at(now):
            refusals.add(ComplaintClosedError)
        if model.subject_kind in MUST_REDIRECT:
            refusals.add(MustRedirectError)
        if model.investigator == investigator.id:
            refusals.add(AlreadyAssignedError)
        if model.investigator is not None and not reason:
            refusals.add(ReassignmentReasonRequiredError)
        if occurred_at is not None and not model.possible(occurred_at, now):
            refusals.add(OccurredAtError)

        command = assign_command(investigator, reason=reason, occurred_at=occurred_at)
        complaint = self.complaint
        if self.attempt(
            "assign",
            lambda: complaint.assign_investigator(command, actor=SUPERVISOR, now=now),
            refusals,
        ):
            if model.status is Status.LODGED:
                model.status = Status.ASSIGNED
                model.assigned_at = occurred_at or now
            model.investigator = investigator.id
            model.record()

    @rule(who=st.sampled_from(ACTORS), when=WHEN)
    def contact(self, who: tuple[Actor, bool], when: str | None) -> None:
        self.contact_with_views(who, when, wants_recording=None)

    @rule(who=st.sampled_from(ACTORS), when=WHEN, wants_recording=st.booleans())
    def contact_with_views(
        self, who: tuple[Actor, bool], when: str | None, wants_recording: bool | None
    ) -> None:
        """Contact, seeking the complainant's views on recording (part B) unless None."""
        assert self.complaint is not None
        assert self.model is not None
        model, now, occurred_at = self.model, self.now, self.when(when)
        actor, supervisor = who
        refusals: set[type[DomainError]] = set()
        if not model.open_at(now):
            refusals.add(ComplaintClosedError)
        if model.status is Status.LODGED:
            refusals.add(ContactBeforeAssignmentError)
        if not model.possible(occurred_at or now, now):
            refusals.add(ContactDateError)
        if not supervisor and actor.id != model.investigator:
            refusals.add(NotAssignedInvestigatorError)

        command = (
            contact_command(occurred_at=occurred_at)
            if wants_recording is None
            else views_command(wants_recording=wants_recording, occurred_at=occurred_at)
        )
        complaint = self.complaint
        if self.attempt(
            "contact",
            lambda: complaint.record_contact(command, actor=actor, supervisor=supervisor, now=now),
            refusals,
        ):
            contacted_at = occurred_at or now
            # A recorded complaint stays recorded through further contacts (part B)
            if model.status in (Status.ASSIGNED, Status.IN_CONTACT):
                model.status = Status.IN_CONTACT
            model.wants_recording = model.wants_recording or bool(wants_recording)
            model.contacts += 1
            if model.first_contact_at is None or contacted_at < model.first_contact_at:
                model.first_contact_at = contacted_at
            model.record()

    @rule(who=st.sampled_from(ACTORS), when=WHEN)
    def resolve(self, who: tuple[Actor, bool], when: str | None) -> None:
        assert self.complaint is not None
        assert self.model is not None
        model, now, occurred_at = self.model, self.now, self.when(when)
        actor, supervisor = who
        refusals: set[type[DomainError]] = set()
        if not model.open_at(now):
            refusals.add(ComplaintClosedError)
        if not supervisor and actor.id != model.investigator:
            refusals.add(NotAssignedInvestigatorError)
        if model.contacts == 0:
            refusals.add(ResolutionWithoutContactError)
        if model.handling == "schedule_3":
            refusals.add(NotOutsideSchedule3Error)
        if model.wants_recording or model.flags:
            refusals.add(MustRecordError)
        if occurred_at is not None and not model.possible(occurred_at, now):
            refusals.add(OccurredAtError)

        command = resolve_command(occurred_at=occurred_at)
        complaint = self.complaint
        if self.attempt(
            "resolve",
            lambda: complaint.resolve(command, actor=actor, supervisor=supervisor, now=now),
            refusals,
        ):
            model.status = Status.RESOLVED
            model.resolved_at = model.final_at = occurred_at or now
            model.record()

    @rule(reassign=st.booleans())
    def work_the_case(self, reassign: bool) -> None:
        """The usual next step, so that runs also reach the end of the lifecycle."""
        assert self.model is not None
        if self.model.status is Status.LODGED or (reassign and self.model.investigator):
            other = self.model.investigator == INVESTIGATOR.id
            self.assign(OTHER_INVESTIGATOR if other else INVESTIGATOR, "Workload.", None)
        elif self.model.status is Status.ASSIGNED:
            self.contact((INVESTIGATOR, False) if reassign else (SUPERVISOR, True), None)
        else:
            self.resolve((SUPERVISOR, True), "now")

    # ---- invariants -------------------------------------------------------------------------

    @invariant()
    def matches_the_model(self) -> None:
        if self.complaint is None or self.model is None:
            assert self.stored == []
            return
        complaint, model = self.complaint, self.model
        assert complaint.status is model.status
        assert complaint.investigator_id == model.investigator
        assert len(complaint.contacts) == model.contacts
        assert complaint.version == model.version == len(self.stored)
        assert complaint.received_at == model.received_at
        assert complaint.late is model.late
        assert complaint.assigned_at == model.assigned_at
        assert complaint.first_contact_at == model.first_contact_at
        assert complaint.resolved_at == model.resolved_at
        if model.redirect_destination is not None:
            assert complaint.redirect is not None
            assert complaint.redirect["destination"] == model.redirect_destination

    @invariant()
    def breaks_no_rule(self) -> None:
        if self.complaint is None or self.model is None:
            return
        complaint = self.complaint
        if complaint.status is Status.RESOLVED:
            assert complaint.contacts
            assert complaint.resolution is not None
        if complaint.subject_kind in MUST_REDIRECT:
            assert complaint.investigator is None
            # (or withdrawn: rule 19 allows withdrawal from any open status)
            assert complaint.status in (Status.LODGED, Status.REDIRECTED, Status.WITHDRAWN)
        if complaint.status in (Status.ASSIGNED, Status.IN_CONTACT):
            assert complaint.investigator is not None
        if self.model.final_version is not None:
            # Nothing after a final status but the records manager's events (part C)
            final = self.model.final_version
            assert complaint.version == final + self.model.records_after_final
            assert {record.topic for record in self.stored[final:]} <= RECORDS_TOPICS
        for contact in complaint.contacts:
            assert contact["occurred_at"] >= complaint.received_at
        types = [record.topic for record in self.stored]
        assert types[0] == "complaints:ComplaintLodged"
        assert (
            types.count("complaints:ComplaintResolved")
            + types.count("complaints:ComplaintRedirected")
            <= 1
        )

    @invariant()
    def replay_rebuilds_the_same_complaint(self) -> None:
        if self.complaint is None:
            return
        events = [self.mapper.to_domain_event(record) for record in self.stored]
        rebuilt = project_aggregate(None, events)
        assert rebuilt == self.complaint


ComplaintMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestComplaintMachine = ComplaintMachine.TestCase
