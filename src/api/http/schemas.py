"""Response bodies of the HTTP API: the `Complaint` of docs/API.md and its history.

Erased personal values read as null, and so do all of them for a reader who may not see a
restricted complaint's personal data (`personal=False`): the same map of personal fields
(`domain.personal_data`) decides both.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.complaint import Complaint
from domain.personal_data import PARTS, Part, forget_event_fields, forget_standing_fields
from domain.service import HistoryEntry
from domain.statutory_rules import UPDATE_EVERY_DAYS
from domain.statutory_values import (
    ActionTaken,
    AllegationFlag,
    AllegationOutcome,
    HandlingMode,
    IopcCategory,
    IopcMode,
    ReviewBody,
    SignedBy,
)
from domain.values import (
    Behaviour,
    Channel,
    Complainant,
    ContactMethod,
    LearningPoint,
    OnBehalfOf,
    Outcome,
    RedirectDestination,
    Standing,
    Status,
    Subject,
)


class Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActorOut(Out):
    id: str
    name: str


class RedirectOut(Out):
    destination: RedirectDestination
    force_name: str | None
    reason: str
    redirected_at: datetime
    by: ActorOut


class InvestigatorOut(Out):
    id: str
    name: str
    assigned_at: datetime


class AssignmentOut(Out):
    investigator_id: str
    investigator_name: str
    reason: str | None
    occurred_at: datetime
    by: ActorOut


class ContactOut(Out):
    method: ContactMethod
    occurred_at: datetime
    summary: str | None
    by: ActorOut


class ResolutionOut(Out):
    outcome: Outcome
    summary: str | None
    learning: list[LearningPoint]
    resolved_at: datetime
    by: ActorOut


class ErasedOut(Out):
    at: datetime
    basis: str
    authority_ref: str
    parts: list[Part]


class RestrictedOut(Out):
    since: datetime
    reason: str
    authority_ref: str


class RetentionReviewOut(Out):
    decision: str
    reason: str
    next_review_on: date
    reviewed_at: datetime
    by: ActorOut


# ---- The statutory process (docs/API.md "The statutory process") -------------------------------


class HandlingOut(Out):
    mode: HandlingMode
    reason: str
    decided_at: datetime
    by: ActorOut


class AllegationOut(Out):
    allegation_id: str = Field(examples=["A1"])
    category: IopcCategory
    subcategory: str | None
    description: str | None
    flags: list[AllegationFlag]
    added_at: datetime
    by: ActorOut


class IopcOut(Out):
    referred_at: datetime
    grounds: list[str]
    reference: str | None
    determination: IopcMode | None
    determined_at: datetime | None


class UpdateOut(Out):
    method: ContactMethod
    summary: str | None
    occurred_at: datetime
    by: ActorOut


class AllegationResultOut(Out):
    allegation_id: str
    outcome: AllegationOutcome


class NotifiedOutcomeOut(Out):
    allegations: list[AllegationResultOut]
    actions: list[ActionTaken]
    summary: str | None
    learning: list[LearningPoint]
    notified_at: datetime
    by: ActorOut


class ReviewOut(Out):
    body: ReviewBody
    deadline: date = Field(description="The last day a review is in time (rule 18).")
    requested_at: datetime | None
    received_at: datetime | None
    grounds: str | None
    late_reason: str | None
    reasonable_and_proportionate: bool | None
    recommendations: list[str | None]
    decided_at: datetime | None


class WithdrawalOut(Out):
    signed_by: SignedBy
    signed_on: date
    scope: str | None
    withdrawn_at: datetime
    by: ActorOut


class ComplaintOut(Out):
    """One complaint as it stands (or stood), replayed from its events."""

    complaint_id: UUID
    reference: str
    status: Status
    version: int
    received_at: datetime
    channel: Channel
    channel_detail: str | None
    complainant: Complainant | None
    on_behalf_of: OnBehalfOf | None
    standing: Standing
    subject: Subject
    behaviours: list[Behaviour]
    incident_date: date | None
    location: str | None
    description: str | None
    late: bool
    redirect: RedirectOut | None
    investigator: InvestigatorOut | None
    assignments: list[AssignmentOut]
    contacts: list[ContactOut]
    resolution: ResolutionOut | None
    lodged_at: datetime
    assigned_at: datetime | None
    first_contact_at: datetime | None
    resolved_at: datetime | None
    last_recorded_at: datetime
    # Records management (docs/API.md): null unless erased or restricted.
    erased: ErasedOut | None = None
    restricted: RestrictedOut | None = None
    retention_reviews: list[RetentionReviewOut] = []
    # The statutory process (docs/API.md): null or empty outside Schedule 3.
    wants_recording: bool = False
    desired_outcome: str | None = None
    handling: HandlingOut | None = None
    allegations: list[AllegationOut] = []
    iopc: IopcOut | None = None
    updates: list[UpdateOut] = []
    next_update_due: date | None = Field(
        default=None, description="While recorded: the day the next progress update is due."
    )
    outcome: NotifiedOutcomeOut | None = None
    review: ReviewOut | None = Field(
        default=None, description="Once an outcome is notified: the review of the latest one."
    )
    reviews: list[ReviewOut] = Field(default=[], description="Every review decided, oldest first.")
    withdrawal: WithdrawalOut | None = None
    final_on: date | None = Field(
        default=None,
        description="The day it became final; for a notified outcome with no review "
        "requested, the day after the review deadline.",
    )


class CommandResultOut(ComplaintOut):
    position: int


class LodgedOut(CommandResultOut):
    """The 201 of a lodging (and of its Idempotency-Key replays): the complaint as lodged, and
    the complainant's access code for the status page, to print on the acknowledgement letter."""

    access_code: str | None = Field(
        description="For `GET /status/{reference}` (header X-Access-Code), shown in this answer "
        "only: no read shows it again. Null for a complaint stored in clear (it has none) and "
        "once the complainant's personal data is erased.",
        examples=["ABCD-EFGH-JKMN"],
    )


