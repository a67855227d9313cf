"""The Complaint aggregate: one per complaint, every rule of docs/DOMAIN.md.

The lifecycle's five events are here; the statutory process's (part B) are in
`statutory_events.py` with their commands in `statutory.py`; the records manager's (part C) are
in `records.py`.

Each public method is a command: it checks the rules (`rules.py`), then triggers one event. The
events' `apply` methods only assign, because they also run on replay. Events carry JSON-native
payloads (strings, numbers, lists, dicts, plus dates and datetimes) so that the stored JSON reads
plainly and a projection needs nothing but the event itself.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar, assert_never
from uuid import UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import rules
from domain.lifecycle import LifecycleCommands
from domain.personal_data import KeyedHashes, Part
from domain.records import DEFAULT_RETENTION_YEARS, RecordsOfComplaint
from domain.statutory import StatutoryProcess
from domain.statutory_events import fresh_statutory_state
from domain.statutory_values import (
    AddAllegation,
    ComplaintChange,
    DecideHandling,
    DecideReview,
    NotifyOutcome,
    RecordIopcDetermination,
    ReferToIopc,
    RequestReview,
    SendProgressUpdate,
    WithdrawComplaint,
)
from domain.values import (
    Actor,
    AssignInvestigator,
    ErasePersonalData,
    LiftRestriction,
    LodgeComplaint,
    RecordContact,
    RedirectComplaint,
    ResolveComplaint,
    RestrictProcessing,
    ReviewRetention,
    Status,
    SubjectKind,
)

# Complaint ids are derived from references, so a reference finds its complaint without an index.
REFERENCE_NAMESPACE = UUID("6f1c4a52-0d8e-4a57-9a43-5c1f3a8d2b10")


def complaint_id_for(reference: str) -> UUID:
    return uuid5(REFERENCE_NAMESPACE, reference)


class Complaint(LifecycleCommands, StatutoryProcess, RecordsOfComplaint, Aggregate):
    TOPIC = "complaints:Complaint"

    class Event(Aggregate.Event):
        actor: dict[str, str]
        occurred_at: datetime

    class Lodged(Event, Aggregate.Created):
        TOPIC: ClassVar[str] = "complaints:ComplaintLodged"
        class_version: ClassVar[int] = 2
        reference: str
        received_at: datetime
        channel: str
        channel_detail: str | None
        complainant: dict[str, Any]
        on_behalf_of: dict[str, Any] | None
        standing: str
        subject: dict[str, Any]
        behaviours: list[str]
        incident_date: date | None
        location: str | None
        description: str
        late: bool
        # v2: the parts whose personal values were sealed under keys of their own (a
        # complaint stored in clear has none, and cannot be erased); keyed hashes, in clear,
        # of the subject's shoulder number (early warning counts officers by it) and of the
        # complainant's access code (the status page checks it); the code itself, sealed.
        sealed_parts: list[str]
        shoulder_number_hash: str | None
        access_code_hash: str | None
        access_code: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["sealed_parts"] = []
            state["shoulder_number_hash"] = None
            state["access_code_hash"] = None
            state["access_code"] = None

        def apply(self, aggregate: Complaint) -> None:
            aggregate.reference = self.reference
            aggregate.status = Status.LODGED
            aggregate.received_at = self.received_at
            aggregate.subject_kind = SubjectKind(self.subject["kind"])
            aggregate.late = self.late
            aggregate.lodged = {
                "received_at": self.received_at,
                "channel": self.channel,
                "channel_detail": self.channel_detail,
                "complainant": self.complainant,
                "on_behalf_of": self.on_behalf_of,
                "standing": self.standing,
                "subject": self.subject,
                "behaviours": self.behaviours,
                "incident_date": self.incident_date,
                "location": self.location,
                "description": self.description,
            }
            aggregate.redirect = None
            aggregate.investigator = None
            aggregate.assignments = []
            aggregate.contacts = []
            aggregate.resolution = None
            aggregate.assigned_at = None
            aggregate.first_contact_at = None
            aggregate.resolved_at = None
            aggregate.final_at = None
            aggregate.sealed_parts = self.sealed_parts
            aggregate.access_code = self.access_code
            aggregate.erased = None
            aggregate.restricted = None
            aggregate.retention_reviews = []
            for name, value in fresh_statutory_state().items():
                setattr(aggregate, name, value)

    class Redirected(Event):
        TOPIC: ClassVar[str] = "complaints:ComplaintRedirected"
        class_version: ClassVar[int] = 1
        destination: str
        force_name: str | None
        reason: str

        def apply(self, aggregate: Complaint) -> None:
            aggregate.status = Status.REDIRECTED
            aggregate.final_at = self.occurred_at
            aggregate.redirect = {
                "destination": self.destination,
                "force_name": self.force_name,
                "reason": self.reason,
                "redirected_at": self.occurred_at,
                "by": self.actor,
            }

    class InvestigatorAssigned(Event):
        TOPIC: ClassVar[str] = "complaints:InvestigatorAssigned"
        class_version: ClassVar[int] = 1
        investigator_id: str
        investigator_name: str
        previous_investigator_id: str | None
        previous_investigator_name: str | None
        reason: str | None

        def apply(self, aggregate: Complaint) -> None:
            aggregate.investigator = {
                "id": self.investigator_id,
                "name": self.investigator_name,
                "assigned_at": self.occurred_at,
            }
            aggregate.assignments = [
                *aggregate.assignments,
                {
                    "investigator_id": self.investigator_id,
                    "investigator_name": self.investigator_name,
                    "reason": self.reason,
                    "occurred_at": self.occurred_at,
                    "by": self.actor,
                },
            ]
            if aggregate.status is Status.LODGED:
                aggregate.status = Status.ASSIGNED
                aggregate.assigned_at = self.occurred_at

    class ComplainantContacted(Event):
        TOPIC: ClassVar[str] = "complaints:ComplainantContacted"
        class_version: ClassVar[int] = 1
        method: str
        summary: str
        # Part B: the complainant's views, sought before the handling decision. Added with
        # defaults, so that a contact stored before them reads as it always did (no upcast,
        # and part A's contacts are unchanged).
        wants_recording: bool = False
        desired_outcome: str | None = None

        def apply(self, aggregate: Complaint) -> None:
            aggregate.contacts = [
                *aggregate.contacts,
                {
                    "method": self.method,
                    "occurred_at": self.occurred_at,
                    "summary": self.summary,
                    "by": self.actor,
                },
            ]
            if self.wants_recording:
                aggregate.wants_recording = True
            if self.desired_outcome is not None:
                aggregate.desired_outcome = self.desired_outcome
            # A recorded complaint stays recorded through further contacts (part B).
            if aggregate.status in (Status.ASSIGNED, Status.IN_CONTACT):
                aggregate.status = Status.IN_CONTACT
            if aggregate.first_contact_at is None or self.occurred_at < aggregate.first_contact_at:
                aggregate.first_contact_at = self.occurred_at

    class Resolved(Event):
        TOPIC: ClassVar[str] = "complaints:ComplaintResolved"
        class_version: ClassVar[int] = 1
        outcome: str
        summary: str
        learning: list[dict[str, Any]]

        def apply(self, aggregate: Complaint) -> None:
            aggregate.status = Status.RESOLVED
            aggregate.resolved_at = self.occurred_at
            aggregate.final_at = self.occurred_at
            aggregate.resolution = {
                "outcome": self.outcome,
                "summary": self.summary,
                "learning": self.learning,
                "resolved_at": self.occurred_at,
                "by": self.actor,
            }

    # The library expects a nested `Created`; ours is `Lodged`, under its own stable topic.
    Created = Lodged

    # ---- state, built only by the events above --------------------------------------------

    reference: str
    status: Status
    received_at: datetime
    subject_kind: SubjectKind
    lodged: dict[str, Any]
    late: bool
    redirect: dict[str, Any] | None
    investigator: dict[str, Any] | None
    assignments: list[dict[str, Any]]
    contacts: list[dict[str, Any]]
    resolution: dict[str, Any] | None
    assigned_at: datetime | None
    first_contact_at: datetime | None
    resolved_at: datetime | None
    # When it became final (resolved or redirected): retention counts from that day.
    final_at: datetime | None
    # For the acknowledgement letter only: shown in the lodging's answer, never in a read.
    access_code: str | None
    # Not state: the instant its status is judged at (a notified outcome becomes finalised by
    # the passing of time), set by whoever loads it: now, or the `as_of` instant.
    judged_at: datetime | None = None

    def __init__(self) -> None:
        """The state is assigned by `Lodged.apply`, on lodging and on replay alike."""

    def __eq__(self, other: object) -> bool:
        """Equal state: the instant it was judged at is not part of it."""
        if type(other) is not type(self):
            return NotImplemented
        mine, theirs = dict(vars(self)), dict(vars(other))
        mine.pop("judged_at", None)
        theirs.pop("judged_at", None)
        return mine == theirs

    __hash__ = None  # type: ignore[assignment]

    # ---- commands ---------------------------------------------------------------------------

    @classmethod
    def lodge(
        cls,
        *,
        reference: str,
        command: LodgeComplaint,
        actor: Actor,
        now: datetime,
        earliest_receipt: date = rules.EARLIEST_RECEIPT,
        sealed_parts: tuple[Part, ...] = (),
        keyed: KeyedHashes | None = None,
    ) -> Complaint:
        received_at = command.received_at or now
        rules.check_lodging(command, received_at, now, earliest_receipt)
        payload = command.model_dump(mode="json", exclude={"received_at"})
        payload["incident_date"] = command.incident_date
        return cls._create(
            cls.Lodged,
            id=complaint_id_for(reference),
            actor=actor.model_dump(),
            occurred_at=received_at,
            reference=reference,
            received_at=received_at,
            late=rules.is_late(command.incident_date, received_at),
            sealed_parts=[part.value for part in sealed_parts],
            shoulder_number_hash=keyed.shoulder_number if keyed else None,
            access_code_hash=keyed.access_code_hash if keyed else None,
            access_code=keyed.access_code if keyed else None,
            **payload,
        )

    def decide(
        self,
        command: ComplaintChange,
        *,
        actor: Actor,
        supervisor: bool,
        now: datetime,
        retention_years: int = DEFAULT_RETENTION_YEARS,
    ) -> None:
        """Carries out one command on the complaint: the one way in for the service."""
        match command:
            case ReviewRetention() | ErasePersonalData() | RestrictProcessing() | LiftRestriction():
                self.decide_records(command, actor=actor, now=now, retention_years=retention_years)
            case RedirectComplaint():
                self.redirect_to(command, actor=actor, now=now)
            case AssignInvestigator():
                self.assign_investigator(command, actor=actor, now=now)
            case RecordContact():
                self.record_contact(command, actor=actor, supervisor=supervisor, now=now)
            case ResolveComplaint():
                self.resolve(command, actor=actor, supervisor=supervisor, now=now)
            case (
                AddAllegation()
                | DecideHandling()
                | ReferToIopc()
                | RecordIopcDetermination()
                | SendProgressUpdate()
                | NotifyOutcome()
                | RequestReview()
                | DecideReview()
                | WithdrawComplaint()
            ):
                self.decide_statutory(command, actor=actor, supervisor=supervisor, now=now)
            case _:
                assert_never(command)

    @property
    def investigator_id(self) -> str | None:
        return self.investigator["id"] if self.investigator else None

    def _occurred(self, occurred_at: datetime | None, now: datetime) -> datetime:
        if occurred_at is None:
            return now
        rules.check_occurred_at(occurred_at, self.received_at, now)
        return occurred_at
