"""The Schedule 3 part of `complaints seed`: complaints recorded and taken through part B.

About a third of complaints nationally are recorded under Schedule 3 (docs/DOMAIN.md part B,
"Real-world scale"). Such a complaint is recorded after the first contact (the complainant asked
for it in some), gets about 1.8 allegations in the IOPC's category mix, some flagged; the
flagged ones that oblige it, and a few others, are referred to the IOPC, whose determination
comes before the outcome. Progress updates go out about every 28 days while it is recorded,
then the outcome of each allegation is notified; some complainants ask for a review (a few
late, accepted by a supervisor), and a review found not reasonable and proportionate reopens
the complaint for another outcome. A few are withdrawn, signed.

Every step is a command on the `Complaint` aggregate, dated on a working day (counted from
receipt) by the seeder's clock, in order, and only if that is not after the real now: a plan's
steps are sorted by day and taken until the first that has not happened yet.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from domain.complaint import Complaint
from domain.rules import local_date
from domain.statutory_values import (
    MANDATORY_REFERRAL_FLAGS,
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
from domain.values import Actor

# Of the complaints that reach a handling decision (after contact): redirections take about a
# twelfth before that, so about a third of all complaints end up recorded.
SCHEDULE_3_SHARE = 0.36
WANTS_RECORDING = 0.45  # of the recorded, those whose complainant asked for it at first contact
FIRST_OUTSIDE = 0.08  # of the others, handled outside Schedule 3 first, recorded later
DECIDED_OUTSIDE = 0.4  # of the complaints not recorded, those given an explicit decision

ALLEGATIONS = {1: 45, 2: 35, 3: 15, 4: 5}  # 1.8 a case
CATEGORIES = {
    "delivery_of_duties_and_service": 53, "police_powers_policies_and_procedures": 21,
    "individual_behaviours": 13, "discriminatory_behaviour": 3,
    "handling_of_or_damage_to_property": 3, "access_or_disclosure_of_information": 2,
    "use_of_police_vehicles": 1, "abuse_of_position_or_corruption": 1, "sexual_conduct": 1,
    "discreditable_conduct": 1, "other": 1,
}  # fmt: skip
# (chance an allegation of the category is flagged, the flags it may carry)
FLAGGING: dict[str, tuple[float, tuple[str, ...]]] = {
    "discriminatory_behaviour": (0.5, ("discrimination",)),
    "sexual_conduct": (0.4, ("serious_sexual_offence", "misconduct")),
    "abuse_of_position_or_corruption": (0.4, ("serious_corruption", "misconduct")),
    "individual_behaviours": (0.06, ("misconduct", "serious_assault", "criminal_offence")),
    "police_powers_policies_and_procedures": (
        0.04,
        ("serious_assault", "article_2_or_3_breach", "death_or_serious_injury", "misconduct"),
    ),
}
OTHER_FLAGGING = (0.01, ("misconduct", "criminal_offence"))
VOLUNTARY_REFERRAL = 0.04
DETERMINATIONS = {
    "returned_to_force": 50, "local_investigation": 30, "directed_investigation": 8,
    "independent_investigation": 12,
}  # fmt: skip
# Working days from recording to the outcome (about 85 calendar days on average).
INVESTIGATION_DAYS = (10, 15, 20, 30, 40, 50, 60, 80, 120, 180)
OUTCOMES = {"not_upheld": 45, "no_further_action": 28, "upheld": 16, "unable_to_determine": 11}
REVIEW_IN_TIME, REVIEW_LATE, REVIEW_REOPENS = 0.15, 0.02, 0.25
WITHDRAWN = 0.04
UPDATE_METHODS = ("letter", "letter", "email", "email", "phone")


@dataclass
class Case:
    """One complaint being seeded, and what its steps need: `when(day)` dates a step on the
    `day`-th working day after receipt (or None: it has not happened by now)."""

    complaint: Complaint
    rng: random.Random
    when: Callable[[int], datetime | None]
    officer: Actor
    supervisor: Actor
    themes: Sequence[str]
    now: datetime
    plan: list[tuple[int, Step]] = field(default_factory=list)

    def add(self, day: int, step: Step) -> None:
        self.plan.append((day, step))

    def take(self, command: StatutoryChange, by_supervisor: bool = False) -> None:
        actor = self.supervisor if by_supervisor else self.officer
        self.complaint.decide(command, actor=actor, supervisor=by_supervisor, now=self.now)

    def run(self) -> None:
        """The plan's steps in order of day (in order of planning within a day)."""
        for day, step in sorted(self.plan, key=itemgetter(0)):
            if (at := self.when(day)) is None:
                return
            step(self, at)


