"""Part A's commands on the Complaint aggregate: redirect, assign, record contact, resolve.

Mixed into `Complaint` (docs/DOMAIN.md part A, rules 7 to 11, with part B's limits on them:
a recorded complaint is not resolved, a notified outcome is not redirected). Each checks the
rules (`rules.py`), then triggers one of the lifecycle's events, nested in `Complaint`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain import rules
from domain.errors import NotRedirectableError
from domain.statutory_rules import check_resolvable_outside
from domain.values import (
    Actor,
    AssignInvestigator,
    RecordContact,
    RedirectComplaint,
    ResolveComplaint,
    Status,
    SubjectKind,
)


class LifecycleCommands:
    """The lifecycle's commands (the state and events are `Complaint`'s)."""

    status: Status
    received_at: datetime
    subject_kind: SubjectKind
    lodged: dict[str, Any]
    investigator: dict[str, Any] | None
    contacts: list[dict[str, Any]]
    allegations: list[dict[str, Any]]
    wants_recording: bool

    if TYPE_CHECKING:  # `Complaint`'s nested events, the Aggregate's and the mixins'
        Redirected: Any
        InvestigatorAssigned: Any
        ComplainantContacted: Any
        Resolved: Any

        def trigger_event(self, event_class: Any, **kwargs: Any) -> None: ...

        def status_at(self, moment: datetime) -> Status: ...

        def _occurred(self, occurred_at: datetime | None, now: datetime) -> datetime: ...

        @property
        def investigator_id(self) -> str | None: ...

        @property
        def handling_mode(self) -> str | None: ...

    def redirect_to(self, command: RedirectComplaint, *, actor: Actor, now: datetime) -> None:
        status = self.status_at(now)
        rules.check_open(status)
        if not status.is_redirectable:
            raise NotRedirectableError(
                f"The complaint's outcome is notified ({status.value}): it is no longer "
                "redirected; it may still be withdrawn."
            )
        rules.check_redirect(
            self.subject_kind,
            self.lodged["subject"].get("force_name"),
            command.destination,
            command.force_name,
        )
        occurred_at = self._occurred(command.occurred_at, now)
        self.trigger_event(
            self.Redirected,
            actor=actor.model_dump(),
            occurred_at=occurred_at,
            destination=command.destination.value,
            force_name=command.force_name,
            reason=command.reason,
        )

    def assign_investigator(
        self, command: AssignInvestigator, *, actor: Actor, now: datetime
    ) -> None:
        rules.check_open(self.status_at(now))
        current = self.investigator
        rules.check_assignable(
            self.subject_kind,
            current["id"] if current else None,
            command.investigator_id,
            command.reason,
        )
        occurred_at = self._occurred(command.occurred_at, now)
        self.trigger_event(
            self.InvestigatorAssigned,
            actor=actor.model_dump(),
            occurred_at=occurred_at,
            investigator_id=command.investigator_id,
            investigator_name=command.investigator_name,
            previous_investigator_id=current["id"] if current else None,
            previous_investigator_name=current["name"] if current else None,
            reason=command.reason,
        )

    def record_contact(
        self, command: RecordContact, *, actor: Actor, supervisor: bool, now: datetime
    ) -> None:
        rules.check_open(self.status_at(now))
        occurred_at = command.occurred_at or now
        rules.check_contact(self.status, occurred_at, self.received_at, now)
        rules.check_investigator_or_supervisor(
            actor.id, supervisor, self.investigator_id, "record contact"
        )
        self.trigger_event(
            self.ComplainantContacted,
            actor=actor.model_dump(),
            occurred_at=occurred_at,
            method=command.method.value,
            summary=command.summary,
            wants_recording=command.wants_recording,
            desired_outcome=command.desired_outcome,
        )

    def resolve(
        self, command: ResolveComplaint, *, actor: Actor, supervisor: bool, now: datetime
    ) -> None:
        rules.check_open(self.status_at(now))
        rules.check_investigator_or_supervisor(
            actor.id, supervisor, self.investigator_id, "resolve the complaint"
        )
        check_resolvable_outside(self.handling_mode, self.wants_recording, self.allegations)
        rules.check_resolvable(len(self.contacts))
        occurred_at = self._occurred(command.occurred_at, now)
        self.trigger_event(
            self.Resolved,
            actor=actor.model_dump(),
            occurred_at=occurred_at,
            outcome=command.outcome.value,
            summary=command.summary,
            learning=[point.model_dump(mode="json") for point in command.learning],
        )
