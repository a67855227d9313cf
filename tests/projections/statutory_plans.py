"""Stories: complaint histories through the statutory process (docs/DOMAIN.md part B).

Like `plans.py`, a story is a lodging body and the commands that follow it, each with an
explicit `occurred_at`, but held as the domain's command objects: the HTTP routes of part B
are not what these tests are about, so stories are played through the application service
(`Complaints.act`, as a route would call it) or straight through the aggregate. Every command
is given by the supervisor, who may do all of them (a late review included).
"""

from __future__ import annotations

import contextlib
import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.complaint import Complaint
from domain.service import Complaints
from domain.statutory_values import (
    AddAllegation,
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
    LodgeComplaint,
    RecordContact,
    RedirectComplaint,
    ResolveComplaint,
)
from tests.projections.model import london_day
from tests.projections.plans import INVESTIGATORS, NOW, THEMES, complaint, iso

SUPERVISOR = Actor(id="sup-1", name="DI Grace Hopper")
INTAKE = Actor(id="intake-1", name="Front Desk")
CATEGORIES = (
    "delivery_of_duties_and_service",
    "police_powers_policies_and_procedures",
    "individual_behaviours",
    "discriminatory_behaviour",
    "handling_of_or_damage_to_property",
    "other",
)
FLAGS = ("serious_assault", "discrimination", "criminal_offence", "misconduct")
MANDATORY = frozenset({"serious_assault", "discrimination"})
ALLEGATION_OUTCOMES = ("upheld", "not_upheld", "unable_to_determine", "no_further_action")


@dataclass
class Story:
    body: dict[str, Any]
    commands: list[Any] = field(default_factory=list)
    allegations: int = 0
    complaint_id: str = ""
    reference: str = ""

    def _add(self, command: Any) -> Story:
        self.commands.append(command)
        return self

    def assign(self, at: datetime, investigator: str = "inv-a") -> Story:
        name = INVESTIGATORS.get(investigator, investigator)
        body = {"investigator_id": investigator, "investigator_name": name, "occurred_at": at}
        return self._add(AssignInvestigator.model_validate(body))

    def contact(self, at: datetime, *, wants_recording: bool = False) -> Story:
        body = {"method": "phone", "summary": "Spoke.", "occurred_at": at}
        return self._add(RecordContact.model_validate(body | {"wants_recording": wants_recording}))

    def allege(self, at: datetime, category: str = "individual_behaviours", *flags: str) -> Story:
        self.allegations += 1
        body = {"category": category, "description": "Alleged.", "flags": list(flags)}
        return self._add(AddAllegation.model_validate(body | {"occurred_at": at}))

    def handle(self, at: datetime, mode: str = "schedule_3") -> Story:
        body = {"mode": mode, "reason": "Views sought.", "occurred_at": at}
        return self._add(DecideHandling.model_validate(body))

    def refer(self, at: datetime, grounds: list[str] | None = None) -> Story:
        return self._add(ReferToIopc.model_validate({"grounds": grounds, "occurred_at": at}))

    def determine(self, at: datetime, mode: str = "local_investigation") -> Story:
        return self._add(RecordIopcDetermination.model_validate({"mode": mode, "occurred_at": at}))

    def update(self, at: datetime) -> Story:
        body = {"method": "letter", "summary": "Still looking.", "occurred_at": at}
        return self._add(SendProgressUpdate.model_validate(body))

    def notify(self, at: datetime, outcomes: list[str], *themes: str) -> Story:
        """One outcome per allegation so far, in order (A1 first)."""
        assert len(outcomes) == self.allegations, (outcomes, self.allegations)
        results = [{"allegation_id": f"A{n + 1}", "outcome": o} for n, o in enumerate(outcomes)]
        learning = [{"theme": theme, "note": "A note."} for theme in themes]
        body = {"allegations": results, "summary": "Told them.", "learning": learning}
        return self._add(NotifyOutcome.model_validate(body | {"occurred_at": at}))

    def review(self, at: datetime, *, late: bool = False) -> Story:
        body = {"received_at": at, "grounds": "Unfair.", "occurred_at": at}
        if late:
            body["late_reason"] = "In hospital."
        return self._add(RequestReview.model_validate(body))

    def decide(self, at: datetime, reasonable: bool) -> Story:
        body = {"reasonable_and_proportionate": reasonable, "occurred_at": at}
        return self._add(DecideReview.model_validate(body))

    def withdraw(self, at: datetime) -> Story:
        body = {"signed_by": "complainant", "signed_on": london_day(at), "scope": "All of it."}
        return self._add(WithdrawComplaint.model_validate(body | {"occurred_at": at}))

    def resolve(self, at: datetime, outcome: str = "apology_given", *themes: str) -> Story:
        learning = [{"theme": theme, "note": "A note."} for theme in themes]
        body = {"outcome": outcome, "summary": "Done.", "learning": learning, "occurred_at": at}
        return self._add(ResolveComplaint.model_validate(body))

    def redirect(self, at: datetime, destination: str = "iopc") -> Story:
        body = {"destination": destination, "reason": "Not ours.", "occurred_at": at}
        return self._add(RedirectComplaint.model_validate(body))


