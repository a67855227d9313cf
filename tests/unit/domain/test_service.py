"""The `Complaints` application service on the in-memory (POPO) event store: no I/O."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from eventsourcing.persistence import ApplicationRecorder

from domain.complaint import Complaint, complaint_id_for
from domain.errors import (
    ComplainantUnreachableError,
    ComplaintNotFoundError,
    ConcurrentModificationError,
    MustRedirectError,
    VersionMismatchError,
)
from domain.json_mapper import JsonMapper
from domain.service import Complaints
from domain.values import Status
from tests.unit.domain.builders import (
    INTAKE,
    INVESTIGATOR,
    NOW,
    OTHER_INVESTIGATOR,
    RECEIVED_AT,
    SUPERVISOR,
    assign_command,
    body,
    contact_command,
    lodge_command,
    resolve_command,
    subject,
)

RECORDED_FROM = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class CountingReferences:
    """Reference numbers per year of receipt, counted in memory."""

    def __init__(self) -> None:
        self.issued: dict[int, int] = {}
        self.recorder: ApplicationRecorder | None = None

    def __call__(self, recorder: ApplicationRecorder) -> CountingReferences:
        self.recorder = recorder
        return self

    def next_numbers(self, year: int, count: int) -> list[int]:
        first = self.issued.get(year, 0) + 1
        self.issued[year] = first + count - 1
        return list(range(first, first + count))


class FixedClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def recorded_at(monkeypatch: pytest.MonkeyPatch) -> list[datetime]:
    """Makes the store's timestamps deterministic: one millisecond apart, from RECORDED_FROM."""
    stamps: list[datetime] = []

    def next_stamp() -> datetime:
        stamps.append(RECORDED_FROM + timedelta(milliseconds=len(stamps)))
        return stamps[-1]

    monkeypatch.setattr(Complaint.Event, "create_timestamp", staticmethod(next_stamp))
    return stamps


@pytest.fixture
def references() -> CountingReferences:
    return CountingReferences()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def app(
    references: CountingReferences, clock: FixedClock, recorded_at: list[datetime]
) -> Iterator[Complaints]:
    application = Complaints(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
        reference_numbers=references,
        clock=clock,
    )
    yield application
    application.close()


def lodge(app: Complaints, **changes: Any) -> UUID:
    return app.lodge(lodge_command(body(**changes)), actor=INTAKE).complaint.id


def worked(app: Complaints) -> UUID:
    """Lodged, assigned, contacted: three events."""
    complaint_id = lodge(app)
    app.act(complaint_id, assign_command(), actor=SUPERVISOR)
    app.act(complaint_id, contact_command(), actor=INVESTIGATOR, supervisor=False)
    return complaint_id


def test_the_service_stores_with_the_json_mapper_on_the_popo_store(
    app: Complaints, references: CountingReferences
) -> None:
    assert type(app.mapper) is JsonMapper
    assert type(app.recorder).__module__ == "eventsourcing.popo"
    assert references.recorder is app.recorder


def test_lodging_gives_increasing_references_per_year_of_receipt(
    app: Complaints, clock: FixedClock
) -> None:
    # Given a clock in January 2027
    clock.now = datetime(2027, 1, 10, 9, 0, tzinfo=UTC)

    # When complaints received in 2026 and 2027 are lodged
    first = app.lodge(lodge_command(), actor=INTAKE)
    second = app.lodge(lodge_command(), actor=INTAKE)
    new_year = app.lodge(
        lodge_command(body(received_at="2027-01-02T10:00:00Z", incident_date=None)), actor=INTAKE
    )
    # 00:30 on 1 January at UTC+1 is still 31 December 2026 in London
    late_evening = app.lodge(
        lodge_command(body(received_at="2027-01-01T00:30:00+01:00", incident_date=None)),
        actor=INTAKE,
    )

    # Then each year counts from 1, by the London year of receipt
    references = [
        recorded.complaint.reference for recorded in (first, second, new_year, late_evening)
    ]
    assert references == ["PC/1/26", "PC/2/26", "PC/1/27", "PC/3/26"]
    assert first.complaint.id == complaint_id_for("PC/1/26")
    positions = [recorded.position for recorded in (first, second, new_year, late_evening)]
    assert positions == sorted(positions)
    assert len(set(positions)) == 4
    assert app.head_position() == positions[-1]


