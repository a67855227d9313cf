"""Realistic synthetic complaints, for demos and benchmarks (`complaints seed`).

Every complaint is lodged and progressed through the `Complaint` aggregate's commands, so every
rule applies; each step is dated with its simulated time, after receipt and after the step
before it, and taken at the real now, so the aggregate checks those dates as the API would.
Whole histories are then saved in batches, one transaction per batch. The mix follows a real
force's caseload: about 50 complaints a working day, mostly about officers, first contact in
about five working days, resolution in about eleven, a few late incidents, redirects and
reassignments; the most recent complaints are still open. About a third are recorded under
Schedule 3 after the first contact and taken through part B (`seed_statutory`); some of the
rest are decided outside Schedule 3 before they are resolved. The same seed and end date give
the same complaints.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any

from api.cli import seed_statutory as statutory
from domain.complaint import Complaint
from domain.rules import EARLIEST_RECEIPT, local_date
from domain.service import Complaints
from domain.statutory_values import DecideHandling
from domain.values import (
    Actor,
    AssignInvestigator,
    LodgeComplaint,
    RecordContact,
    RedirectComplaint,
    ResolveComplaint,
)
from projections.calendar import add_working_days, is_working_day

CASES_PER_WORKING_DAY = 50

SUBJECTS = {
    "officer": 52, "staff": 10, "contractor": 1, "volunteer": 1, "case_handling": 16,
    "police_station": 4, "force_general": 9, "commissioner": 2, "other_force": 5,
}  # fmt: skip
CHANNELS = {
    "online": 58, "letter": 10, "police_station": 11, "iopc": 9,
    "partner_organisation": 6, "representative": 6,
}  # fmt: skip
OUTCOMES = {
    "explanation_given": 30, "apology_given": 15, "information_provided": 14,
    "service_acceptable": 12, "service_not_acceptable": 9, "unable_to_determine": 6,
    "practice_requiring_improvement": 7, "referred_for_misconduct": 2, "no_further_action": 5,
}  # fmt: skip
BEHAVIOURS = [
    "rude_or_aggressive",
    "causing_distress",
    "causing_inconvenience",
    "causing_property_loss_or_damage",
    "causing_danger_or_risk",
]
THEMES = [
    "communication", "professional_standards", "use_of_powers", "record_keeping",
    "timeliness", "policy_and_procedure", "training", "equality_and_diversity",
]  # fmt: skip
FORCES = ["Kent Police", "Surrey Police", "Thames Valley Police", "City of London Police"]
PERSONS = ("officer", "staff", "contractor", "volunteer")
INTAKE = Actor(id="seed-intake", name="Complaints Support Team")
SUPERVISOR = Actor(id="seed-sup-01", name="DI Seed Supervisor")


def _pick(rng: random.Random, weights: dict[str, int]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _at(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(8 + rng.randrange(9), rng.randrange(60)), tzinfo=UTC)


def _lodging(rng: random.Random, n: int, received_at: datetime) -> LodgeComplaint:
    kind = _pick(rng, SUBJECTS)
    standing = rng.choices(["experienced", "witnessed", "adversely_affected"], [70, 10, 20])[0]
    if standing == "witnessed" and kind not in PERSONS:
        standing = "experienced"
    behaviours = rng.sample(BEHAVIOURS, rng.choice([1, 1, 2, 3]))
    if standing == "adversely_affected" and behaviours == ["rude_or_aggressive"]:
        behaviours.append("causing_distress")
    channel = _pick(rng, CHANNELS)
    received = received_at.date()
    late = rng.random() < 0.04
    incident = received - timedelta(days=rng.randrange(400, 900) if late else rng.randrange(0, 60))
    subject: dict[str, Any] = {"kind": kind}
    if kind in PERSONS:
        subject["shoulder_number"] = f"{rng.randrange(100, 9999)}{rng.choice('ABCDEFGHJK')}"
    elif kind == "police_station":
        subject["station"] = rng.choice(["Charing Cross", "Brixton", "Lewisham", "Wembley"])
    elif kind == "other_force":
        subject["force_name"] = rng.choice(FORCES)
    body: dict[str, Any] = {
        "received_at": received_at,
        "channel": channel,
        "complainant": {"name": f"Complainant {n}", "email": f"complainant{n}@example.org"},
        "standing": standing,
        "subject": subject,
        "behaviours": behaviours,
        "incident_date": incident,
        "location": "London",
        "description": f"Synthetic complaint {n}.",
    }
    if channel in ("partner_organisation", "representative"):
        body["channel_detail"] = "Citizens Advice" if channel == "partner_organisation" else "MP"
    if rng.random() < 0.08:
        body["on_behalf_of"] = _on_behalf(rng, n, received)
    return LodgeComplaint.model_validate(body)


def _on_behalf(rng: random.Random, n: int, received: date) -> dict[str, Any]:
    if rng.random() < 0.5:
        born = received - timedelta(days=rng.randrange(365 * 3, 365 * 15))
        return {"name": f"Child {n}", "date_of_birth": born, "basis": _CHILD}
    return {"name": f"Person {n}", "basis": "written_consent", "consent_reference": f"WC-{n}"}


_CHILD = "parent_or_guardian_of_child_under_16"


# Each step follows the one before it (the lodging included) by at least this much: the times
# drawn for two steps on the same day, or for a step on the day of receipt, may fall either way.
STEP_GAP = timedelta(minutes=1)


class _Clock:
    """Simulated time for one complaint: a step is taken on its working day after receipt, after
    the step before it, and only if that is not after the real `now` (else it has not happened
    yet). The draws are the same whatever the outcome, so a seed gives the same complaints."""

    def __init__(
        self, rng: random.Random, received: date, received_at: datetime, now: datetime
    ) -> None:
        self.rng, self.received, self.now = rng, received, now
        self.last = received_at

    def __call__(self, working_days: int) -> datetime | None:
        drawn = _at(add_working_days(self.received, working_days), self.rng)
        moment = max(drawn, self.last + STEP_GAP)
        if moment > self.now:
            return None
        self.last = moment
        return moment


def _progress(complaint: Complaint, rng: random.Random, received: date, now: datetime) -> None:
    """Takes the complaint as far through its life as simulated time allows by `now`.

    Each step is dated with `occurred_at` and taken at the real `now`, as a client backdating it
    through the API would: the aggregate then checks every date against receipt and now."""
    when = _Clock(rng, received, complaint.received_at, now)
    if _maybe_redirect(complaint, rng, when, now):
        return
    assign_day = rng.choice([0, 1, 1, 2, 3])
    if (at := when(assign_day)) is None:
        return
    investigator = _assign(complaint, rng, range(1, 41), None, at, now)
    contact_day = assign_day + rng.choice([1, 2, 3, 4, 5, 6, 8])
    if rng.random() < 0.05 and (at := when(assign_day + 1)) is not None:
        investigator = _assign(complaint, rng, range(41, 61), "Leave.", at, now)
    officer = Actor(id=investigator, name=f"DS {investigator}")
    if (at := when(contact_day)) is None:
        return
    recorded, asked = statutory.wants_recording(rng)
    method = rng.choice(["phone", "phone", "email", "letter", "in_person", "video"])
    contact = {"method": method, "summary": "Spoke to the complainant.", "occurred_at": at}
    complaint.record_contact(
        RecordContact.model_validate(contact | {"wants_recording": asked}),
        actor=officer,
        supervisor=False,
        now=now,
    )
    case = statutory.Case(complaint, rng, when, officer, SUPERVISOR, THEMES, now)
    if recorded:
        statutory.record_under_schedule_3(case, contact_day, asked)
    else:
        _resolve_outside(case, contact_day)


def _resolve_outside(case: statutory.Case, contact_day: int) -> None:
    """Outside Schedule 3 (some by an explicit decision): resolved with the complainant, or
    now and then withdrawn."""
    rng, when = case.rng, case.when
    if rng.random() < statutory.DECIDED_OUTSIDE:
        if (at := when(contact_day + rng.choice([0, 1, 2]))) is None:
            return
        reason = "Resolved with the complainant, outside Schedule 3."
        command = DecideHandling.model_validate(
            {"mode": "outside_schedule_3", "reason": reason, "occurred_at": at}
        )
        case.take(command)
    if (at := when(contact_day + rng.choice([2, 4, 5, 6, 8, 10, 14, 20]))) is None:
        return
    if rng.random() < 0.01:
        statutory.withdraw(case, at)
        return
    learning = [{"theme": t, "note": "Noted."} for t in rng.sample(THEMES, rng.choice([0, 1, 2]))]
    outcome = _pick(rng, OUTCOMES)
    resolution = ResolveComplaint.model_validate(
        {"outcome": outcome, "summary": "Resolved with the complainant.", "learning": learning}
        | {"occurred_at": at}
    )
    case.complaint.resolve(resolution, actor=case.officer, supervisor=False, now=case.now)


def _assign(
    complaint: Complaint,
    rng: random.Random,
    pool: range,
    reason: str | None,
    at: datetime,
    now: datetime,
) -> str:
    """Assigns an investigator drawn from `pool` at `at`; returns their id."""
    investigator = f"inv-{rng.randrange(pool.start, pool.stop):04d}"
    command = AssignInvestigator(
        investigator_id=investigator,
        investigator_name=f"DS {investigator}",
        reason=reason,
        occurred_at=at,
    )
    complaint.assign_investigator(command, actor=SUPERVISOR, now=now)
    return investigator


def _maybe_redirect(
    complaint: Complaint,
    rng: random.Random,
    when: Callable[[int], datetime | None],
    now: datetime,
) -> bool:
    """Redirects what is not the force's to handle (and a few others, to the IOPC)."""
    kind = complaint.subject_kind.value
    if kind not in ("commissioner", "other_force") and rng.random() >= 0.01:
        return False
    destination = {"commissioner": "mopac", "other_force": rng.choice(["other_force", "iopc"])}.get(
        kind, "iopc"
    )
    force = complaint.lodged["subject"]["force_name"] if destination == "other_force" else None
    if (at := when(rng.randrange(0, 3))) is not None:
        redirect = RedirectComplaint.model_validate(
            {"destination": destination, "force_name": force, "reason": "Not ours to handle."}
            | {"occurred_at": at}
        )
        complaint.redirect_to(redirect, actor=SUPERVISOR, now=now)
    return True


