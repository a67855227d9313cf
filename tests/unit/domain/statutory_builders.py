"""Builders for the statutory process's unit tests (docs/DOMAIN.md part B, rules 12 to 20).

As in `builders.py`: fixed instants and actors, valid commands, and complaints built through the
aggregate's commands with an explicit `now`, their pending events collected (as a save would).
Every command goes in through `Complaint.decide`, the service's one way in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from domain.complaint import Complaint
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
from domain.values import (
    Actor,
    LiftRestriction,
    RecordContact,
    RestrictProcessing,
    ReviewRetention,
)
from tests.unit.domain.builders import (
    INVESTIGATOR,
    NOW,
    OTHER_INVESTIGATOR,
    SUPERVISOR,
    assign_command,
    assigned,
    body,
    lodge,
    redirect_command,
    redirected,
    resolve_command,
    resolved,
)

LONDON = ZoneInfo("Europe/London")

# NOW is Tuesday 24 November 2026 (GMT): a review of an outcome notified then is in time
# through the 28th day after it, 22 December 2026; it is finalised on 23 December.
NOTIFIED_DAY = date(2026, 11, 24)
DEADLINE = date(2026, 12, 22)
FINAL_ON = date(2026, 12, 23)

MANDATORY = [
    "death_or_serious_injury",
    "serious_assault",
    "serious_sexual_offence",
    "serious_corruption",
    "discrimination",
]
NOT_MANDATORY = ["criminal_offence", "misconduct", "article_2_or_3_breach"]
ALL_FLAGS = [*MANDATORY, *NOT_MANDATORY]


# ---- commands ---------------------------------------------------------------------------------


def contact_command(
    *,
    wants_recording: bool = False,
    desired_outcome: str | None = None,
    occurred_at: datetime | None = None,
) -> RecordContact:
    return RecordContact.model_validate(
        {
            "method": "phone",
            "summary": "Talked it over.",
            "wants_recording": wants_recording,
            "desired_outcome": desired_outcome,
            "occurred_at": occurred_at,
        }
    )


def allegation_command(
    *flags: str,
    category: str | None = "individual_behaviours",
    description: str | None = "The officer shouted at me.",
    subcategory: str | None = None,
    occurred_at: datetime | None = None,
) -> AddAllegation:
    return AddAllegation.model_validate(
        {
            "category": category,
            "subcategory": subcategory,
            "description": description,
            "flags": list(flags),
            "occurred_at": occurred_at,
        }
    )


def handling_command(
    mode: str = "schedule_3",
    *,
    reason: str = "The complainant's views were sought.",
    occurred_at: datetime | None = None,
) -> DecideHandling:
    return DecideHandling.model_validate(
        {"mode": mode, "reason": reason, "occurred_at": occurred_at}
    )


def referral_command(
    grounds: list[str] | None = None, *, iopc_reference: str | None = "2026/012345"
) -> ReferToIopc:
    return ReferToIopc.model_validate({"grounds": grounds, "iopc_reference": iopc_reference})


def determination_command(
    mode: str = "local_investigation", *, iopc_reference: str | None = None
) -> RecordIopcDetermination:
    return RecordIopcDetermination.model_validate({"mode": mode, "iopc_reference": iopc_reference})


def update_command(
    *, summary: str = "Statements are being taken.", occurred_at: datetime | None = None
) -> SendProgressUpdate:
    return SendProgressUpdate.model_validate(
        {"method": "letter", "summary": summary, "occurred_at": occurred_at}
    )


def outcome_command(
    results: Sequence[tuple[str, str]] | None = None,
    *,
    actions: Iterable[str] = ("explanation",),
    summary: str = "The officer's manner fell short; he has been spoken to.",
    learning: list[dict[str, str]] | None = None,
    occurred_at: datetime | None = None,
) -> NotifyOutcome:
    """Outcomes as (allegation id, outcome) pairs: by default `A1` not upheld."""
    pairs = [("A1", "not_upheld")] if results is None else results
    return NotifyOutcome.model_validate(
        {
            "allegations": [{"allegation_id": a, "outcome": outcome} for a, outcome in pairs],
            "actions": list(actions),
            "summary": summary,
            "learning": learning or [],
            "occurred_at": occurred_at,
        }
    )


def review_command(
    *,
    received_at: datetime | None = None,
    grounds: str = "Nobody looked at the CCTV.",
    late_reason: str | None = None,
    occurred_at: datetime | None = None,
) -> RequestReview:
    return RequestReview.model_validate(
        {
            "received_at": received_at,
            "grounds": grounds,
            "late_reason": late_reason,
            "occurred_at": occurred_at,
        }
    )


def review_decision_command(
    reasonable: bool = True, *, recommendations: Iterable[str] = ()
) -> DecideReview:
    return DecideReview.model_validate(
        {"reasonable_and_proportionate": reasonable, "recommendations": list(recommendations)}
    )


def withdraw_command(
    *,
    signed_by: str | None = "complainant",
    signed_on: date | None = NOTIFIED_DAY,
    scope: str = "The whole complaint.",
) -> WithdrawComplaint:
    return WithdrawComplaint.model_validate(
        {"signed_by": signed_by, "signed_on": signed_on, "scope": scope}
    )


def retention_command(now: datetime) -> ReviewRetention:
    """A records manager's decision (part C): accepted once the complaint is final."""
    return ReviewRetention.model_validate(
        {
            "decision": "retain",
            "reason": "Civil claim pending.",
            "next_review_on": (now + timedelta(days=400)).date(),
        }
    )


