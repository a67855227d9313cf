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
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.persistence import StoredEvent
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from domain.complaint import Complaint
from domain.errors import (
    AllegationIncompleteError,
    AlreadyAssignedError,
    AlreadyRestrictedError,
    ChannelDetailRequiredError,
    ComplainantUnreachableError,
    ComplaintClosedError,
    ComplaintDatesError,
    ContactBeforeAssignmentError,
    ContactDateError,
    ContactRequiredError,
    DomainError,
    EffectsOrBehavioursMissingError,
    ForceNameRequiredError,
    HandlingAlreadyDecidedError,
    MustRecordError,
    MustRedirectError,
    NotAssignedInvestigatorError,
    NotFinalError,
    NotOutsideSchedule3Error,
    NotRecordedError,
    NotRedirectableError,
    NotRestrictedError,
    OccurredAtError,
    OnBehalfBasisError,
    OutcomeIncompleteError,
    OutcomeStateError,
    ReassignmentReasonRequiredError,
    RedirectDestinationNotAllowedError,
    ReferralGroundsError,
    ReferralRequiredError,
    ReferralStateError,
    ResolutionWithoutContactError,
    ReviewOutOfTimeError,
    StandingNotAllowedError,
    StatutoryDateError,
    SubjectUnidentifiedError,
    SupervisorRequiredError,
    WithdrawalUnsignedError,
)
from domain.json_mapper import JsonMapper
from domain.service import _UnusedTranscoder
from domain.values import Actor, Status
from tests.unit.domain.builders import (
    INTAKE,
    INVESTIGATOR,
    OTHER_CASEWORKER,
    OTHER_INVESTIGATOR,
    SUPERVISOR,
    assign_command,
    body,
    contact_command,
    lodge_command,
    redirect_command,
    resolve_command,
    subject,
    watching_creations,
)
from tests.unit.domain.statutory_builders import (
    ALL_FLAGS,
    MANDATORY,
    allegation_command,
    determination_command,
    handling_command,
    lift_command,
    outcome_command,
    referral_command,
    restrict_command,
    retention_command,
    review_command,
    review_decision_command,
    update_command,
    withdraw_command,
)
from tests.unit.domain.statutory_builders import (
    contact_command as views_command,
)

LONDON = ZoneInfo("Europe/London")
# Far from 29 February, so that "12 months before" is the same day a year earlier.
START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)
REFERENCE = "PC/7/26"
MUST_REDIRECT = {"commissioner", "other_force"}
# DOMAIN.md part B's statuses, written out here rather than taken from the code under test.
OPEN = {
    Status.LODGED,
    Status.ASSIGNED,
    Status.IN_CONTACT,
    Status.RECORDED,
    Status.OUTCOME_NOTIFIED,
    Status.UNDER_REVIEW,
}
REDIRECTABLE = {Status.LODGED, Status.ASSIGNED, Status.IN_CONTACT, Status.RECORDED}
RECORDS_TOPICS = {
    "complaints:RetentionReviewed",
    "complaints:ProcessingRestricted",
    "complaints:RestrictionLifted",
}

# Valid complaints about every kind of subject, with every standing that fits.
VALID: list[dict[str, Any]] = [
    {},
    {"standing": "witnessed", "subject": subject("staff", name="Mr Clerk")},
    {"standing": "adversely_affected", "behaviours": ["causing_distress"]},
    {"subject": subject("police_station", station="Brixton"), "behaviours": []},
    {"subject": subject("case_handling"), "behaviours": []},
    {"subject": subject("force_general"), "behaviours": ["causing_inconvenience"]},
    {"subject": subject("commissioner"), "behaviours": []},
    {"subject": subject("other_force", force_name="Kent Police")},
    {"channel": "representative", "channel_detail": "Jo Bloggs MP"},
]

