"""Plans of complaint histories, and two ways to play them: over HTTP and through the service.

A plan is a `LodgeComplaint` body and the commands that follow it, each with an explicit
`occurred_at`, so that what the read models must say follows from the plan alone
(`tests.projections.model`). `generate` makes varied, valid plans from a seed.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from domain.complaint import Complaint
from domain.service import Complaints
from domain.values import (
    Actor,
    AssignInvestigator,
    LodgeComplaint,
    RecordContact,
    RedirectComplaint,
    ResolveComplaint,
)
from tests.support import CASEWORKER, INTAKE, SUPERVISOR, auth

# "Now" for every test that plays plans: Friday 15 January 2027, noon (GMT).
NOW = datetime(2027, 1, 15, 12, 0, tzinfo=UTC)
# The first instant of receipt for generated histories in the integration tests.
EARLIEST = datetime(2026, 9, 1, tzinfo=UTC)
INVESTIGATORS = {
    "inv-a": "DS Ada Lovelace",
    "inv-b": "DC Alan Turing",
    "inv-c": "DS Mary Somerville",
    "inv-d": "DC Charles Babbage",
}
SUPERVISOR_ID = "sup-1"
CASEWORKER_ID = "cw-1"
LONDON = ZoneInfo("Europe/London")
PERSON_KINDS = ("officer", "staff", "contractor", "volunteer")
OTHER_KINDS = ("case_handling", "police_station", "force_general")
CHANNELS = ("online", "letter", "police_station", "iopc", "partner_organisation", "representative")
BEHAVIOURS = (
    "rude_or_aggressive",
    "causing_distress",
    "causing_inconvenience",
    "causing_property_loss_or_damage",
    "causing_danger_or_risk",
)
OUTCOMES = (
    "explanation_given",
    "apology_given",
    "information_provided",
    "service_acceptable",
    "service_not_acceptable",
    "unable_to_determine",
    "practice_requiring_improvement",
    "referred_for_misconduct",
    "no_further_action",
)
THEMES = ("communication", "stop_and_search", "record_keeping", "training", "custody")


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def london_year(moment: datetime) -> int:
    return moment.astimezone(LONDON).year


@dataclass
class Step:
    action: str  # the command's path: redirect, assign, contacts or resolve
    body: dict[str, Any]
    by: str  # the actor's id: the supervisor, an investigator, or cw-1 for redirects


@dataclass
class Plan:
    body: dict[str, Any]
    steps: list[Step] = field(default_factory=list)
    late: bool = False
    complaint_id: str = ""
    reference: str = ""

    def assign(self, at: str | datetime, investigator: str, reason: str | None = None) -> Plan:
        body = {
            "investigator_id": investigator,
            "investigator_name": INVESTIGATORS.get(investigator, investigator),
            "occurred_at": _text(at),
        }
        if reason:
            body["reason"] = reason
        self.steps.append(Step("assign", body, SUPERVISOR_ID))
        return self

    def contact(self, at: str | datetime, method: str = "phone", summary: str = "Spoke.") -> Plan:
        body = {"method": method, "summary": summary, "occurred_at": _text(at)}
        self.steps.append(Step("contacts", body, self._worker()))
        return self

    def resolve(
        self, at: str | datetime, outcome: str, *learning: tuple[str, str], summary: str = "Done."
    ) -> Plan:
        points = [{"theme": theme, "note": note} for theme, note in learning]
        body = {
            "outcome": outcome,
            "summary": summary,
            "learning": points,
            "occurred_at": _text(at),
        }
        self.steps.append(Step("resolve", body, self._worker()))
        return self

    def redirect(
        self,
        at: str | datetime,
        destination: str,
        force: str | None = None,
        reason: str = "Not ours.",
    ) -> Plan:
        body: dict[str, Any] = {
            "destination": destination,
            "reason": reason,
            "occurred_at": _text(at),
        }
        if force:
            body["force_name"] = force
        self.steps.append(Step("redirect", body, CASEWORKER_ID))
        return self

    def _worker(self) -> str:
        # Contact and resolution come from the investigator assigned last (a supervisor if none).
        assigned = [step.body["investigator_id"] for step in self.steps if step.action == "assign"]
        return assigned[-1] if assigned else SUPERVISOR_ID


def _text(at: str | datetime) -> str:
    return at if isinstance(at, str) else iso(at)


def complaint(
    received_at: str | datetime,
    *,
    kind: str = "officer",
    channel: str = "online",
    standing: str = "experienced",
    behaviours: tuple[str, ...] = ("rude_or_aggressive",),
    on_behalf: dict[str, Any] | None = None,
    incident: str | None = None,
    late: bool = False,
) -> Plan:
    """A plan whose lodging body is valid for these categories."""
    received = _text(received_at)
    subject: dict[str, Any] = {"kind": kind}
    if kind in PERSON_KINDS:
        subject["shoulder_number"] = "1234AB"
    elif kind == "police_station":
        subject["station"] = "Charing Cross"
    elif kind == "other_force":
        subject["force_name"] = "Kent Police"
    body: dict[str, Any] = {
        "received_at": received,
        "channel": channel,
        "complainant": {"name": "Sam Jones", "email": "sam@example.org"},
        "standing": standing,
        "subject": subject,
        "behaviours": list(behaviours),
        "description": "What happened, in the complainant's words.",
    }
    if channel in ("partner_organisation", "representative"):
        body["channel_detail"] = "Citizens Advice"
    if on_behalf is not None:
        body["on_behalf_of"] = on_behalf
    if incident is not None:
        body["incident_date"] = incident
    return Plan(body=body, late=late)


def generate(count: int, seed: int, *, earliest: datetime, now: datetime = NOW) -> list[Plan]:
    """`count` varied, valid plans received between `earliest` and `now`, from `seed`."""
    rng = random.Random(seed)
    plans = []
    span = int((now - earliest).total_seconds()) - 3600
    for n in range(count):
        received = earliest + timedelta(seconds=rng.randrange(span))
        kind = rng.choice(
            (*PERSON_KINDS, *PERSON_KINDS, *OTHER_KINDS, "commissioner", "other_force")
        )
        standing = rng.choice(
            ("experienced", "witnessed", "adversely_affected")
            if kind in PERSON_KINDS
            else ("experienced", "adversely_affected")
        )
        behaviours = tuple(rng.sample(BEHAVIOURS, rng.randint(0, 3)))
        if standing == "adversely_affected" and set(behaviours) <= {"rude_or_aggressive"}:
            behaviours = (*behaviours, "causing_distress")
        if kind in PERSON_KINDS and not behaviours:
            behaviours = ("rude_or_aggressive",)
        day = received.date()
        on_behalf = rng.choice(
            (
                None,
                None,
                None,
                {
                    "name": "Alex Jones",
                    "date_of_birth": day.replace(year=day.year - 10, day=1).isoformat(),
                    "basis": "parent_or_guardian_of_child_under_16",
                },
                {"name": "Pat Jones", "basis": "written_consent", "consent_reference": "WC-1"},
            )
        )
        late = n % 7 == 3
        incident = rng.choice((None, (day - timedelta(days=rng.randint(0, 40))).isoformat()))
        if late:
            incident = date(day.year - 2, 6, 1).isoformat()
        plan = complaint(
            received,
            kind=kind,
            channel=CHANNELS[n % len(CHANNELS)],
            standing=standing,
            behaviours=behaviours,
            on_behalf=on_behalf,
            incident=incident,
            late=late,
        )
        _progress(plan, rng, received, now)
        plans.append(plan)
    return plans


def _progress(plan: Plan, rng: random.Random, received: datetime, now: datetime) -> None:
    """Adds the commands that a complaint of this kind gets, as far as `now` allows."""
    at = received
    kind = plan.body["subject"]["kind"]

    def later(hours: int) -> datetime | None:
        nonlocal at
        at = at + timedelta(hours=rng.randint(1, hours), minutes=rng.randint(0, 59))
        return at if at < now - timedelta(minutes=1) else None

    fate = rng.random()
    if kind in ("commissioner", "other_force"):
        if fate < 0.8 and (when := later(72)):
            if kind == "commissioner":
                plan.redirect(when, "mopac")
            elif fate < 0.4:
                plan.redirect(when, "iopc")
            else:
                plan.redirect(when, "other_force", force="Kent Police")
        return
    if fate < 0.1:
        if when := later(48):
            plan.redirect(when, "iopc")
        return
    if fate < 0.2 or not (when := later(120)):
        return
    investigators = list(INVESTIGATORS)
    plan.assign(when, rng.choice(investigators))
    if fate < 0.3 and (when := later(96)):
        current = plan.steps[-1].body["investigator_id"]
        plan.assign(when, rng.choice([i for i in investigators if i != current]), "Workload.")
    if fate < 0.35:
        if when := later(48):
            plan.redirect(when, "iopc", reason="Turned out to be serious.")
        return
    contacts = rng.choice((0, 1, 1, 2))
    for _ in range(contacts):
        if when := later(150):
            plan.contact(when, rng.choice(("phone", "email", "letter", "in_person", "video")))
    if contacts == 2 and len([s for s in plan.steps if s.action == "contacts"]) == 2 and fate < 0.6:
        # The second contact recorded is dated between receipt and the first one.
        first = plan.steps[-2].body["occurred_at"]
        plan.steps[-1].body["occurred_at"] = _between(rng, received, first)
    if plan.steps[-1].action == "contacts" and fate > 0.45 and (when := later(300)):
        themes = rng.sample(THEMES, rng.randint(0, 2))
        points = [(theme, "A note.") for theme in themes]
        if points and fate > 0.9:
            points.append((points[0][0], "Same theme again."))
        plan.resolve(when, rng.choice(OUTCOMES), *points)


def _between(rng: random.Random, start: datetime, end_text: str) -> str:
    end = datetime.fromisoformat(end_text.replace("Z", "+00:00"))
    seconds = int((end - start).total_seconds())
    return iso(start + timedelta(seconds=rng.randrange(max(seconds, 1))))


# ---- playing plans -----------------------------------------------------------------------------


def headers_for(actor: str) -> dict[str, str]:
    if actor == SUPERVISOR_ID:
        return SUPERVISOR
    if actor == CASEWORKER_ID:
        return CASEWORKER
    return auth(actor, "caseworker", name=INVESTIGATORS.get(actor, actor))


def rounds(plans: list[Plan]) -> Iterator[tuple[Plan, Step]]:
    """Every plan's k-th step before any plan's (k+1)-th: histories interleave in the log."""
    depth = max((len(plan.steps) for plan in plans), default=0)
    for k in range(depth):
        for plan in plans:
            if k < len(plan.steps):
                yield plan, plan.steps[k]


def play_http(client: TestClient, plans: list[Plan]) -> int:
    """Lodges and progresses the plans through the API; returns the last position written."""
    position = 0
    for plan in plans:
        response = client.post("/complaints", json=plan.body, headers=INTAKE)
        assert response.status_code == 201, response.text
        answer = response.json()
        plan.complaint_id, plan.reference = answer["complaint_id"], answer["reference"]
        position = answer["position"]
    headers: dict[str, dict[str, str]] = {}
    for plan, step in rounds(plans):
        sender = headers.setdefault(step.by, headers_for(step.by))
        response = client.post(
            f"/complaints/{plan.complaint_id}/{step.action}", json=step.body, headers=sender
        )
        assert response.status_code == 200, (step, response.text)
        position = response.json()["position"]
    return position


# References for complaints saved straight through the aggregate (no HTTP, no number per call):
# far above anything the service hands out in a test, and never reused within a test run.
_NUMBERS = itertools.count(10_000_000)

_COMMANDS: dict[str, Any] = {
    "redirect": RedirectComplaint,
    "assign": AssignInvestigator,
    "contacts": RecordContact,
    "resolve": ResolveComplaint,
}


def play_service(
    complaints: Complaints, plans: list[Plan], *, chunk: int = 250, now: datetime = NOW
) -> int:
    """Plays the plans through the aggregate and `Complaints.save`, `chunk` complaints per
    transaction, round by round; returns the head position."""
    intake = Actor(id="intake-1", name="Front Desk")
    aggregates: dict[int, Complaint] = {}
    for start in range(0, len(plans), chunk):
        batch = []
        for index in range(start, min(start + chunk, len(plans))):
            plan = plans[index]
            command = LodgeComplaint.model_validate(plan.body)
            received = command.received_at or now
            year = london_year(received)
            reference = f"PC/{next(_NUMBERS)}/{year % 100:02d}"
            aggregate = Complaint.lodge(reference=reference, command=command, actor=intake, now=now)
            plan.complaint_id, plan.reference = str(aggregate.id), reference
            aggregates[index] = aggregate
            batch.append(aggregate)
        complaints.save(*batch)
    index_of = {id(plan): index for index, plan in enumerate(plans)}
    pending: dict[int, Complaint] = {}  # by the id() of the aggregate, which is not hashable
    for plan, step in rounds(plans):
        aggregate = aggregates[index_of[id(plan)]]
        _apply(aggregate, step, now)
        pending[id(aggregate)] = aggregate
        if len(pending) >= chunk:
            complaints.save(*pending.values())
            pending = {}
    if pending:
        complaints.save(*pending.values())
    return complaints.head_position()


def _apply(aggregate: Complaint, step: Step, now: datetime) -> None:
    command = _COMMANDS[step.action].model_validate(step.body)
    actor = Actor(id=step.by, name=INVESTIGATORS.get(step.by, step.by))
    supervisor = step.by == SUPERVISOR_ID
    if step.action == "redirect":
        aggregate.redirect_to(command, actor=actor, now=now)
    elif step.action == "assign":
        aggregate.assign_investigator(command, actor=actor, now=now)
    elif step.action == "contacts":
        aggregate.record_contact(command, actor=actor, supervisor=supervisor, now=now)
    else:
        aggregate.resolve(command, actor=actor, supervisor=supervisor, now=now)