def test_references_for_a_batch_follow_the_order_given(
    app: Complaints, references: CountingReferences
) -> None:
    received = [
        datetime(2026, 3, 1, tzinfo=UTC),
        datetime(2027, 3, 1, tzinfo=UTC),
        datetime(2026, 4, 1, tzinfo=UTC),
    ]

    assert app.allocate_references(received) == ["PC/1/26", "PC/1/27", "PC/2/26"]
    assert app.allocate_reference(received[0]) == "PC/3/26"
    assert references.issued == {2026: 3, 2027: 1}


def test_whole_histories_are_recorded_together(app: Complaints) -> None:
    # Given two complaints built through the aggregate, one of them worked
    first, second = (
        Complaint.lodge(reference=reference, command=lodge_command(), actor=INTAKE, now=NOW)
        for reference in app.allocate_references([RECEIVED_AT, RECEIVED_AT])
    )
    second.assign_investigator(assign_command(), actor=SUPERVISOR, now=NOW)

    # When they are recorded at once
    position = app.record_histories([first, second])

    # Then all three events are stored, and replay gives the same complaints
    assert position == app.head_position() == 3
    assert app.get_complaint(first.id) == first
    assert app.get_complaint(second.id) == second
    assert app.get_complaint(second.id).status is Status.ASSIGNED


def test_listeners_hear_the_new_head_position_after_each_save(app: Complaints) -> None:
    heard: list[int] = []
    app.on_recorded.append(heard.append)

    complaint_id = lodge(app)
    app.act(complaint_id, assign_command(), actor=SUPERVISOR)
    commissioner = lodge(app, subject=subject("commissioner"), behaviours=[])
    with pytest.raises(MustRedirectError):
        app.act(commissioner, assign_command(), actor=SUPERVISOR)

    # A refused command saves nothing, so nobody is told of it
    assert heard == [1, 2, 3]


def test_a_refused_lodging_takes_no_number_and_records_nothing(
    app: Complaints, references: CountingReferences
) -> None:
    with pytest.raises(ComplainantUnreachableError):
        app.lodge(lodge_command(body(complainant={"name": "Sam Jones"})), actor=INTAKE)

    assert references.issued == {}
    assert app.head_position() == 0
    assert app.lodge(lodge_command(), actor=INTAKE).complaint.reference == "PC/1/26"


def test_each_command_returns_the_complaint_and_a_later_position(
    app: Complaints, clock: FixedClock
) -> None:
    complaint_id = lodge(app)
    clock.now = NOW + timedelta(days=1)

    steps = [
        app.act(complaint_id, assign_command(), actor=SUPERVISOR),
        app.act(complaint_id, contact_command(), actor=INVESTIGATOR, supervisor=False),
        app.act(complaint_id, resolve_command(), actor=INVESTIGATOR, supervisor=False),
    ]

    assert [(step.complaint.version, step.complaint.status) for step in steps] == [
        (2, Status.ASSIGNED),
        (3, Status.IN_CONTACT),
        (4, Status.RESOLVED),
    ]
    assert [step.position for step in steps] == [2, 3, 4]
    resolved = app.get_complaint(complaint_id)
    assert resolved.resolved_at == NOW + timedelta(days=1)
    assert resolved == steps[-1].complaint


def test_find_by_reference(app: Complaints) -> None:
    complaint_id = lodge(app)

    assert app.find_by_reference("PC/1/26") == complaint_id
    with pytest.raises(ComplaintNotFoundError):
        app.find_by_reference("PC/2/26")


def test_get_complaint_now_and_at_a_version(app: Complaints) -> None:
    complaint_id = worked(app)

    current = app.get_complaint(complaint_id)
    assert (current.version, current.status) == (3, Status.IN_CONTACT)
    assert current.investigator_id == "inv-0042"

    at_version = [app.get_complaint(complaint_id, version=v) for v in (1, 2, 3)]
    assert [(c.version, c.status) for c in at_version] == [
        (1, Status.LODGED),
        (2, Status.ASSIGNED),
        (3, Status.IN_CONTACT),
    ]
    assert at_version[0].investigator is None

    with pytest.raises(ComplaintNotFoundError):
        app.get_complaint(complaint_id, version=4)
    with pytest.raises(ComplaintNotFoundError):
        app.get_complaint(uuid4())