def story(received_at: datetime, *, kind: str = "officer", channel: str = "online") -> Story:
    return Story(complaint(iso(received_at), kind=kind, channel=channel).body)


# ---- generated stories -----------------------------------------------------------------------


class _Clock:
    """Instants moving forward from receipt; None once `now` is reached (the story stops)."""

    def __init__(self, rng: random.Random, start: datetime, now: datetime) -> None:
        self.rng, self.at, self.now = rng, start, now

    def later(self, hours: int = 200) -> datetime:
        self.at += timedelta(hours=self.rng.randint(1, hours), minutes=self.rng.randint(0, 59))
        if self.at >= self.now - timedelta(minutes=1):
            raise _OutOfTimeError
        return self.at


class _OutOfTimeError(Exception):
    pass


def generate_stories(
    count: int, seed: int, *, earliest: datetime, now: datetime = NOW
) -> list[Story]:
    """`count` varied, valid stories received between `earliest` and `now`: part A's paths,
    recording (at once or after a decision outside Schedule 3), referral, updates, outcomes
    notified again after a reopening review, late reviews and withdrawals."""
    rng = random.Random(seed)
    span = int((now - earliest).total_seconds()) - 86_400
    stories = []
    for n in range(count):
        received = earliest + timedelta(seconds=rng.randrange(span))
        kind = rng.choice(("officer", "staff", "officer", "case_handling", "police_station"))
        made = story(received, kind=kind, channel=("online", "letter", "iopc")[n % 3])
        # Out of time, the story so far is valid: the complaint is where time left it.
        with contextlib.suppress(_OutOfTimeError):
            _progress(made, rng, _Clock(rng, received, now))
        stories.append(made)
    return stories


def _progress(made: Story, rng: random.Random, clock: _Clock) -> None:
    fate = rng.random()
    if fate < 0.08:
        made.allege(clock.later(), rng.choice(CATEGORIES))
        return
    made.assign(clock.later(), rng.choice(list(INVESTIGATORS)))
    wants = rng.random() < 0.2
    made.contact(clock.later(), wants_recording=wants)
    if fate < 0.15:
        made.withdraw(clock.later())
        return
    flagged = False
    for _ in range(rng.randint(0, 2)):
        flags = rng.sample(FLAGS, rng.randint(0, 2)) if rng.random() < 0.3 else []
        flagged = flagged or bool(flags)
        made.allege(clock.later(), rng.choice(CATEGORIES), *flags)
    if not (wants or flagged) and rng.random() < 0.5:
        made.handle(clock.later(), "outside_schedule_3")
        choice = rng.random()
        if choice < 0.4:
            made.resolve(clock.later(), "apology_given", *rng.sample(THEMES, rng.randint(0, 2)))
            return
        if choice > 0.7:
            return  # stays open outside Schedule 3
    made.handle(clock.later(), "schedule_3")
    _investigate(made, rng, clock, flagged)


