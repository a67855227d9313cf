"""Records management on the Complaint aggregate: retention, restriction and erasure.

docs/DOMAIN.md part C. These are the only events allowed after a final status (rule 11's
exception). A retention review is a recorded decision, not a timer; erasure records
`PersonalDataErased` and the event store destroys the erased parts' keys in the same
transaction, so that the ciphertext left in the log is noise. The aggregate also forgets the
erased values at once, so that no read shows them, whatever a cache still holds.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from eventsourcing.domain import Aggregate
from eventsourcing.utils import register_topic

from domain.errors import (
    AlreadyErasedError,
    AlreadyRestrictedError,
    ErasureNotDueError,
    FieldProblem,
    NextReviewDateError,
    NotFinalError,
    NotRestrictedError,
    ProcessingRestrictedError,
    StoredInClearError,
)
from domain.personal_data import PARTS, STANDING_STATE, Part, forget_standing_fields
from domain.rules import check_occurred_at, local_date, years_before
from domain.values import (
    Actor,
    ErasePersonalData,
    ErasureBasis,
    RecordsChange,
    RestrictProcessing,
    ReviewRetention,
    Status,
)

DEFAULT_RETENTION_YEARS = 6


class RecordsEvent(Aggregate.Event):
    actor: dict[str, str]
    occurred_at: datetime


class RetentionReviewed(RecordsEvent):
    TOPIC: ClassVar[str] = "complaints:RetentionReviewed"
    class_version: ClassVar[int] = 1
    decision: str
    reason: str
    next_review_on: date

    def apply(self, aggregate: Any) -> None:
        aggregate.retention_reviews = [
            *aggregate.retention_reviews,
            {
                "decision": self.decision,
                "reason": self.reason,
                "next_review_on": self.next_review_on,
                "reviewed_at": self.occurred_at,
                "by": self.actor,
            },
        ]


class PersonalDataErased(RecordsEvent):
    TOPIC: ClassVar[str] = "complaints:PersonalDataErased"
    class_version: ClassVar[int] = 1
    basis: str
    authority_ref: str
    parts: list[str]

    def apply(self, aggregate: Any) -> None:
        before = aggregate.erased["parts"] if aggregate.erased else []
        parts = [p.value for p in PARTS if p.value in {*before, *self.parts}]
        aggregate.erased = {
            "at": self.occurred_at,
            "basis": self.basis,
            "authority_ref": self.authority_ref,
            "parts": parts,
        }
        aggregate.forget([Part(p) for p in parts])


class ProcessingRestricted(RecordsEvent):
    TOPIC: ClassVar[str] = "complaints:ProcessingRestricted"
    class_version: ClassVar[int] = 1
    reason: str
    authority_ref: str

    def apply(self, aggregate: Any) -> None:
        aggregate.restricted = {
            "since": self.occurred_at,
            "reason": self.reason,
            "authority_ref": self.authority_ref,
        }


class RestrictionLifted(RecordsEvent):
    TOPIC: ClassVar[str] = "complaints:RestrictionLifted"
    class_version: ClassVar[int] = 1
    reason: str

    def apply(self, aggregate: Any) -> None:
        aggregate.restricted = None


# Nested events get their explicit topics registered by the Aggregate; these are not nested.
for _event_class in (
    RetentionReviewed,
    PersonalDataErased,
    ProcessingRestricted,
    RestrictionLifted,
):
    register_topic(_event_class.TOPIC, _event_class)

ERASURE_TOPIC = PersonalDataErased.TOPIC


def erased_parts(events: Any) -> set[Part]:
    """The parts erased by any of `events` (a complaint's history, in any order)."""
    found: set[Part] = set()
    for event in events:
        if isinstance(event, PersonalDataErased):
            found.update(Part(p) for p in event.parts)
    return found


def is_restricted(events: Any) -> bool:
    """Whether the last restriction among `events` (a complaint's history) is still in force."""
    restricted = False
    for event in events:
        if isinstance(event, ProcessingRestricted | RestrictionLifted):
            restricted = isinstance(event, ProcessingRestricted)
    return restricted


# ---- the rules of part C (pure: each refusal is a named error and records nothing) ----------


def retention_due_on(final_on: date, next_review_on: date | None, years: int) -> date:
    """Due `years` after the day it became final, or on the last `retain` decision's date."""
    return next_review_on if next_review_on is not None else years_before(final_on, -years)


def check_final(status: Status) -> None:
    if status.is_open:
        raise NotFinalError(
            f"The complaint is {status.value}: retention and erasure apply once it is final."
        )


def check_next_review(next_review_on: date, today: date) -> None:
    if next_review_on <= today:
        raise NextReviewDateError(
            "The next review must be after today.",
            fields=(FieldProblem("next_review_on", f"must be after {today.isoformat()}"),),
        )


def check_erasable(
    *,
    basis: ErasureBasis,
    parts: list[Part],
    erased: list[str],
    sealed: list[str],
    restricted: bool,
    due_on: date,
    today: date,
) -> None:
    if restricted:
        raise ProcessingRestrictedError(
            "Processing is restricted: the data is kept as evidence. Lift the restriction first."
        )
    if all(part.value in erased for part in parts):
        raise AlreadyErasedError("Those parts of the personal data are already erased.")
    if any(part.value not in sealed for part in parts):
        raise StoredInClearError(
            "This complaint was stored before personal data was encrypted; its bytes cannot "
            "be shredded from the append-only log."
        )
    if basis is ErasureBasis.RETENTION_EXPIRED and today < due_on:
        raise ErasureNotDueError(
            f"The complaint is due for retention review on {due_on.isoformat()}: erasure on "
            "basis retention_expired is refused until then."
        )


class RecordsOfComplaint:
    """The records manager's commands, mixed into `Complaint` (its state is declared there)."""

    status: Status
    received_at: datetime
    final_at: datetime | None
    erased: dict[str, Any] | None
    restricted: dict[str, Any] | None
    retention_reviews: list[dict[str, Any]]
    sealed_parts: list[str]
    lodged: dict[str, Any]
    contacts: list[dict[str, Any]]
    resolution: dict[str, Any] | None
    access_code: str | None

    if TYPE_CHECKING:  # the Aggregate's and `StatutoryProcess`'s, which `Complaint` inherits

        def trigger_event(self, event_class: Any, **kwargs: Any) -> None: ...

        def status_at(self, moment: datetime) -> Status: ...

        def final_on(self, moment: datetime) -> date | None: ...

    def forget(self, parts: list[Part]) -> None:
        """Reads the personal values of `parts` as null from now on (erasure, or a reader who
        may not see them)."""
        held = {name: getattr(self, name) for name in STANDING_STATE}
        view = forget_standing_fields({**self.lodged, **held}, parts)
        for name in STANDING_STATE:
            setattr(self, name, view.pop(name))
        self.lodged = view
        if Part.COMPLAINANT in parts:
            self.access_code = None

    def retention_due_on(self, years: int, now: datetime) -> date | None:
        final_on = self.final_on(now)
        if final_on is None:
            return None
        last = self.retention_reviews[-1]["next_review_on"] if self.retention_reviews else None
        return retention_due_on(final_on, last, years)

    def decide_records(
        self, command: RecordsChange, *, actor: Actor, now: datetime, retention_years: int
    ) -> None:
        occurred_at = command.occurred_at or now
        if command.occurred_at is not None:
            check_occurred_at(occurred_at, self.received_at, now)
        common = {"actor": actor.model_dump(), "occurred_at": occurred_at}
        if isinstance(command, ReviewRetention):
            check_final(self.status_at(now))
            self._review(command, common, local_date(now))
        elif isinstance(command, ErasePersonalData):
            check_final(self.status_at(now))
            self._erase(command, common, now, retention_years)
        elif isinstance(command, RestrictProcessing):
            if self.restricted is not None:
                raise AlreadyRestrictedError("Processing is already restricted.")
            self.trigger_event(
                ProcessingRestricted,
                **common,
                reason=command.reason,
                authority_ref=command.authority_ref,
            )
        else:
            if self.restricted is None:
                raise NotRestrictedError("Processing is not restricted: there is nothing to lift.")
            self.trigger_event(RestrictionLifted, **common, reason=command.reason)

    def _review(self, command: ReviewRetention, common: dict[str, Any], today: date) -> None:
        if self.erased is not None and len(self.erased["parts"]) == len(PARTS):
            raise AlreadyErasedError("The personal data is erased: there is nothing to retain.")
        check_next_review(command.next_review_on, today)
        self.trigger_event(
            RetentionReviewed,
            **common,
            decision=command.decision,
            reason=command.reason,
            next_review_on=command.next_review_on,
        )

    def _erase(
        self, command: ErasePersonalData, common: dict[str, Any], now: datetime, years: int
    ) -> None:
        wanted = [p for p in PARTS if p in set(command.parts or PARTS)]
        erased = self.erased["parts"] if self.erased else []
        due_on = self.retention_due_on(years, now)
        assert due_on is not None  # final, so it has a final day
        check_erasable(
            basis=command.basis,
            parts=wanted,
            erased=erased,
            sealed=self.sealed_parts,
            restricted=self.restricted is not None,
            due_on=due_on,
            today=local_date(now),
        )
        self.trigger_event(
            PersonalDataErased,
            **common,
            basis=command.basis.value,
            authority_ref=command.authority_ref,
            parts=[p.value for p in wanted if p.value not in erased],
        )