# Invalid complaints, each breaking one rule: (changes given now, the error).
INVALID: list[tuple[Callable[[datetime], dict[str, Any]], type[DomainError]]] = [
    (lambda now: {"complainant": {"name": "Sam Jones"}}, ComplainantUnreachableError),
    (lambda now: {"complainant": {"email": "a@b.org"}}, ComplainantUnreachableError),
    (lambda now: {"subject": subject("volunteer")}, SubjectUnidentifiedError),
    (lambda now: {"subject": subject("other_force")}, SubjectUnidentifiedError),
    (
        lambda now: {"standing": "witnessed", "subject": subject("case_handling")},
        StandingNotAllowedError,
    ),
    (lambda now: {"behaviours": []}, EffectsOrBehavioursMissingError),
    (
        lambda now: {"standing": "adversely_affected", "behaviours": ["rude_or_aggressive"]},
        EffectsOrBehavioursMissingError,
    ),
    (
        lambda now: {"on_behalf_of": {"basis": "parent_or_guardian_of_child_under_16"}},
        OnBehalfBasisError,
    ),
    (lambda now: {"on_behalf_of": {"basis": "written_consent"}}, OnBehalfBasisError),
    (
        lambda now: {"received_at": (now + timedelta(minutes=1)).isoformat()},
        ComplaintDatesError,
    ),
    (
        lambda now: {
            "received_at": now.isoformat(),
            "incident_date": (now.astimezone(LONDON).date() + timedelta(days=1)).isoformat(),
        },
        ComplaintDatesError,
    ),
    (lambda now: {"channel": "partner_organisation"}, ChannelDetailRequiredError),
]

# Who acts: (actor, whether a supervisor)
ACTORS = [
    (INVESTIGATOR, False),
    (OTHER_INVESTIGATOR, False),
    (OTHER_CASEWORKER, False),
    (SUPERVISOR, True),
]
# When a step says it happened: not given (now), or a point relative to receipt and now.
WHEN = st.sampled_from([None, "before_receipt", "at_receipt", "between", "now", "future"])


@dataclass
class Model:
    """What the complaint should be, kept by hand from the rules."""

    subject_kind: str
    received_at: datetime
    late: bool
    status: Status = Status.LODGED
    investigator: str | None = None
    contacts: int = 0
    version: int = 1
    assigned_at: datetime | None = None
    first_contact_at: datetime | None = None
    resolved_at: datetime | None = None
    redirect_destination: str | None = None
    final_version: int | None = None
    # Part B
    handling: str | None = None
    wants_recording: bool = False
    allegations: list[list[str]] = field(default_factory=list)
    referral_grounds: list[str] | None = None
    determined: bool = False
    updates: int = 0
    update_from: datetime | None = None
    notified_at: datetime | None = None
    deadline: date | None = None
    review_body: str | None = None
    notified_ids: list[str] = field(default_factory=list)
    reviews: int = 0
    final_at: datetime | None = None
    # Part C: accepted before and after a final status
    restricted: bool = False
    retention_reviews: int = 0
    records_after_final: int = 0

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def flags(self) -> set[str]:
        return {flag for flags in self.allegations for flag in flags}

    def status_at(self, now: datetime) -> Status:
        """`finalised` once a notified outcome's deadline has passed (London days)."""
        if self.status is Status.OUTCOME_NOTIFIED:
            assert self.deadline is not None
            if local(now) > self.deadline:
                return Status.FINALISED
        return self.status

    def open_at(self, now: datetime) -> bool:
        return self.status_at(now) in OPEN

    def possible(self, moment: datetime, now: datetime) -> bool:
        return self.received_at <= moment <= now

    def record(self) -> None:
        self.version += 1
        if not self.is_open:
            self.final_version = self.version

    def record_records(self) -> None:
        """A records manager's event: it changes no status."""
        self.version += 1
        if self.final_version is not None:
            self.records_after_final += 1