def _investigate(made: Story, rng: random.Random, clock: _Clock, flagged: bool) -> None:
    if made.allegations == 0:
        made.allege(clock.later(), rng.choice(CATEGORIES))
    if any(isinstance(c, AddAllegation) and set(c.flags) & MANDATORY for c in made.commands):
        made.refer(clock.later())
        made.determine(clock.later(), rng.choice(("local_investigation", "returned_to_force")))
    elif rng.random() < 0.2:
        made.refer(clock.later(), rng.choice((None, ["voluntary"])))
        made.determine(clock.later())
    for _round in range(3):  # a reopened complaint is notified again
        for _ in range(rng.randint(0, 2)):
            made.update(clock.later(700))
        if rng.random() < 0.15:
            if rng.random() < 0.4:
                made.withdraw(clock.later())
            return
        outcomes = [rng.choice(ALLEGATION_OUTCOMES) for _ in range(made.allegations)]
        made.notify(clock.later(900), outcomes, *rng.sample(THEMES, rng.randint(0, 2)))
        if not _reviewed(made, rng, clock):
            return
        if rng.random() < 0.3:
            made.allege(clock.later(), rng.choice(CATEGORIES))


def _reviewed(made: Story, rng: random.Random, clock: _Clock) -> bool:
    """Maybe a review (late ones too) and its decision; whether it reopened the complaint."""
    if rng.random() < 0.45:
        return False
    notified = clock.at
    deadline = london_day(notified) + timedelta(days=28)
    at = clock.later(24 * 40)
    made.review(at, late=london_day(at) > deadline)
    if rng.random() < 0.2:
        return False  # still under review
    reasonable = rng.random() < 0.5
    made.decide(clock.later(), reasonable)
    return not reasonable


# ---- playing stories -------------------------------------------------------------------------


def rounds(stories: list[Story]) -> Iterator[tuple[Story, Any]]:
    """Every story's k-th command before any story's (k+1)-th: histories interleave."""
    depth = max((len(s.commands) for s in stories), default=0)
    for k in range(depth):
        for made in stories:
            if k < len(made.commands):
                yield made, made.commands[k]


def play_act(complaints: Complaints, stories: list[Story]) -> int:
    """Lodges and progresses the stories through the service, one transaction per command, as
    the API does; returns the last position written."""
    position = 0
    for made in stories:
        recorded = complaints.lodge(LodgeComplaint.model_validate(made.body), actor=INTAKE)
        made.complaint_id, made.reference = str(recorded.complaint.id), recorded.complaint.reference
        position = recorded.position
    for made, command in rounds(stories):
        done = complaints.act(UUID(made.complaint_id), command, actor=SUPERVISOR, supervisor=True)
        position = done.position
    return position


_NUMBERS = itertools.count(20_000_000)


def play_aggregates(
    complaints: Complaints, stories: list[Story], *, chunk: int = 40, now: datetime = NOW
) -> int:
    """Through the aggregate and `Complaints.save`, `chunk` complaints' changes per
    transaction, round by round (so batches cut histories anywhere); returns the head."""
    aggregates: dict[int, Complaint] = {}
    for made in stories:
        command = LodgeComplaint.model_validate(made.body)
        year = london_day(command.received_at or now).year
        reference = f"PC/{next(_NUMBERS)}/{year % 100:02d}"
        aggregate = Complaint.lodge(reference=reference, command=command, actor=INTAKE, now=now)
        made.complaint_id, made.reference = str(aggregate.id), reference
        aggregates[id(made)] = aggregate
    lodged = list(aggregates.values())
    for start in range(0, len(lodged), chunk):
        complaints.save(*lodged[start : start + chunk])
    pending: dict[int, Complaint] = {}
    for made, command in rounds(stories):
        aggregate = aggregates[id(made)]
        aggregate.decide(command, actor=SUPERVISOR, supervisor=True, now=now)
        pending[id(aggregate)] = aggregate
        if len(pending) >= chunk:
            complaints.save(*pending.values())
            pending = {}
    if pending:
        complaints.save(*pending.values())
    return complaints.head_position()