class HistoryEventOut(Out):
    version: int
    type: str
    recorded_at: datetime
    occurred_at: datetime
    actor: ActorOut
    data: dict[str, Any]


class HistoryOut(Out):
    complaint_id: UUID
    events: list[HistoryEventOut]


def complaint_fields(
    complaint: Complaint, *, personal: bool = True, update_every_days: int = UPDATE_EVERY_DAYS
) -> dict[str, Any]:
    """The `Complaint` body's fields, its status judged when the complaint was loaded."""
    judged_at = complaint.judged_at or complaint.modified_on
    fields = {
        "complaint_id": complaint.id,
        "reference": complaint.reference,
        "status": complaint.status_at(judged_at),
        "version": complaint.version,
        **complaint.lodged,
        "late": complaint.late,
        "redirect": complaint.redirect,
        "investigator": complaint.investigator,
        "assignments": complaint.assignments,
        "contacts": complaint.contacts,
        "resolution": complaint.resolution,
        "lodged_at": complaint.received_at,
        "assigned_at": complaint.assigned_at,
        "first_contact_at": complaint.first_contact_at,
        "resolved_at": complaint.resolved_at,
        "last_recorded_at": complaint.modified_on,
        "erased": complaint.erased,
        "restricted": complaint.restricted,
        "retention_reviews": complaint.retention_reviews,
        "wants_recording": complaint.wants_recording,
        "desired_outcome": complaint.desired_outcome,
        "handling": complaint.handling,
        "allegations": complaint.allegations,
        "iopc": complaint.iopc,
        "updates": complaint.updates,
        "next_update_due": complaint.next_update_due(update_every_days),
        "outcome": complaint.outcome,
        "review": complaint.review,
        "reviews": complaint.reviews,
        "withdrawal": complaint.withdrawal,
        "final_on": complaint.final_on(judged_at),
    }
    return fields if personal else forget_standing_fields(fields, PARTS)


def complaint_out(
    complaint: Complaint, *, personal: bool = True, update_every_days: int = UPDATE_EVERY_DAYS
) -> ComplaintOut:
    fields = complaint_fields(complaint, personal=personal, update_every_days=update_every_days)
    return ComplaintOut.model_validate(fields)


def command_result_out(
    complaint: Complaint,
    position: int,
    *,
    personal: bool = True,
    update_every_days: int = UPDATE_EVERY_DAYS,
) -> CommandResultOut:
    fields = complaint_fields(complaint, personal=personal, update_every_days=update_every_days)
    return CommandResultOut.model_validate({**fields, "position": position})


def _shown(entry: HistoryEntry, personal: bool) -> dict[str, Any]:
    if personal:
        return entry.data
    return forget_event_fields(f"complaints:{entry.type}", entry.data, PARTS)


def history_out(
    complaint_id: UUID, entries: list[HistoryEntry], *, personal: bool = True
) -> HistoryOut:
    return HistoryOut(
        complaint_id=complaint_id,
        events=[
            HistoryEventOut(
                version=entry.version,
                type=entry.type,
                recorded_at=entry.recorded_at,
                occurred_at=entry.occurred_at,
                actor=ActorOut.model_validate(entry.actor),
                data=_shown(entry, personal),
            )
            for entry in entries
        ],
    )