def restrict_command() -> RestrictProcessing:
    return RestrictProcessing.model_validate(
        {"reason": "Held as evidence.", "authority_ref": "LEGAL/1"}
    )


def lift_command() -> LiftRestriction:
    return LiftRestriction.model_validate({"reason": "Proceedings over."})


# ---- acting -----------------------------------------------------------------------------------


def act(
    complaint: Complaint,
    command: StatutoryChange | Any,
    *,
    actor: Actor = SUPERVISOR,
    supervisor: bool = True,
    now: datetime = NOW,
) -> Complaint.Event:
    """Runs one accepted command through `decide` and returns the one event it recorded."""
    complaint.decide(command, actor=actor, supervisor=supervisor, now=now)
    (event,) = complaint.collect_events()
    return event


def attempt(
    complaint: Complaint,
    command: StatutoryChange | Any,
    *,
    actor: Actor = SUPERVISOR,
    supervisor: bool = True,
    now: datetime = NOW,
) -> Any:
    """A zero-argument callable for `assert_refused`."""
    return lambda: complaint.decide(command, actor=actor, supervisor=supervisor, now=now)


# ---- complaints at each status ----------------------------------------------------------------


def contacted(
    data: dict[str, Any] | None = None,
    *,
    wants_recording: bool = False,
    desired_outcome: str | None = None,
    now: datetime = NOW,
) -> Complaint:
    """In contact, the complainant's views on recording sought."""
    complaint = assigned(data, now=now)
    act(
        complaint,
        contact_command(wants_recording=wants_recording, desired_outcome=desired_outcome),
        actor=INVESTIGATOR,
        supervisor=False,
        now=now,
    )
    return complaint


def recorded(
    *allegations: Sequence[str],
    data: dict[str, Any] | None = None,
    now: datetime = NOW,
) -> Complaint:
    """Recorded under Schedule 3, with one allegation per flag list given (none by default)."""
    complaint = contacted(data, now=now)
    for flags in allegations:
        act(complaint, allegation_command(*flags), now=now)
    act(complaint, handling_command("schedule_3"), now=now)
    return complaint


def notified(*flags: str, data: dict[str, Any] | None = None, now: datetime = NOW) -> Complaint:
    """Outcome notified at `now` of one allegation `A1` with `flags`, referred to the IOPC and
    determined first when a flag makes referral mandatory."""
    complaint = recorded(flags, data=data, now=now)
    if set(flags) & set(MANDATORY):
        act(complaint, referral_command(), now=now)
        act(complaint, determination_command(), now=now)
    act(complaint, outcome_command(), now=now)
    return complaint


def under_review(*flags: str, now: datetime = NOW) -> Complaint:
    complaint = notified(*flags, now=now)
    act(complaint, review_command(), now=now)
    return complaint


def finalised_by_review(now: datetime = NOW) -> Complaint:
    complaint = under_review(now=now)
    act(complaint, review_decision_command(True), now=now)
    return complaint


def reopened(now: datetime = NOW) -> Complaint:
    complaint = under_review(now=now)
    act(complaint, review_decision_command(False), now=now)
    return complaint


def withdrawn(now: datetime = NOW) -> Complaint:
    complaint = lodge(now=now)
    act(complaint, withdraw_command(), now=now)
    return complaint


def london(text: str) -> datetime:
    """An instant written as London wall-clock time, e.g. `2026-12-22 23:59`."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON)


# ---- shared by the rules' tests ---------------------------------------------------------------

LATER = NOW + timedelta(days=1)
# The last moment of the 28th day after the notification, and the first of the 29th (GMT).
LAST_MOMENT_IN_TIME = london("2026-12-22 23:59:59.999999")
FIRST_MOMENT_LATE = london("2026-12-23 00:00")
LONG_AFTER = london("2027-01-05 10:00")


def every_command(now: datetime) -> dict[str, object]:
    """One valid command of each kind but the records manager's (part C)."""
    return {
        "allegation": allegation_command(),
        "handling": handling_command(),
        "referral": referral_command(["voluntary"]),
        "determination": determination_command(),
        "update": update_command(),
        "outcome": outcome_command(),
        "review": review_command(late_reason="The complainant was in hospital."),
        "review_decision": review_decision_command(),
        "withdrawal": withdraw_command(signed_on=now.date()),
        "redirect": redirect_command(),
        "assign": assign_command(OTHER_INVESTIGATOR, reason="Leave."),
        "contact": contact_command(),
        "resolve": resolve_command(),
    }


# A complaint at each open status, and at each final status reached by an event.
OPEN_BUILDERS: dict[str, Callable[[], Complaint]] = {
    "lodged": lodge,
    "assigned": assigned,
    "in_contact": contacted,
    "recorded": recorded,
    "outcome_notified": notified,
    "under_review": under_review,
}
CLOSED_BUILDERS: dict[str, Callable[[], Complaint]] = {
    "resolved": resolved,
    "redirected": redirected,
    "withdrawn": withdrawn,
    "finalised": finalised_by_review,
}


def resolve_by_investigator(complaint: Complaint) -> Callable[[], None]:
    """Resolution by the assigned investigator (part A's command), for `assert_refused`."""
    return lambda: complaint.resolve(
        resolve_command(), actor=INVESTIGATOR, supervisor=False, now=NOW
    )


def summer_complaint() -> dict[str, Any]:
    """A complaint received on 1 June 2026, in British Summer Time."""
    return body(received_at="2026-06-01T09:00:00+01:00", incident_date=None)
