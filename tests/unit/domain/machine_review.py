"""Rules of `ComplaintMachine` (test_state_machine.py) for the end of the statutory process
(docs/DOMAIN.md part B): requesting a review of a notified outcome, in time or late, deciding it,
withdrawing the complaint, and weeks passing so that review deadlines do. `ReviewRules` is a plain
mixin, not a `RuleBasedStateMachine`; hypothesis finds its rules on the machine that inherits it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import rule

from domain.errors import (
    ComplaintClosedError,
    OutcomeStateError,
    ReviewOutOfTimeError,
    StatutoryDateError,
    SupervisorRequiredError,
    WithdrawalUnsignedError,
)
from domain.values import Actor, Status
from tests.unit.domain.builders import OTHER_CASEWORKER, SUPERVISOR
from tests.unit.domain.machine_model import LONDON, WHEN, MachineBase, local
from tests.unit.domain.statutory_builders import (
    review_command,
    review_decision_command,
    withdraw_command,
)


class ReviewRules(MachineBase):
    """Reviews, their decisions, withdrawal, and time passing in weeks."""

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
            # Received by the step that records it, which is now unless backdated
            step = occurred_at or now
            moment = received_at or step
            if not model.notified_at <= moment <= step:
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
        elif not receipt <= day <= local(occurred_at or now):  # signed by the day withdrawn
            refusals.add(StatutoryDateError)
        command = withdraw_command(signed_by=signed_by, signed_on=day)
        command = command.model_copy(update={"occurred_at": occurred_at})
        if self.decide("withdraw", command, refusals, (OTHER_CASEWORKER, False)):
            model.status = Status.WITHDRAWN
            model.final_at = occurred_at or now
            model.record()

    @rule(days=st.integers(min_value=0, max_value=40))
    def time_flies(self, days: int) -> None:
        """Weeks at a time, so that review deadlines pass."""
        self.now += timedelta(days=days)