Step = Callable[[Case, datetime], None]


def _pick(rng: random.Random, weights: dict[Any, int]) -> Any:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def wants_recording(rng: random.Random) -> tuple[bool, bool]:
    """Whether a contacted complaint is to be recorded, and if its complainant asked for it."""
    recorded = rng.random() < SCHEDULE_3_SHARE
    return recorded, recorded and rng.random() < WANTS_RECORDING


def record_under_schedule_3(case: Case, contact_day: int, asked: bool) -> None:
    """Plans and takes the complaint's Schedule 3 life, from the handling decision on."""
    rng = case.rng
    day = contact_day + rng.choice([0, 1, 1, 2, 3])
    if not asked and rng.random() < FIRST_OUTSIDE:
        case.add(day, _decision("outside_schedule_3", "Local resolution agreed."))
        day += rng.choice([3, 5, 10, 15])
    case.add(day, _decision("schedule_3", "Recorded under Schedule 3."))
    mandatory = _plan_allegations(case, day)
    outcome_day = day + rng.choice(INVESTIGATION_DAYS)
    if mandatory or rng.random() < VOLUNTARY_REFERRAL:
        referred = day + rng.randrange(3, 8)
        determined = referred + rng.randrange(5, 30)
        case.add(referred, _referral(None if mandatory else ["voluntary"]))
        case.add(determined, _determination(_pick(rng, DETERMINATIONS)))
        outcome_day = max(outcome_day, determined + rng.randrange(5, 40))
    _plan_updates(case, day, outcome_day)
    case.add(outcome_day, _outcome)
    _plan_review(case, outcome_day)
    if rng.random() < WITHDRAWN:
        _plan_withdrawal(case, day + 1 + rng.randrange(outcome_day - day - 1))
    case.run()


def _plan_allegations(case: Case, recorded_day: int) -> bool:
    """Adds the allegations to the plan; returns whether a flag obliges referral."""
    rng, mandatory = case.rng, False
    for n in range(_pick(rng, ALLEGATIONS)):
        category = _pick(rng, CATEGORIES)
        chance, choices = FLAGGING.get(category, OTHER_FLAGGING)
        flags = [rng.choice(choices)] if rng.random() < chance else []
        mandatory = mandatory or bool(MANDATORY_REFERRAL_FLAGS.intersection(flags))
        case.add(recorded_day + min(n, 2), _allegation(category, flags))
    return mandatory


def _plan_updates(case: Case, since: int, until: int) -> None:
    """A progress update about every 28 days (17 to 20 working days: a few go out late, over a
    bank holiday) before `until`."""
    day = since + case.rng.randrange(17, 21)
    while day < until:
        case.add(day, _update(case.rng.choice(UPDATE_METHODS)))
        day += case.rng.randrange(17, 21)


def _plan_review(case: Case, notified_day: int) -> None:
    """Some ask for a review (a few late); some reviews reopen it, for another outcome."""
    rng, draw = case.rng, case.rng.random()
    if draw >= REVIEW_IN_TIME + REVIEW_LATE:
        return
    late = draw >= REVIEW_IN_TIME
    # Within 14 working days is within 28 calendar days, bank holidays and all; 22 is not.
    asked = notified_day + (rng.randrange(22, 45) if late else rng.randrange(1, 15))
    case.add(asked, _review_request)
    decided = asked + rng.randrange(10, 50)
    reopens = rng.random() < REVIEW_REOPENS
    case.add(decided, _review_decision(not reopens))
    if reopens:
        again = decided + rng.choice(INVESTIGATION_DAYS[:6])
        _plan_updates(case, decided, again)
        case.add(again, _outcome)


