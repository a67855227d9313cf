"""Builders for the domain's unit tests: fixed instants, actors, valid bodies and commands.

Nothing here touches a store, a clock or the network: every command gets an explicit `now`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest

from domain.complaint import Complaint
from domain.errors import DomainError
from domain.values import (
    Actor,
    AssignInvestigator,
    LodgeComplaint,
    RecordContact,
    RedirectComplaint,
    ResolveComplaint,
)

# The complaint is received on Friday 20 November 2026 (GMT, so local and UTC dates agree) and
# every later step happens at NOW unless a test says otherwise.
RECEIVED_AT = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
NOW = datetime(2026, 11, 24, 10, 15, tzinfo=UTC)
REFERENCE = "PC/1/26"

INTAKE = Actor(id="intake-1", name="Front Desk")
SUPERVISOR = Actor(id="sup-1", name="DI Grace Hopper")
INVESTIGATOR = Actor(id="inv-0042", name="DS Ada Lovelace")
OTHER_INVESTIGATOR = Actor(id="inv-0099", name="DC Alan Turing")
OTHER_CASEWORKER = Actor(id="cw-7", name="PC Mary Somerville")

VALID_BODY: dict[str, Any] = {
    "received_at": RECEIVED_AT.isoformat(),
    "channel": "online",
    "complainant": {"name": "Sam Jones", "email": "sam@example.org", "phone": "07700 900123"},
    "standing": "experienced",
    "subject": {"kind": "officer", "shoulder_number": "1234AB"},
    "behaviours": ["rude_or_aggressive"],
    "incident_date": "2026-11-01",
    "location": "Oxford Street",
    "description": "The officer shouted at me while I asked for directions.",
}


def body(**changes: Any) -> dict[str, Any]:
    """A valid LodgeComplaint body with top-level fields replaced (None removes a field)."""
    result = copy.deepcopy(VALID_BODY)
    for key, value in changes.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = value
    return result


def subject(kind: str, **fields: str) -> dict[str, str]:
    return {"kind": kind, **fields}


def lodge_command(data: dict[str, Any] | None = None) -> LodgeComplaint:
    return LodgeComplaint.model_validate(VALID_BODY if data is None else data)


def lodge(
    data: dict[str, Any] | None = None, *, now: datetime = NOW, reference: str = REFERENCE
) -> Complaint:
    """A lodged complaint whose pending events have been collected (as a save would)."""
    complaint = Complaint.lodge(
        reference=reference, command=lodge_command(data), actor=INTAKE, now=now
    )
    complaint.collect_events()
    return complaint


def assign_command(
    investigator: Actor = INVESTIGATOR,
    *,
    reason: str | None = None,
    occurred_at: datetime | None = None,
) -> AssignInvestigator:
    return AssignInvestigator(
        investigator_id=investigator.id,
        investigator_name=investigator.name,
        reason=reason,
        occurred_at=occurred_at,
    )


def contact_command(
    *, method: str = "phone", occurred_at: datetime | None = None, summary: str = "Talked it over."
) -> RecordContact:
    return RecordContact.model_validate(
        {"method": method, "occurred_at": occurred_at, "summary": summary}
    )


def resolve_command(
    *,
    outcome: str = "apology_given",
    summary: str = "Apologised for the officer's manner.",
    learning: list[dict[str, str]] | None = None,
    occurred_at: datetime | None = None,
) -> ResolveComplaint:
    return ResolveComplaint.model_validate(
        {
            "outcome": outcome,
            "summary": summary,
            "learning": learning or [],
            "occurred_at": occurred_at,
        }
    )


def redirect_command(
    destination: str = "iopc",
    *,
    force_name: str | None = None,
    reason: str = "Not ours to handle.",
    occurred_at: datetime | None = None,
) -> RedirectComplaint:
    return RedirectComplaint.model_validate(
        {
            "destination": destination,
            "force_name": force_name,
            "reason": reason,
            "occurred_at": occurred_at,
        }
    )


def assigned(data: dict[str, Any] | None = None, *, now: datetime = NOW) -> Complaint:
    complaint = lodge(data, now=now)
    complaint.assign_investigator(assign_command(), actor=SUPERVISOR, now=now)
    complaint.collect_events()
    return complaint


def in_contact(data: dict[str, Any] | None = None, *, now: datetime = NOW) -> Complaint:
    complaint = assigned(data, now=now)
    complaint.record_contact(contact_command(), actor=INVESTIGATOR, supervisor=False, now=now)
    complaint.collect_events()
    return complaint


def resolved(data: dict[str, Any] | None = None, *, now: datetime = NOW) -> Complaint:
    complaint = in_contact(data, now=now)
    complaint.resolve(resolve_command(), actor=INVESTIGATOR, supervisor=False, now=now)
    complaint.collect_events()
    return complaint


def redirected(data: dict[str, Any] | None = None, *, now: datetime = NOW) -> Complaint:
    complaint = lodge(data, now=now)
    complaint.redirect_to(redirect_command("iopc"), actor=SUPERVISOR, now=now)
    complaint.collect_events()
    return complaint


def assert_refused(
    complaint: Complaint,
    command: Callable[[], object],
    error: type[DomainError],
    rule: str,
) -> DomainError:
    """Runs a command that must be refused with exactly `error`, and checks nothing changed."""
    before = copy.deepcopy(complaint)
    version = complaint.version
    with pytest.raises(DomainError) as raised:
        command()
    assert type(raised.value) is error
    assert raised.value.rule == rule
    assert raised.value.detail  # a sentence a person can act on
    assert complaint.collect_events() == []
    assert complaint.version == version
    assert complaint == before
    return raised.value


@contextmanager
def watching_creations() -> Iterator[list[str]]:
    """Lists the references of the complaints that `Complaint.lodge` creates meanwhile."""
    created: list[str] = []
    original = Complaint._create

    def spy(*args: Any, **kwargs: Any) -> Complaint:
        created.append(kwargs["reference"])
        return original(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Complaint, "_create", spy)
        yield created


def assert_lodging_refused(
    data: dict[str, Any], error: type[DomainError], rule: str, fields: tuple[str, ...]
) -> DomainError:
    """Lodging `data` is refused with exactly `error`, naming `fields`, before any event."""
    command = lodge_command(data)
    with watching_creations() as created, pytest.raises(DomainError) as raised:
        Complaint.lodge(reference=REFERENCE, command=command, actor=INTAKE, now=NOW)
    assert created == []
    assert type(raised.value) is error
    assert raised.value.rule == rule
    assert tuple(problem.field for problem in raised.value.fields) == fields
    assert all(problem.message for problem in raised.value.fields)
    return raised.value
