"""Rules and invariants of `ComplaintMachine` (test_state_machine.py) for the statutory process
(docs/DOMAIN.md part B: allegations, the handling decision, referral to the IOPC and its
determination, updates, the outcome) and the records manager's commands (part C), with a rule
that works the case through part B's usual next steps so that runs reach outcomes, reviews and
their deadlines. `StatutoryRules` is a plain mixin, not a `RuleBasedStateMachine`: hypothesis
collects rules and invariants with `inspect.getmembers`, so the machine inherits them; the review
and withdrawal rules come from its base, `ReviewRules` (machine_review.py).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from domain.errors import (
    AllegationIncompleteError,
    AlreadyRestrictedError,
    ContactRequiredError,
    DomainError,
    HandlingAlreadyDecidedError,
    MustRecordError,
    NotFinalError,
    NotRecordedError,
    NotRestrictedError,
    OutcomeIncompleteError,
    OutcomeStateError,
    ReferralGroundsError,
    ReferralRequiredError,
    ReferralStateError,
)
from domain.values import Actor, Status
from tests.unit.domain.builders import OTHER_CASEWORKER, SUPERVISOR
from tests.unit.domain.machine_model import ACTORS, RECORDS_TOPICS, WHEN, local
from tests.unit.domain.machine_review import ReviewRules
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
    update_command,
)


class StatutoryRules(ReviewRules):
    """Parts B and C of the machine; part A's rules are `ComplaintMachine`'s own."""

    if TYPE_CHECKING:  # part A's rules, which `statutory_step` also takes

        def work_the_case(self, reassign: bool) -> None: ...
        def redirect(self, destination: str, force_name: str | None, when: str | None) -> None: ...
        def contact_with_views(
            self, who: tuple[Actor, bool], when: str | None, wants_recording: bool | None
        ) -> None: ...

    # ---- rules of the statutory process (part B) ---------------------------------------------

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
