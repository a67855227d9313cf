"""The model half of `ComplaintMachine` (test_state_machine.py): the constants and hypothesis
strategies its rules draw from, the hand-kept `Model` of what the complaint should be, and
`MachineBase`, the plain class under the rule mixins that declares the machine's state and runs
each command, checking that it is refused with one of the refusals the model expects (and then
changes nothing) or accepted with exactly one new event when none applies.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from eventsourcing.persistence import StoredEvent
from hypothesis import event
from hypothesis import strategies as st

from domain.complaint import Complaint
from domain.errors import (
    ChannelDetailRequiredError,
    ComplainantUnreachableError,
    ComplaintClosedError,
    ComplaintDatesError,
    DomainError,
    EffectsOrBehavioursMissingError,
    NotAssignedInvestigatorError,
    OccurredAtError,
    OnBehalfBasisError,
    StandingNotAllowedError,
    SubjectUnidentifiedError,
)
from domain.json_mapper import JsonMapper
from domain.values import Actor, Status
from tests.unit.domain.builders import (
    INVESTIGATOR,
    OTHER_CASEWORKER,
    OTHER_INVESTIGATOR,
    SUPERVISOR,
    subject,
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


class MachineBase:
    """The machine's state (set by `ComplaintMachine.__init__`) and how its steps run commands."""

    now: datetime
    complaint: Complaint | None
    model: Model | None
    stored: list[StoredEvent]
    mapper: JsonMapper

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