def test_get_complaint_as_of_a_recorded_instant(
    app: Complaints, recorded_at: list[datetime]
) -> None:
    complaint_id = worked(app)
    lodged, assigned, contacted = recorded_at[:3]

    def version_as_of(at: datetime) -> int:
        return app.get_complaint_as_of(complaint_id, at).version

    assert version_as_of(lodged) == 1
    assert version_as_of(assigned - timedelta(microseconds=1)) == 1
    assert version_as_of(assigned) == 2
    assert version_as_of(contacted) == 3
    assert version_as_of(contacted + timedelta(days=365)) == 3
    with pytest.raises(ComplaintNotFoundError):
        app.get_complaint_as_of(complaint_id, lodged - timedelta(microseconds=1))


def test_history_lists_events_oldest_first(app: Complaints, recorded_at: list[datetime]) -> None:
    complaint_id = worked(app)

    history = app.history(complaint_id)

    assert [(entry.version, entry.type) for entry in history] == [
        (1, "ComplaintLodged"),
        (2, "InvestigatorAssigned"),
        (3, "ComplainantContacted"),
    ]
    assert [entry.recorded_at for entry in history] == recorded_at[:3]
    assert [entry.actor["id"] for entry in history] == ["intake-1", "sup-1", "inv-0042"]
    assert [entry.occurred_at for entry in history] == [RECEIVED_AT, NOW, NOW]
    # The data is the event's business content, without the envelope
    assert history[0].data["reference"] == "PC/1/26"
    assert history[2].data == {"method": "phone", "summary": "Talked it over."}
    for entry in history:
        assert not {"originator_id", "originator_version", "timestamp", "actor"} & set(entry.data)

    with pytest.raises(ComplaintNotFoundError):
        app.history(uuid4())


def test_a_stale_expected_version_is_refused_and_records_nothing(app: Complaints) -> None:
    complaint_id = lodge(app)
    app.act(complaint_id, assign_command(), actor=SUPERVISOR, expected_version=1)
    head = app.head_position()

    # When a caller who last saw version 1 tries to act
    with pytest.raises(VersionMismatchError) as raised:
        app.act(
            complaint_id,
            contact_command(),
            actor=INVESTIGATOR,
            supervisor=False,
            expected_version=1,
        )

    # Then nothing was recorded
    assert raised.value.rule == "version-mismatch"
    assert app.get_complaint(complaint_id).version == 2
    assert app.head_position() == head
    # And the current version is accepted
    recorded = app.act(
        complaint_id, contact_command(), actor=INVESTIGATOR, supervisor=False, expected_version=2
    )
    assert recorded.complaint.version == 3
    assert recorded.position == head + 1


def test_a_refused_command_through_the_service_records_nothing(app: Complaints) -> None:
    complaint_id = lodge(app, subject=subject("commissioner"), behaviours=[])
    head = app.head_position()

    with pytest.raises(MustRedirectError):
        app.act(complaint_id, assign_command(), actor=SUPERVISOR)

    assert app.head_position() == head
    assert app.get_complaint(complaint_id).version == 1


def test_the_second_of_two_stale_copies_cannot_be_saved(app: Complaints) -> None:
    # Given two copies of the same complaint, loaded at the same version
    complaint_id = lodge(app)
    first = app.get_complaint(complaint_id)
    second = app.get_complaint(complaint_id)
    first.assign_investigator(assign_command(), actor=SUPERVISOR, now=NOW)
    second.assign_investigator(assign_command(OTHER_INVESTIGATOR), actor=SUPERVISOR, now=NOW)

    # When both are saved, the first wins
    app._save(first)
    with pytest.raises(ConcurrentModificationError) as raised:
        app._save(second)

    # Then the loser is told to retry and its event was not recorded
    assert raised.value.rule == "concurrent-modification"
    current = app.get_complaint(complaint_id)
    assert (current.version, current.investigator_id) == (2, "inv-0042")
    assert len(app.history(complaint_id)) == 2


def test_two_commands_racing_on_one_complaint_never_lose_an_update(app: Complaints) -> None:
    # Given a command that loads the complaint, and another command that lands meanwhile
    complaint_id = lodge(app)

    class RacingClock(FixedClock):
        raced = False

        def __call__(self) -> datetime:
            if not self.raced:
                # While the first assignment is in flight, another one is recorded
                self.raced = True
                app.act(complaint_id, assign_command(OTHER_INVESTIGATOR), actor=SUPERVISOR)
            return self.now

    app.clock = RacingClock(NOW)

    # When the first command saves its now stale copy
    with pytest.raises(ConcurrentModificationError):
        app.act(complaint_id, assign_command(), actor=SUPERVISOR)

    # Then the update that landed first is kept, and the loser recorded nothing
    current = app.get_complaint(complaint_id)
    assert (current.version, current.investigator_id) == (2, "inv-0099")
