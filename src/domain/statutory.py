"""The statutory process's commands on the Complaint aggregate (docs/DOMAIN.md part B).

Mixed into `Complaint` like the records manager's: each command checks rules 12 to 20
(`statutory_rules`) against the complaint's state, then triggers one event of
`statutory_events`. Status is judged at an instant (`status_at`), since a notified outcome
becomes `finalised` by the passing of its review deadline, with no event.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any, assert_never

from domain import statutory_rules as rules
from domain.rules import check_investigator_or_supervisor, check_open, local_date
from domain.statutory_events import (
    AllegationAdded,
    ComplaintWithdrawn,
    HandlingDecided,
    IopcDetermined,
    OutcomeNotified,
    ProgressUpdateSent,
    ReferredToIopc,
    ReviewDecided,
    ReviewRequested,
)
from domain.statutory_values import (
    AddAllegation,
    DecideHandling,
    DecideReview,
    NotifyOutcome,
    RecordIopcDetermination,
    ReferToIopc,
    RequestReview,
    SendProgressUpdate,
    StatutoryChange,
    WithdrawComplaint,
)
from domain.values import Actor, Status


class StatutoryProcess:
    """Schedule 3 on a complaint (its state is declared here, assigned by the events)."""

    status: Status
    received_at: datetime
    final_at: datetime | None
    investigator: dict[str, Any] | None
    contacts: list[dict[str, Any]]
    handling: dict[str, Any] | None
    allegations: list[dict[str, Any]]
    iopc: dict[str, Any] | None
    updates: list[dict[str, Any]]
    outcome: dict[str, Any] | None
    review: dict[str, Any] | None
    reviews: list[dict[str, Any]]
    withdrawal: dict[str, Any] | None
    # The complainant's views, from the contacts: once asked for, recording stays asked for.
    wants_recording: bool
    desired_outcome: str | None
    recorded_at: datetime | None
    update_from: datetime | None

    if TYPE_CHECKING:  # `Complaint`'s and the Aggregate's

        def trigger_event(self, event_class: Any, **kwargs: Any) -> None: ...

        def _occurred(self, occurred_at: datetime | None, now: datetime) -> datetime: ...

        @property
        def investigator_id(self) -> str | None: ...

    # ---- derived state ----------------------------------------------------------------------

    def status_at(self, moment: datetime) -> Status:
        """The status at `moment`: `finalised` once a notified outcome's deadline has passed
        with no review requested."""
        review = self.review
        notified = self.status is Status.OUTCOME_NOTIFIED and review is not None
        if notified and local_date(moment) > review["deadline"]:  # type: ignore[index]
            return Status.FINALISED
        return self.status

    def final_on(self, moment: datetime) -> date | None:
        """The day it became final, as judged at `moment` (retention counts from it)."""
        if self.final_at is not None:
            return local_date(self.final_at)
        if self.status_at(moment) is Status.FINALISED and self.review is not None:
            return rules.final_on(self.review["deadline"])
        return None

    @property
    def handling_mode(self) -> str | None:
        return self.handling["mode"] if self.handling else None

    def next_update_due(self, every_days: int = rules.UPDATE_EVERY_DAYS) -> date | None:
        """Rule 17: while recorded and being investigated, the next progress update's day."""
        if self.status is not Status.RECORDED or self.update_from is None:
            return None
        return rules.next_update_due(self.update_from, every_days)

    # ---- commands ---------------------------------------------------------------------------

    def decide_statutory(
        self, command: StatutoryChange, *, actor: Actor, supervisor: bool, now: datetime
    ) -> None:
        status = self.status_at(now)
        if not (isinstance(command, RequestReview) and self.status is Status.OUTCOME_NOTIFIED):
            check_open(status)
        occurred_at = self._occurred(command.occurred_at, now)
        common: dict[str, Any] = {"actor": actor.model_dump(), "occurred_at": occurred_at}
        match command:
            case AddAllegation():
                self._add_allegation(command, common)
            case DecideHandling():
                self._check_worker(actor, supervisor, "decide how the complaint is handled")
                rules.check_handling(
                    command.mode,
                    self.handling_mode,
                    len(self.contacts),
                    self.wants_recording,
                    self.allegations,
                )
                self.trigger_event(
                    HandlingDecided, **common, mode=command.mode.value, reason=command.reason
                )
            case ReferToIopc():
                self._refer(command, common)
            case RecordIopcDetermination():
                rules.check_determinable(self.iopc)
                self.trigger_event(
                    IopcDetermined,
                    **common,
                    mode=command.mode.value,
                    iopc_reference=command.iopc_reference,
                )
            case SendProgressUpdate():
                self._check_worker(actor, supervisor, "send a progress update")
                rules.check_recorded(self.handling_mode, "have progress updates")
                self.trigger_event(
                    ProgressUpdateSent,
                    **common,
                    method=command.method.value,
                    summary=command.summary,
                )
            case NotifyOutcome():
                self._check_worker(actor, supervisor, "notify the outcome")
                self._notify(command, status, common)
            case RequestReview():
                self._request_review(command, status, supervisor, now, common)
            case DecideReview():
                rules.check_review_decision(status)
                self.trigger_event(
                    ReviewDecided,
                    **common,
                    reasonable_and_proportionate=command.reasonable_and_proportionate,
                    recommendations=list(command.recommendations),
                )
            case WithdrawComplaint():
                rules.check_withdrawal(command, self.received_at, occurred_at)
                self.trigger_event(
                    ComplaintWithdrawn,
                    **common,
                    signed_by=command.signed_by,
                    signed_on=command.signed_on,
                    scope=command.scope,
                )
            case _:
                assert_never(command)

    def _check_worker(self, actor: Actor, supervisor: bool, action: str) -> None:
        check_investigator_or_supervisor(actor.id, supervisor, self.investigator_id, action)

    def _add_allegation(self, command: AddAllegation, common: dict[str, Any]) -> None:
        rules.check_allegation(command)
        assert command.category is not None
        self.trigger_event(
            AllegationAdded,
            **common,
            allegation_id=f"A{len(self.allegations) + 1}",
            category=command.category.value,
            subcategory=command.subcategory,
            description=command.description,
            flags=sorted({flag.value for flag in command.flags}),
        )

    def _refer(self, command: ReferToIopc, common: dict[str, Any]) -> None:
        rules.check_recorded(self.handling_mode, "be referred to the IOPC")
        rules.check_referable(self.iopc)
        self.trigger_event(
            ReferredToIopc,
            **common,
            grounds=rules.referral_grounds(command.grounds, self.allegations),
            iopc_reference=command.iopc_reference,
        )

    def _notify(self, command: NotifyOutcome, status: Status, common: dict[str, Any]) -> None:
        rules.check_outcome(status, self.handling_mode, self.allegations, self.iopc, command)
        by_id = {result.allegation_id: result.outcome.value for result in command.allegations}
        self.trigger_event(
            OutcomeNotified,
            **common,
            allegations=[
                {"allegation_id": a["allegation_id"], "outcome": by_id[a["allegation_id"]]}
                for a in self.allegations
            ],
            actions=sorted({action.value for action in command.actions}),
            summary=command.summary,
            learning=[point.model_dump(mode="json") for point in command.learning],
            review_body=rules.review_body(self.iopc, self.allegations).value,
            review_deadline=rules.review_deadline(common["occurred_at"]),
        )

    def _request_review(
        self,
        command: RequestReview,
        status: Status,
        supervisor: bool,
        now: datetime,
        common: dict[str, Any],
    ) -> None:
        # Received when it was recorded as happening, unless said otherwise, and not later.
        received_at = command.received_at or common["occurred_at"]
        rules.check_review_request(
            self.status,
            status,
            self.review["deadline"] if self.review else None,
            received_at,
            self.outcome["notified_at"] if self.outcome else None,
            common["occurred_at"],
            command.late_reason,
            supervisor,
        )
        self.trigger_event(
            ReviewRequested,
            **common,
            received_at=received_at,
            grounds=command.grounds,
            late_reason=command.late_reason,
        )