def working_days_back(until: date, count: int, earliest: date = EARLIEST_RECEIPT) -> list[date]:
    """Up to `count` working days ending at `until`, none before `earliest`, oldest first."""
    days: list[date] = []
    day = until
    while len(days) < count and day >= earliest:
        if is_working_day(day):
            days.append(day)
        day -= timedelta(days=1)
    if not days:
        raise ValueError(f"No working day from {earliest} to {until} to receive complaints on.")
    return days[::-1]


def generate(
    cases: int, seed: int, until: date, now: datetime, earliest: date = EARLIEST_RECEIPT
) -> Iterator[tuple[LodgeComplaint, date]]:
    """The lodgings, in order of receipt, spread over working days ending at `until` (or today,
    if earlier: nothing is received in the future). Where 50 a day would reach back before the
    earliest receipt allowed, the days from then on take more each."""
    rng = random.Random(seed)
    last = min(until, local_date(now))
    days = working_days_back(last, max(1, -(-cases // CASES_PER_WORKING_DAY)), earliest)
    for n in range(cases):
        received = days[n * len(days) // cases]
        yield _lodging(rng, n, min(_at(received, rng), now)), received


def seed(
    complaints: Complaints,
    *,
    cases: int,
    seed_value: int,
    until: date,
    now: datetime,
    batch: int = 500,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Lodges and progresses `cases` complaints; returns the position of the last event."""
    rng = random.Random(seed_value + 1)
    position = complaints.head_position()
    lodgings = generate(cases, seed_value, until, now, complaints.earliest_receipt)
    while chunk := list(islice(lodgings, batch)):
        received_times = [command.received_at or now for command, _ in chunk]
        references = complaints.allocate_references(received_times)
        histories = []
        for (command, received), reference in zip(chunk, references, strict=True):
            complaint = Complaint.lodge(
                reference=reference,
                command=command,
                actor=INTAKE,
                now=now,
                earliest_receipt=complaints.earliest_receipt,
                sealed_parts=complaints.sealed_parts,
                keyed=complaints.keyed_hashes(command, access_code=False),
            )
            _progress(complaint, rng, received, now)
            histories.append(complaint)
        position = complaints.record_histories(histories)
        if progress is not None:
            progress(len(chunk))
    return position