def local(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


class ComplaintMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = START
        self.complaint: Complaint | None = None
        self.model: Model | None = None
        self.stored: list[StoredEvent] = []
        self.mapper = JsonMapper(transcoder=_UnusedTranscoder())

    # ---- helpers ----------------------------------------------------------------------------

    def when(self, choice: str | None) -> datetime | None:
        assert self.model is not None
        received = self.model.received_at
        return {
            None: None,
            "before_receipt": received - timedelta(minutes=1),
            "at_receipt": received,
            "between": received + (self.now - received) / 2,
            "now": self.now,
            "future": self.now + timedelta(minutes=1),
        }[choice]

    def attempt(
        self, name: str, command: Callable[[], None], refusals: set[type[DomainError]]
    ) -> bool:
        """Runs a command; it must be refused with one of `refusals`, or accepted if none."""
        assert self.complaint is not None
        before = copy.deepcopy(self.complaint)
        refused: DomainError | None = None
        try:
            command()
        except DomainError as error:
            refused = error
        if refused is not None:
            assert type(refused) in refusals, f"{refused!r} not among {refusals}"
            assert self.complaint.collect_events() == []
            assert self.complaint == before
            event(f"{name} refused: {type(refused).__name__}")
            return False
        assert not refusals, f"accepted though {refusals} applied"
        event(f"{name} accepted, reaching version {before.version + 1}")
        events = self.complaint.collect_events()
        assert len(events) == 1
        assert events[0].originator_version == before.version + 1
        self.stored.extend(self.mapper.to_stored_event(event) for event in events)
        return True

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

    # ---- rules of the statutory process (part B) ---------------------------------------------

    def decide(
        self,
        name: str,
        command: Any,
        refusals: set[type[DomainError]],
        who: tuple[Actor, bool] = (SUPERVISOR, True),
    ) -> bool:
        """Runs a command through `Complaint.decide`, the service's one way in."""
        assert self.complaint is not None
        complaint, now = self.complaint, self.now
        actor, supervisor = who
        return self.attempt(
            name,
            lambda: complaint.decide(command, actor=actor, supervisor=supervisor, now=now),
            refusals,
        )

    def common_refusals(self, occurred_at: datetime | None) -> set[type[DomainError]]:
        """Rule 11 (judged now) and every step's dating."""
        assert self.model is not None
        refusals: set[type[DomainError]] = set()
        if not self.model.open_at(self.now):
            refusals.add(ComplaintClosedError)
        if occurred_at is not None and not self.model.possible(occurred_at, self.now):
            refusals.add(OccurredAtError)
        return refusals

    def worker_refusals(self, who: tuple[Actor, bool]) -> set[type[DomainError]]:
        assert self.model is not None
        actor, supervisor = who
        if not supervisor and actor.id != self.model.investigator:
            return {NotAssignedInvestigatorError}
        return set()

    @rule(
        flags=st.sampled_from([[], [], ["misconduct"], ["discrimination"], ["serious_assault"]])
        | st.lists(st.sampled_from(ALL_FLAGS), max_size=3),
        complete=st.sampled_from([True, True, True, "no_category", "no_description"]),
        when=WHEN,
    )
    def add_allegation(self, flags: list[str], complete: bool | str, when: str | None) -> None:
        model, occurred_at = self.model, self.when(when)
        assert model is not None
        refusals = self.common_refusals(occurred_at)
        if complete is not True:
            refusals.add(AllegationIncompleteError)
        command = allegation_command(
            *flags,
            category=None if complete == "no_category" else "use_of_police_vehicles",
            description=None if complete == "no_description" else "Drove at me.",
            occurred_at=occurred_at,
        )
        if self.decide("add allegation", command, refusals):
            model.allegations.append(sorted(set(flags)))
            model.record()

    @rule(
        mode=st.sampled_from(["schedule_3", "outside_schedule_3"]),
        who=st.sampled_from(ACTORS),
        when=WHEN,
    )
    def decide_handling(self, mode: str, who: tuple[Actor, bool], when: str | None) -> None:
        model, occurred_at = self.model, self.when(when)
        assert model is not None
        refusals = self.common_refusals(occurred_at) | self.worker_refusals(who)
        if model.handling == "schedule_3" or model.handling == mode:
            refusals.add(HandlingAlreadyDecidedError)
        if model.contacts == 0:
            refusals.add(ContactRequiredError)
        if mode == "outside_schedule_3" and (model.wants_recording or model.flags):
            refusals.add(MustRecordError)
        command = handling_command(mode, occurred_at=occurred_at)
        if self.decide("handling", command, refusals, who):
            model.handling = mode
            if mode == "schedule_3":
                model.status = Status.RECORDED
                model.update_from = occurred_at or self.now
            model.record()

    @rule(grounds=st.sampled_from([None, ["voluntary"], ["discrimination"], ["misconduct"]]))
    def refer(self, grounds: list[str] | None) -> None:
        model = self.model
        assert model is not None
        refusals = self.common_refusals(None)
        if model.handling != "schedule_3":
            refusals.add(NotRecordedError)
        if model.referral_grounds is not None:
            refusals.add(ReferralStateError)
        if grounds not in (None, ["voluntary"]) and not set(grounds or ()) <= model.flags:
            refusals.add(ReferralGroundsError)
        if self.decide("refer", referral_command(grounds), refusals):
            mandatory = sorted(model.flags & set(MANDATORY))
            model.referral_grounds = grounds or mandatory or ["voluntary"]
            model.record()

    @rule()
    def determine(self) -> None:
        model = self.model
        assert model is not None
        refusals = self.common_refusals(None)
        if model.referral_grounds is None or model.determined:
            refusals.add(ReferralStateError)
        if self.decide("determine", determination_command(), refusals):
            model.determined = True
            model.record()

    @rule(who=st.sampled_from(ACTORS), when=WHEN)
    def send_update(self, who: tuple[Actor, bool], when: str | None) -> None:
        model, occurred_at = self.model, self.when(when)
        assert model is not None
        refusals = self.common_refusals(occurred_at) | self.worker_refusals(who)
        if model.handling != "schedule_3":
            refusals.add(NotRecordedError)
        if self.decide("update", update_command(occurred_at=occurred_at), refusals, who):
            assert model.update_from is not None
            model.update_from = max(model.update_from, occurred_at or self.now)
            model.updates += 1
            model.record()

    @rule(
        who=st.sampled_from(ACTORS),
        results=st.sampled_from(["complete", "complete", "missing", "unknown", "duplicated"]),
        when=WHEN,
    )
    def notify_outcome(self, who: tuple[Actor, bool], results: str, when: str | None) -> None:
        model, now, occurred_at = self.model, self.now, self.when(when)
        assert model is not None
        known = [f"A{number}" for number in range(1, len(model.allegations) + 1)]
        given = {
            "complete": known,
            "missing": known[:-1],
            "unknown": [*known, "A99"],
            "duplicated": known + known[:1],
        }[results]
        refusals = self.common_refusals(occurred_at) | self.worker_refusals(who)
        if model.handling != "schedule_3":
            refusals.add(NotRecordedError)
        if model.status_at(now) is not Status.RECORDED:
            refusals.add(OutcomeStateError)
        if (model.flags & set(MANDATORY) and model.referral_grounds is None) or (
            model.referral_grounds is not None and not model.determined
        ):
            refusals.add(ReferralRequiredError)
        if not known or len(set(given)) != len(given) or set(given) != set(known):
            refusals.add(OutcomeIncompleteError)
        command = outcome_command([(a, "upheld") for a in given], occurred_at=occurred_at)
        if self.decide("outcome", command, refusals, who):
            model.status = Status.OUTCOME_NOTIFIED
            model.notified_at = occurred_at or now
            model.deadline = local(model.notified_at) + timedelta(days=28)
            referred_or_flagged = model.referral_grounds is not None or model.flags
            model.review_body = "iopc" if referred_or_flagged else "local_policing_body"
            model.notified_ids = known
            model.record()

    @rule(
        received=st.sampled_from(
            [None, "at_notification", "between", "deadline_end", "after_deadline", "too_early"]
        ),
        late_reason=st.booleans(),
        who=st.sampled_from([(OTHER_CASEWORKER, False), (SUPERVISOR, True)]),
        when=WHEN,
    )
    def request_review(
        self, received: str | None, late_reason: bool, who: tuple[Actor, bool], when: str | None
    ) -> None:
        model, now, occurred_at = self.model, self.now, self.when(when)
        assert model is not None
        received_at: datetime | None = None
        if model.notified_at is not None and model.deadline is not None and received:
            deadline_end = datetime.combine(
                model.deadline + timedelta(days=1), datetime.min.time(), LONDON
            )
            received_at = {
                "at_notification": model.notified_at,
                "between": model.notified_at + (now - model.notified_at) / 2,
                "deadline_end": deadline_end - timedelta(microseconds=1),
                "after_deadline": deadline_end,
                "too_early": model.notified_at - timedelta(minutes=1),
            }[received]
        # Rule 11, except that a notified outcome takes a (late) review once finalised
        refusals = self.common_refusals(occurred_at)
        if model.status is Status.OUTCOME_NOTIFIED:
            refusals.discard(ComplaintClosedError)
            assert model.notified_at is not None
            assert model.deadline is not None
            moment = received_at or now
            if not model.notified_at <= moment <= now:
                refusals.add(StatutoryDateError)
            if late_reason and not who[1]:
                refusals.add(SupervisorRequiredError)
            if local(moment) > model.deadline and not late_reason:
                refusals.add(ReviewOutOfTimeError)
        else:
            refusals.add(OutcomeStateError)
        command = review_command(
            received_at=received_at,
            late_reason="Was in hospital." if late_reason else None,
            occurred_at=occurred_at,
        )
        finalised = model.status_at(now) is Status.FINALISED
        if self.decide("review", command, refusals, who):
            if finalised:
                event("late review of a finalised outcome accepted")
            model.status = Status.UNDER_REVIEW
            model.record()

    @rule(reasonable=st.booleans(), when=WHEN)
    def decide_review(self, reasonable: bool, when: str | None) -> None:
        model, occurred_at = self.model, self.when(when)
        assert model is not None
        refusals = self.common_refusals(occurred_at)
        if model.status_at(self.now) is not Status.UNDER_REVIEW:
            refusals.add(OutcomeStateError)
        command = review_decision_command(reasonable).model_copy(
            update={"occurred_at": occurred_at}
        )
        if self.decide("review decision", command, refusals):
            model.reviews += 1
            if reasonable:
                model.status = Status.FINALISED
                model.final_at = occurred_at or self.now
            else:
                model.status = Status.RECORDED
                model.update_from = occurred_at or self.now
            model.record()

    @rule(
        signed_by=st.sampled_from([None, "complainant", "solicitor", "agent"]),
        signed_on=st.sampled_from([None, "receipt", "today", "before_receipt", "tomorrow"]),
        when=WHEN,
    )
    def withdraw(self, signed_by: str | None, signed_on: str | None, when: str | None) -> None:
        model, now, occurred_at = self.model, self.now, self.when(when)
        assert model is not None
        receipt, today = local(model.received_at), local(now)
        day = {
            None: None,
            "receipt": receipt,
            "today": today,
            "before_receipt": receipt - timedelta(days=1),
            "tomorrow": today + timedelta(days=1),
        }[signed_on]
        refusals = self.common_refusals(occurred_at)
        if signed_by is None or day is None:
            refusals.add(WithdrawalUnsignedError)
        elif not receipt <= day <= today:
            refusals.add(StatutoryDateError)
        command = withdraw_command(signed_by=signed_by, signed_on=day)
        command = command.model_copy(update={"occurred_at": occurred_at})
        if self.decide("withdraw", command, refusals, (OTHER_CASEWORKER, False)):
            model.status = Status.WITHDRAWN
            model.final_at = occurred_at or now
            model.record()

    @rule(kind=st.sampled_from(["retain", "restrict", "lift"]))
    def records_manager(self, kind: str) -> None:
        """Part C: the only commands a final complaint takes (besides a late review)."""
        model = self.model
        assert model is not None
        refusals: set[type[DomainError]] = set()
        if kind == "retain" and model.open_at(self.now):
            refusals.add(NotFinalError)
        if kind == "restrict" and model.restricted:
            refusals.add(AlreadyRestrictedError)
        if kind == "lift" and not model.restricted:
            refusals.add(NotRestrictedError)
        command = {
            "retain": retention_command(self.now),
            "restrict": restrict_command(),
            "lift": lift_command(),
        }[kind]
        if self.decide(f"records {kind}", command, refusals):
            model.retention_reviews += kind == "retain"
            model.restricted = {"restrict": True, "lift": False}.get(kind, model.restricted)
            model.record_records()

    @rule(days=st.integers(min_value=0, max_value=40))
    def time_flies(self, days: int) -> None:
        """Weeks at a time, so that review deadlines pass."""
        self.now += timedelta(days=days)

    @rule(choices=st.lists(st.integers(min_value=0, max_value=5), min_size=1, max_size=6))
    def work_the_statutory_case(self, choices: list[int]) -> None:
        """Usual next steps of part B (and some that its rules refuse), so that runs reach
        outcomes, reviews, their deadlines and late reviews."""
        for choice in choices:
            self.statutory_step(choice)

    def statutory_step(self, choice: int) -> None:
        model = self.model
        assert model is not None
        status = model.status_at(self.now)
        supervisor, caseworker = (SUPERVISOR, True), (OTHER_CASEWORKER, False)
        if status in (Status.LODGED, Status.ASSIGNED):
            self.work_the_case(reassign=False)
        elif status is Status.IN_CONTACT:
            if choice == 0:
                self.add_allegation(["serious_assault"] if model.contacts % 2 else [], True, None)
            elif choice == 1:
                self.add_allegation(["misconduct"] if model.allegations else [], True, None)
            elif choice == 2:
                self.contact_with_views(supervisor, None, wants_recording=True)
            elif choice == 3:
                self.decide_handling("outside_schedule_3", supervisor, None)
            else:
                self.decide_handling("schedule_3", supervisor, None)
        elif status is Status.RECORDED:
            must_refer = bool(model.flags & set(MANDATORY)) and model.referral_grounds is None
            waiting = model.referral_grounds is not None and not model.determined
            if choice == 0:
                self.notify_outcome(supervisor, "complete", None)  # refused while due
            elif not model.allegations:
                self.add_allegation(["discrimination"] if choice == 1 else [], True, None)
            elif must_refer:
                self.refer(None)
            elif waiting:
                self.determine()
            elif choice == 1:
                self.send_update(supervisor, None)
            elif choice == 2:
                self.notify_outcome(supervisor, "missing" if model.reviews else "duplicated", None)
            elif choice == 3:
                self.refer(["voluntary"])
            else:
                self.notify_outcome(supervisor, "complete", None)
        elif status is Status.OUTCOME_NOTIFIED:
            if choice in (0, 1):
                self.time_flies(28 + choice)
            elif choice == 2:
                self.request_review(None, False, caseworker, None)
            elif choice == 3:
                self.request_review("deadline_end", False, caseworker, None)
            elif choice == 4:
                self.redirect("iopc", None, None)  # refused: not redirectable
            else:
                self.request_review(None, False, supervisor, None)
        elif status is Status.FINALISED and model.status is Status.OUTCOME_NOTIFIED:
            if choice == 0:
                self.request_review(None, True, supervisor, None)  # a late review, accepted
            elif choice == 1:
                self.request_review(None, True, caseworker, None)  # refused: supervisor only
            elif choice == 2:
                self.request_review("after_deadline", False, supervisor, None)
            elif choice == 3:
                self.records_manager("retain")
            elif choice == 4:
                self.withdraw("complainant", "today", None)  # refused: closed
            else:
                self.add_allegation([], True, None)  # refused: closed
        elif status is Status.UNDER_REVIEW:
            self.decide_review(choice % 2 == 0, None)
        else:
            self.records_manager("retain" if choice % 2 else "restrict")

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

    @invariant()
    def matches_the_statutory_model(self) -> None:
        if self.complaint is None or self.model is None:
            return
        complaint, model, now = self.complaint, self.model, self.now
        assert complaint.status_at(now) is model.status_at(now)
        assert complaint.handling_mode == model.handling
        assert complaint.wants_recording is model.wants_recording
        assert [a["flags"] for a in complaint.allegations] == model.allegations
        assert [a["allegation_id"] for a in complaint.allegations] == [
            f"A{number}" for number in range(1, len(model.allegations) + 1)
        ]
        if model.referral_grounds is None:
            assert complaint.iopc is None
        else:
            assert complaint.iopc is not None
            assert complaint.iopc["grounds"] == model.referral_grounds
            assert (complaint.iopc["determination"] is not None) is model.determined
        assert len(complaint.updates) == model.updates
        # Rule 17: updates due only while recorded, 28 days from the last of them
        expected_update = None
        if model.status is Status.RECORDED:
            assert model.update_from is not None
            expected_update = local(model.update_from) + timedelta(days=28)
        assert complaint.next_update_due() == expected_update
        if model.notified_at is None:
            assert complaint.outcome is None
        else:
            assert complaint.outcome is not None
            assert complaint.review is not None
            assert complaint.outcome["notified_at"] == model.notified_at
            assert [a["allegation_id"] for a in complaint.outcome["allegations"]] == (
                model.notified_ids
            )
            assert complaint.review["deadline"] == model.deadline
            assert complaint.review["body"] == model.review_body
        assert len(complaint.reviews) == model.reviews
        # When it became final: by an event, or the day after a deadline no review met
        final_on = complaint.final_on(now)
        if model.final_at is not None:
            assert final_on == local(model.final_at)
        elif model.status_at(now) is Status.FINALISED:
            assert model.deadline is not None
            assert final_on == model.deadline + timedelta(days=1)
        else:
            assert final_on is None
        assert (complaint.restricted is not None) is model.restricted
        assert len(complaint.retention_reviews) == model.retention_reviews

    @invariant()
    def breaks_no_statutory_rule(self) -> None:
        if self.complaint is None:
            return
        complaint = self.complaint
        recorded = {Status.RECORDED, Status.OUTCOME_NOTIFIED, Status.UNDER_REVIEW}
        if complaint.status in recorded or complaint.status is Status.FINALISED:
            assert complaint.handling_mode == "schedule_3"
            assert complaint.contacts
        if complaint.status is Status.RESOLVED:
            # Rules 14 and 16: nothing obliged recording, and it was not recorded
            assert complaint.handling_mode != "schedule_3"
            assert not complaint.wants_recording
            assert not any(a["flags"] for a in complaint.allegations)
        if complaint.outcome is not None:
            # Rules 15 and 16: one outcome per allegation then, referral determined if due
            notified = [a["allegation_id"] for a in complaint.outcome["allegations"]]
            ids = [a["allegation_id"] for a in complaint.allegations]
            assert notified
            assert notified == ids[: len(notified)]
            flags = {f for a in complaint.allegations[: len(notified)] for f in a["flags"]}
            if flags & set(MANDATORY):
                assert complaint.iopc is not None
                assert complaint.iopc["determination"] is not None
        if complaint.withdrawal is not None:
            assert complaint.status is Status.WITHDRAWN
            assert complaint.withdrawal["signed_by"] in ("complainant", "solicitor", "agent")
        topics = [record.topic for record in self.stored]
        assert topics.count("complaints:HandlingDecided") <= 2
        assert topics.count("complaints:ReferredToIopc") <= 1
        assert topics.count("complaints:ComplaintWithdrawn") <= 1
        finals = ("complaints:ComplaintResolved", "complaints:ComplaintRedirected")
        ends = [t for t in topics if t in (*finals, "complaints:ComplaintWithdrawn")]
        assert len(ends) <= 1
        if ends:
            assert topics.index(ends[0]) + 1 + sum(
                t in RECORDS_TOPICS for t in topics[topics.index(ends[0]) + 1 :]
            ) == len(topics)


ComplaintMachine.TestCase.settings = settings(
    max_examples=200,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestComplaintMachine = ComplaintMachine.TestCase