def _plan_withdrawal(case: Case, day: int) -> None:
    """Withdrawn on `day`: what was planned after it does not happen."""
    case.plan = [(planned, step) for planned, step in case.plan if planned <= day]
    case.add(day, withdraw)


# ---- the steps: each builds its command at the moment it is taken ------------------------------


def _decision(mode: str, reason: str) -> Step:
    def step(case: Case, at: datetime) -> None:
        body = {"mode": mode, "reason": reason, "occurred_at": at}
        case.take(DecideHandling.model_validate(body))

    return step


def _allegation(category: str, flags: list[str]) -> Step:
    def step(case: Case, at: datetime) -> None:
        body = {"category": category, "description": "Synthetic allegation.", "flags": flags}
        case.take(AddAllegation.model_validate(body | {"occurred_at": at}))

    return step


def _referral(grounds: list[str] | None) -> Step:
    def step(case: Case, at: datetime) -> None:
        reference = f"IOPC-{case.complaint.reference.replace('/', '-')}"
        body = {"grounds": grounds, "iopc_reference": reference, "occurred_at": at}
        case.take(ReferToIopc.model_validate(body), by_supervisor=True)

    return step


def _determination(mode: str) -> Step:
    def step(case: Case, at: datetime) -> None:
        command = RecordIopcDetermination.model_validate({"mode": mode, "occurred_at": at})
        case.take(command, by_supervisor=True)

    return step


def _update(method: str) -> Step:
    def step(case: Case, at: datetime) -> None:
        body = {"method": method, "summary": "Investigation continuing.", "occurred_at": at}
        case.take(SendProgressUpdate.model_validate(body))

    return step


def _outcome(case: Case, at: datetime) -> None:
    rng = case.rng
    results = [
        {"allegation_id": allegation["allegation_id"], "outcome": _pick(rng, OUTCOMES)}
        for allegation in case.complaint.allegations
    ]
    upheld = any(result["outcome"] == "upheld" for result in results)
    actions = rng.sample(["apology", "learning", "reflective_practice"], rng.choice([1, 2]))
    if upheld and rng.random() < 0.1:
        actions.append("misconduct_proceedings")
    themes = rng.sample(list(case.themes), rng.choice([0, 1, 1, 2]) if upheld else 0)
    body = {
        "allegations": results,
        "actions": actions if upheld else ["explanation"],
        "summary": "Outcome of the investigation.",
        "learning": [{"theme": theme, "note": "Noted."} for theme in themes],
        "occurred_at": at,
    }
    case.take(NotifyOutcome.model_validate(body))


def _review_request(case: Case, at: datetime) -> None:
    review = case.complaint.review
    assert review is not None  # planned after the outcome
    late = local_date(at) > review["deadline"]
    body = {"received_at": at, "grounds": "The outcome is not right.", "occurred_at": at}
    if late:  # accepted out of time, by a supervisor
        body["late_reason"] = "The complainant was in hospital."
    case.take(RequestReview.model_validate(body), by_supervisor=late)


def _review_decision(fair: bool) -> Step:
    def step(case: Case, at: datetime) -> None:
        recommendations = [] if fair else ["Reinvestigate the allegations."]
        body = {"reasonable_and_proportionate": fair, "recommendations": recommendations}
        case.take(DecideReview.model_validate(body | {"occurred_at": at}), by_supervisor=True)

    return step


def withdraw(case: Case, at: datetime) -> None:
    """The complainant (or their solicitor or agent) signs a withdrawal, dated that day."""
    signed_by = case.rng.choice(["complainant", "complainant", "complainant", "solicitor", "agent"])
    body = {"signed_by": signed_by, "signed_on": local_date(at), "scope": "The whole complaint."}
    case.take(WithdrawComplaint.model_validate(body | {"occurred_at": at}))
