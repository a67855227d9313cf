"""Events round-trip through `JsonMapper` to plain, canonical JSON; replay rebuilds the state."""

from __future__ import annotations

import json
from datetime import date, timedelta
from functools import reduce
from typing import Any, cast
from uuid import UUID

import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.domain import CanMutateAggregate
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from domain.complaint import Complaint
from domain.json_mapper import JsonMapper
from domain.service import _UnusedTranscoder
from domain.service import replay as service_replay
from domain.values import Status
from tests.unit.domain.builders import (
    INTAKE,
    INVESTIGATOR,
    NOW,
    OTHER_INVESTIGATOR,
    RECEIVED_AT,
    REFERENCE,
    SUPERVISOR,
    assign_command,
    body,
    contact_command,
    lodge_command,
    redirect_command,
    resolve_command,
)

TOPICS = [
    "complaints:ComplaintLodged",
    "complaints:InvestigatorAssigned",
    "complaints:InvestigatorAssigned",
    "complaints:ComplainantContacted",
    "complaints:ComplaintResolved",
]


def mapper() -> JsonMapper:
    # As `Complaints.construct_mapper` builds it: the mapper encodes JSON itself.
    return JsonMapper(transcoder=_UnusedTranscoder())


def worked_complaint() -> tuple[Complaint, list[CanMutateAggregate[UUID]]]:
    """A complaint taken through every kind of event but a redirect, and its events."""
    data = body(
        complainant={"name": "Zoë Ó Briain", "address": "1 High St", "date_of_birth": "1980-02-29"},
        on_behalf_of={
            "name": "Finn Ó Briain",
            "date_of_birth": "2015-03-01",
            "basis": "parent_or_guardian_of_child_under_16",
        },
        incident_date="2025-10-01",
    )
    complaint = Complaint.lodge(
        reference=REFERENCE, command=lodge_command(data), actor=INTAKE, now=NOW
    )
    complaint.assign_investigator(assign_command(), actor=SUPERVISOR, now=NOW)
    complaint.assign_investigator(
        assign_command(OTHER_INVESTIGATOR, reason="Leave."),
        actor=SUPERVISOR,
        now=NOW + timedelta(hours=1),
    )
    complaint.record_contact(
        contact_command(occurred_at=RECEIVED_AT + timedelta(days=1)),
        actor=SUPERVISOR,
        supervisor=True,
        now=NOW + timedelta(hours=2),
    )
    complaint.resolve(
        resolve_command(learning=[{"theme": "communication", "note": "Slow down."}]),
        actor=SUPERVISOR,
        supervisor=True,
        now=NOW + timedelta(days=2),
    )
    events = list(complaint.collect_events())
    return complaint, events


def test_events_are_stored_under_explicit_topics_and_class_versions() -> None:
    _, events = worked_complaint()

    stored = [mapper().to_stored_event(event) for event in events]

    assert [record.topic for record in stored] == TOPICS
    assert [record.originator_version for record in stored] == [1, 2, 3, 4, 5]
    assert {record.originator_id for record in stored} == {events[0].originator_id}
    # The lodging is at version 2 since it says which parts were sealed (upcast from 1).
    assert [json.loads(record.state)["class_version"] for record in stored] == [2, 1, 1, 1, 1]


def test_a_lodging_stored_at_version_1_reads_as_stored_in_clear() -> None:
    _, events = worked_complaint()
    stored = mapper().to_stored_event(events[0])
    state = json.loads(stored.state)
    del state["sealed_parts"]
    state["class_version"] = 1
    old = StoredEvent(
        stored.originator_id, stored.originator_version, stored.topic, json.dumps(state).encode()
    )

    lodged = mapper().to_domain_event(old)

    assert lodged.sealed_parts == []  # type: ignore[attr-defined]


