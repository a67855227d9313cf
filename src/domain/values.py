"""Value objects and commands of the complaints domain.

These pydantic models check shape (types, enumerations, lengths); the business rules of
docs/DOMAIN.md live in `rules.py`, so that each refusal is a named domain error rather than a
schema failure.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from domain.personal_data import Part

# Free text is bounded so that one request cannot grow an event without limit.
# Blank text is refused (it is stripped first): the schema says so with a pattern, so that a
# client generated from it never sends spaces alone.
_NOT_BLANK = Field(json_schema_extra={"pattern": r"\S"})
ShortText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), _NOT_BLANK
]
LongText = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20_000), _NOT_BLANK
]
Identifier = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=r"^\S+$")
]


# Dates outside these years are typing slips, and arithmetic on them would overflow.
EARLIEST_YEAR, LATEST_YEAR = 1900, 9000


def _plausible(value: date) -> date:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must lie between the years {EARLIEST_YEAR} and {LATEST_YEAR}")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("must carry a UTC offset, e.g. 2026-11-24T10:15:00Z")
    _plausible(value)
    return value


# The years allowed, said in the schema too, so that a generated client or fuzzer keeps to them.
_PLAUSIBLE_YEAR = Field(json_schema_extra={"pattern": r"^(19[0-9]{2}|[2-8][0-9]{3}|9000)-"})
AwareDatetime = Annotated[datetime, AfterValidator(_aware), _PLAUSIBLE_YEAR]


def _email(value: str) -> str:
    # Blank counts as "not given" (rule 1 then names it); anything else must look like one.
    if value and not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
        raise ValueError("is not an email address")
    return value


PlausibleDate = Annotated[date, AfterValidator(_plausible), _PLAUSIBLE_YEAR]


class Channel(StrEnum):
    ONLINE = "online"
    LETTER = "letter"
    POLICE_STATION = "police_station"
    IOPC = "iopc"
    PARTNER_ORGANISATION = "partner_organisation"
    REPRESENTATIVE = "representative"


class Standing(StrEnum):
    EXPERIENCED = "experienced"
    WITNESSED = "witnessed"
    ADVERSELY_AFFECTED = "adversely_affected"


class SubjectKind(StrEnum):
    OFFICER = "officer"
    STAFF = "staff"
    CONTRACTOR = "contractor"
    VOLUNTEER = "volunteer"
    CASE_HANDLING = "case_handling"
    POLICE_STATION = "police_station"
    FORCE_GENERAL = "force_general"
    COMMISSIONER = "commissioner"
    OTHER_FORCE = "other_force"

    @property
    def is_person(self) -> bool:
        return self in PERSON_KINDS


PERSON_KINDS = frozenset(
    {SubjectKind.OFFICER, SubjectKind.STAFF, SubjectKind.CONTRACTOR, SubjectKind.VOLUNTEER}
)


class Behaviour(StrEnum):
    RUDE_OR_AGGRESSIVE = "rude_or_aggressive"
    CAUSING_DISTRESS = "causing_distress"
    CAUSING_INCONVENIENCE = "causing_inconvenience"
    CAUSING_PROPERTY_LOSS_OR_DAMAGE = "causing_property_loss_or_damage"
    CAUSING_DANGER_OR_RISK = "causing_danger_or_risk"


# The effects an adversely affected complainant may name (rule 4) are the behaviours' effects.
EFFECTS = frozenset(Behaviour) - {Behaviour.RUDE_OR_AGGRESSIVE}


class OnBehalfBasis(StrEnum):
    PARENT_OR_GUARDIAN_OF_CHILD_UNDER_16 = "parent_or_guardian_of_child_under_16"
    WRITTEN_CONSENT = "written_consent"


class RedirectDestination(StrEnum):
    MOPAC = "mopac"
    OTHER_FORCE = "other_force"
    IOPC = "iopc"


class ContactMethod(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    LETTER = "letter"
    IN_PERSON = "in_person"
    VIDEO = "video"


class Outcome(StrEnum):
    EXPLANATION_GIVEN = "explanation_given"
    APOLOGY_GIVEN = "apology_given"
    INFORMATION_PROVIDED = "information_provided"
    SERVICE_ACCEPTABLE = "service_acceptable"
    SERVICE_NOT_ACCEPTABLE = "service_not_acceptable"
    UNABLE_TO_DETERMINE = "unable_to_determine"
    PRACTICE_REQUIRING_IMPROVEMENT = "practice_requiring_improvement"
    REFERRED_FOR_MISCONDUCT = "referred_for_misconduct"
    NO_FURTHER_ACTION = "no_further_action"


class Status(StrEnum):
    LODGED = "lodged"
    ASSIGNED = "assigned"
    IN_CONTACT = "in_contact"
    RESOLVED = "resolved"
    REDIRECTED = "redirected"
    # The statutory process (part B).
    RECORDED = "recorded"
    OUTCOME_NOTIFIED = "outcome_notified"
    UNDER_REVIEW = "under_review"
    FINALISED = "finalised"
    WITHDRAWN = "withdrawn"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATUSES

    @property
    def is_redirectable(self) -> bool:
        return self in REDIRECTABLE_STATUSES


OPEN_STATUSES = frozenset(
    {
        Status.LODGED,
        Status.ASSIGNED,
        Status.IN_CONTACT,
        Status.RECORDED,
        Status.OUTCOME_NOTIFIED,
        Status.UNDER_REVIEW,
    }
)
REDIRECTABLE_STATUSES = frozenset(
    {Status.LODGED, Status.ASSIGNED, Status.IN_CONTACT, Status.RECORDED}
)


class Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Actor(Value):
    """Who did something: the token's `sub` and `name`."""

    id: Identifier
    name: ShortText


