"""The statutory process on the Complaint aggregate: Schedule 3 (docs/DOMAIN.md part B).

Nine events, each a fact with its actor and `occurred_at`, under its own stable topic. A
complaint with no handling decision is outside Schedule 3, so part A's events and flows are
untouched. The passing of time needs no event: a notified outcome with no review requested is
`finalised` once its review deadline passes, which `status_at` derives for any instant.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from domain.statutory_values import (
    HandlingMode,
)
from domain.values import Status


class StatutoryEvent(Aggregate.Event):
    TOPIC: ClassVar[str]
    actor: dict[str, str]
    occurred_at: datetime


class AllegationAdded(StatutoryEvent):
    TOPIC: ClassVar[str] = "complaints:AllegationAdded"
    class_version: ClassVar[int] = 1
    allegation_id: str
    category: str
    subcategory: str | None
    description: str
    flags: list[str]

    def apply(self, aggregate: Any) -> None:
        aggregate.allegations = [
            *aggregate.allegations,
            {
                "allegation_id": self.allegation_id,
                "category": self.category,
                "subcategory": self.subcategory,
                "description": self.description,
                "flags": self.flags,
                "added_at": self.occurred_at,
                "by": self.actor,
            },
        ]


class HandlingDecided(StatutoryEvent):
    TOPIC: ClassVar[str] = "complaints:HandlingDecided"
    class_version: ClassVar[int] = 1
    mode: str
    reason: str

    def apply(self, aggregate: Any) -> None:
        aggregate.handling = {
            "mode": self.mode,
            "reason": self.reason,
            "decided_at": self.occurred_at,
            "by": self.actor,
        }
        if self.mode == HandlingMode.SCHEDULE_3:
            aggregate.status = Status.RECORDED
            aggregate.recorded_at = self.occurred_at
            aggregate.update_from = self.occurred_at


class ReferredToIopc(StatutoryEvent):
    TOPIC: ClassVar[str] = "complaints:ReferredToIopc"
    class_version: ClassVar[int] = 1
    grounds: list[str]
    iopc_reference: str | None

    def apply(self, aggregate: Any) -> None:
        aggregate.iopc = {
            "referred_at": self.occurred_at,
            "grounds": self.grounds,
            "reference": self.iopc_reference,
            "determination": None,
            "determined_at": None,
        }


class IopcDetermined(StatutoryEvent):
    TOPIC: ClassVar[str] = "complaints:IopcDetermined"
    class_version: ClassVar[int] = 1
    mode: str
    iopc_reference: str | None

    def apply(self, aggregate: Any) -> None:
        aggregate.iopc = {
            **aggregate.iopc,
            "reference": self.iopc_reference or aggregate.iopc["reference"],
            "determination": self.mode,
            "determined_at": self.occurred_at,
        }


class ProgressUpdateSent(StatutoryEvent):
    TOPIC: ClassVar[str] = "complaints:ProgressUpdateSent"
    class_version: ClassVar[int] = 1
    method: str
    summary: str

    def apply(self, aggregate: Any) -> None:
        aggregate.updates = [
            *aggregate.updates,
            {
                "method": self.method,
                "summary": self.summary,
                "occurred_at": self.occurred_at,
                "by": self.actor,
            },
        ]
        aggregate.update_from = max(aggregate.update_from, self.occurred_at)


class OutcomeNotified(StatutoryEvent):
    TOPIC: ClassVar[str] = "complaints:OutcomeNotified"
    class_version: ClassVar[int] = 1
    allegations: list[dict[str, str]]
    actions: list[str]
    summary: str
    learning: list[dict[str, Any]]
    review_body: str
    review_deadline: date

    def apply(self, aggregate: Any) -> None:
        aggregate.status = Status.OUTCOME_NOTIFIED
        aggregate.outcome = {
            "allegations": self.allegations,
            "actions": self.actions,
            "summary": self.summary,
            "learning": self.learning,
            "notified_at": self.occurred_at,
            "by": self.actor,
        }
        aggregate.review = {
            "body": self.review_body,
            "deadline": self.review_deadline,
            "requested_at": None,
            "received_at": None,
            "grounds": None,
            "late_reason": None,
            "reasonable_and_proportionate": None,
            "recommendations": [],
            "decided_at": None,
        }


class ReviewRequested(StatutoryEvent):
    TOPIC: ClassVar[str] = "complaints:ReviewRequested"
    class_version: ClassVar[int] = 1
    received_at: datetime
    grounds: str
    late_reason: str | None

    def apply(self, aggregate: Any) -> None:
        aggregate.status = Status.UNDER_REVIEW
        aggregate.review = {
            **aggregate.review,
            "requested_at": self.occurred_at,
            "received_at": self.received_at,
            "grounds": self.grounds,
            "late_reason": self.late_reason,
        }


class ReviewDecided(StatutoryEvent):
    TOPIC: ClassVar[str] = "complaints:ReviewDecided"
    class_version: ClassVar[int] = 1
    reasonable_and_proportionate: bool
    recommendations: list[str]

    def apply(self, aggregate: Any) -> None:
        aggregate.review = {
            **aggregate.review,
            "reasonable_and_proportionate": self.reasonable_and_proportionate,
            "recommendations": self.recommendations,
            "decided_at": self.occurred_at,
        }
        aggregate.reviews = [*aggregate.reviews, aggregate.review]
        if self.reasonable_and_proportionate:
            aggregate.status = Status.FINALISED
            aggregate.final_at = self.occurred_at
        else:  # reopened: investigated again, updates due again from today
            aggregate.status = Status.RECORDED
            aggregate.update_from = self.occurred_at


class ComplaintWithdrawn(StatutoryEvent):
    TOPIC: ClassVar[str] = "complaints:ComplaintWithdrawn"
    class_version: ClassVar[int] = 1
    signed_by: str
    signed_on: date
    scope: str

    def apply(self, aggregate: Any) -> None:
        aggregate.status = Status.WITHDRAWN
        aggregate.final_at = self.occurred_at
        aggregate.withdrawal = {
            "signed_by": self.signed_by,
            "signed_on": self.signed_on,
            "scope": self.scope,
            "withdrawn_at": self.occurred_at,
            "by": self.actor,
        }


STATUTORY_EVENTS: tuple[type[StatutoryEvent], ...] = (
    AllegationAdded,
    HandlingDecided,
    ReferredToIopc,
    IopcDetermined,
    ProgressUpdateSent,
    OutcomeNotified,
    ReviewRequested,
    ReviewDecided,
    ComplaintWithdrawn,
)
for _event_class in STATUTORY_EVENTS:
    register_topic(_event_class.TOPIC, _event_class)


def fresh_statutory_state() -> dict[str, Any]:
    """The part-B state of a complaint just lodged (set by the lodging's `apply`)."""
    return {
        "handling": None,
        "allegations": [],
        "iopc": None,
        "updates": [],
        "outcome": None,
        "review": None,
        "reviews": [],
        "withdrawal": None,
        "wants_recording": False,
        "desired_outcome": None,
        "recorded_at": None,
        "update_from": None,
    }