def test_stored_json_is_plain_canonical_utf8() -> None:
    _, events = worked_complaint()

    for event in events:
        state = mapper().to_stored_event(event).state
        text = state.decode("utf-8")
        loaded = json.loads(text)
        # Plain: no library type wrappers anywhere, dates as ISO 8601 strings
        assert "_type_" not in text
        assert "_data_" not in text
        # Canonical: sorted keys at every level, fixed separators, non-ASCII kept as UTF-8
        assert text == json.dumps(loaded, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        # The envelope's id and version live in the record's columns, not in the JSON
        assert "originator_id" not in loaded
        assert "originator_version" not in loaded

    lodged = json.loads(mapper().to_stored_event(events[0]).state)
    assert lodged["received_at"] == "2026-11-20T09:30:00+00:00"
    assert lodged["occurred_at"] == "2026-11-20T09:30:00+00:00"
    assert lodged["incident_date"] == "2025-10-01"
    assert lodged["late"] is True  # over 12 months before receipt
    assert lodged["complainant"]["name"] == "Zoë Ó Briain"
    assert lodged["complainant"]["date_of_birth"] == "1980-02-29"
    assert lodged["on_behalf_of"]["date_of_birth"] == "2015-03-01"
    assert lodged["actor"] == {"id": "intake-1", "name": "Front Desk"}
    assert list(lodged) == sorted(lodged)
    assert "Zoë Ó Briain".encode() in mapper().to_stored_event(events[0]).state


def test_each_event_round_trips_to_an_equal_event_and_the_same_bytes() -> None:
    _, events = worked_complaint()

    for event in events:
        stored = mapper().to_stored_event(event)
        back = mapper().to_domain_event(stored)

        assert type(back) is type(event)
        assert vars(back) == vars(event)
        assert mapper().to_stored_event(back) == stored

    back_lodged = mapper().to_domain_event(mapper().to_stored_event(events[0]))
    assert isinstance(back_lodged, Complaint.Lodged)
    assert type(back_lodged.incident_date) is date
    assert back_lodged.received_at == RECEIVED_AT
    assert back_lodged.received_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("replay", ["project_aggregate", "reduce", "service"])
def test_replaying_stored_events_rebuilds_the_same_complaint(replay: str) -> None:
    # Given a worked complaint and its events as stored
    complaint, events = worked_complaint()
    stored = [mapper().to_stored_event(event) for event in events]

    # When the stored events are read back and replayed
    restored = [cast(Complaint.Event, mapper().to_domain_event(record)) for record in stored]
    rebuilt: Any
    if replay == "project_aggregate":
        rebuilt = project_aggregate(None, restored)
    elif replay == "service":  # what the application replays with
        rebuilt = service_replay(None, restored)
    else:
        rebuilt = reduce(lambda aggregate, event: event.mutate(aggregate), restored, None)

    # Then the state is the same, attribute for attribute
    assert isinstance(rebuilt, Complaint)
    assert vars(rebuilt) == vars(complaint)
    assert rebuilt == complaint
    assert rebuilt.status is Status.RESOLVED
    assert rebuilt.version == 5
    assert rebuilt.investigator_id == "inv-0099"
    assert rebuilt.first_contact_at == RECEIVED_AT + timedelta(days=1)
    assert rebuilt.resolved_at == NOW + timedelta(days=2)
    assert rebuilt.lodged["incident_date"] == date(2025, 10, 1)
    assert rebuilt.resolution is not None
    assert rebuilt.resolution["learning"] == [{"theme": "communication", "note": "Slow down."}]


def test_replaying_a_prefix_gives_the_complaint_as_it_stood() -> None:
    _, events = worked_complaint()
    restored = [mapper().to_domain_event(mapper().to_stored_event(event)) for event in events]

    statuses: list[tuple[int, Status, str | None]] = []
    for length in range(1, len(restored) + 1):
        rebuilt = project_aggregate(None, restored[:length])
        assert isinstance(rebuilt, Complaint)
        statuses.append((rebuilt.version, rebuilt.status, rebuilt.investigator_id))

    assert statuses == [
        (1, Status.LODGED, None),
        (2, Status.ASSIGNED, "inv-0042"),
        (3, Status.ASSIGNED, "inv-0099"),
        (4, Status.IN_CONTACT, "inv-0099"),
        (5, Status.RESOLVED, "inv-0099"),
    ]


def test_a_redirect_round_trips() -> None:
    complaint = Complaint.lodge(
        reference=REFERENCE,
        command=lodge_command(body(subject={"kind": "other_force", "force_name": "Kent Police"})),
        actor=INTAKE,
        now=NOW,
    )
    complaint.redirect_to(
        redirect_command("other_force", force_name="Kent Police", reason="Their officer."),
        actor=INVESTIGATOR,
        now=NOW,
    )
    events = complaint.collect_events()
    stored = [mapper().to_stored_event(event) for event in events]

    assert stored[1].topic == "complaints:ComplaintRedirected"
    assert json.loads(stored[1].state) == {
        "actor": {"id": "inv-0042", "name": "DS Ada Lovelace"},
        "class_version": 1,
        "destination": "other_force",
        "force_name": "Kent Police",
        "occurred_at": "2026-11-24T10:15:00+00:00",
        "reason": "Their officer.",
        "timestamp": events[1].timestamp.isoformat(),
    }
    rebuilt = project_aggregate(None, [mapper().to_domain_event(record) for record in stored])
    assert rebuilt == complaint


def test_stored_json_without_a_class_version_is_read_as_version_1() -> None:
    _, events = worked_complaint()
    stored = mapper().to_stored_event(events[1])
    state = json.loads(stored.state)
    del state["class_version"]
    legacy = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=stored.originator_version,
        topic=stored.topic,
        state=json.dumps(state).encode(),
    )

    back = mapper().to_domain_event(legacy)

    assert vars(back) == vars(events[1])


def test_unreadable_stored_json_is_a_named_mapper_error() -> None:
    _, events = worked_complaint()
    stored = mapper().to_stored_event(events[0])
    broken = StoredEvent(
        originator_id=stored.originator_id,
        originator_version=1,
        topic=stored.topic,
        state=b"{not json",
    )

    with pytest.raises(MapperDeserialisationError, match="complaints:ComplaintLodged"):
        mapper().to_domain_event(broken)