class Complainant(Value):
    name: ShortText | None = None
    email: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, max_length=254),
            AfterValidator(_email),
            Field(json_schema_extra={"format": "email"}),
        ]
        | None
    ) = None
    phone: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    address: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    date_of_birth: PlausibleDate | None = None


class OnBehalfOf(Value):
    name: ShortText | None = None
    date_of_birth: PlausibleDate | None = None
    basis: OnBehalfBasis
    consent_reference: ShortText | None = None


class Subject(Value):
    kind: SubjectKind
    name: ShortText | None = None
    shoulder_number: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=20)] | None
    ) = None
    description: LongText | None = None
    station: ShortText | None = None
    force_name: ShortText | None = None


class LearningPoint(Value):
    # The theme is a category that analysts count, so it is kept short; the note is personal data.
    theme: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=80), _NOT_BLANK
    ]
    note: LongText | None = None


class LodgeComplaint(Value):
    received_at: AwareDatetime | None = None
    channel: Channel
    channel_detail: ShortText | None = None
    complainant: Complainant
    on_behalf_of: OnBehalfOf | None = None
    standing: Standing
    subject: Subject
    behaviours: Annotated[list[Behaviour], Field(max_length=len(Behaviour))] = []
    incident_date: PlausibleDate | None = None
    location: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None = None
    description: LongText


class RedirectComplaint(Value):
    destination: RedirectDestination
    force_name: ShortText | None = None
    reason: LongText
    occurred_at: AwareDatetime | None = None


class AssignInvestigator(Value):
    investigator_id: Identifier
    investigator_name: ShortText
    reason: LongText | None = None
    occurred_at: AwareDatetime | None = None


class RecordContact(Value):
    method: ContactMethod
    occurred_at: AwareDatetime | None = None
    summary: LongText
    # Part B: the complainant's views, sought before the handling decision (rules 13 and 14).
    wants_recording: bool = False
    desired_outcome: LongText | None = None


class ResolveComplaint(Value):
    outcome: Outcome
    summary: LongText
    learning: Annotated[list[LearningPoint], Field(max_length=50)] = []
    occurred_at: AwareDatetime | None = None


class ErasureBasis(StrEnum):
    RETENTION_EXPIRED = "retention_expired"
    ERASURE_REQUEST = "erasure_request"
    COURT_ORDER = "court_order"


class ReviewRetention(Value):
    decision: Literal["retain"]
    reason: LongText
    next_review_on: PlausibleDate
    occurred_at: AwareDatetime | None = None


class ErasePersonalData(Value):
    basis: ErasureBasis
    authority_ref: ShortText
    # Every part when not given.
    parts: Annotated[list[Part], Field(min_length=1, max_length=len(Part))] | None = None
    occurred_at: AwareDatetime | None = None


class RestrictProcessing(Value):
    reason: LongText
    authority_ref: ShortText
    occurred_at: AwareDatetime | None = None


class LiftRestriction(Value):
    reason: LongText
    occurred_at: AwareDatetime | None = None


# The records manager's commands (docs/DOMAIN.md part C), allowed after a final status.
RecordsChange = ReviewRetention | ErasePersonalData | RestrictProcessing | LiftRestriction

# The lifecycle's commands on an existing complaint (part A) and the records manager's; with
# the statutory process's, `statutory_values.ComplaintChange` is what `Complaints.act` takes.
LifecycleChange = (
    RedirectComplaint | AssignInvestigator | RecordContact | ResolveComplaint | RecordsChange
)
