"""The `Complaints` service with the statutory process (docs/DOMAIN.md part B), on POPO: no I/O.

Histories name DOMAIN.md's events; the nine events' topics and class versions are explicit and
stable; past states are judged at the right instant (a notified outcome is `finalised` by the
passing of its deadline); part B's free text is personal data, sealed and forgotten on erasure.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic, resolve_topic

from domain.errors import ComplaintClosedError
from domain.personal_data import (
    PERSONAL_FIELDS,
    SEALED,
    Part,
    is_sealed,
    transform_event,
)
from domain.records import ERASURE_TOPIC
from domain.service import Complaints
from domain.statutory_events import STATUTORY_EVENTS
from domain.values import ErasePersonalData, Status
from tests.unit.domain.builders import (
    INTAKE,
    INVESTIGATOR,
    NOW,
    SUPERVISOR,
    assign_command,
    lodge_command,
)
from tests.unit.domain.statutory_builders import (
    FINAL_ON,
    allegation_command,
    contact_command,
    determination_command,
    handling_command,
    london,
    outcome_command,
    referral_command,
    review_command,
    review_decision_command,
    update_command,
    withdraw_command,
)

NINE = [
    "AllegationAdded",
    "HandlingDecided",
    "ReferredToIopc",
    "IopcDetermined",
    "ProgressUpdateSent",
    "OutcomeNotified",
    "ReviewRequested",
    "ReviewDecided",
    "ComplaintWithdrawn",
]
LAST_MOMENT_IN_TIME = london("2026-12-22 23:59:59")
FIRST_MOMENT_LATE = london("2026-12-23 00:00")
LONG_AFTER = london("2027-01-05 10:00")

# Every piece of part B's free text a complaint below is given: none may be stored in clear.
FREE_TEXT = {
    "desired": "I want the officer to apologise in person.",
    "allegation": "He pushed me against the wall.",
    "update": "We have asked for the body-worn video.",
    "outcome": "The push was not justified; the officer apologises.",
    "note": "Officers explain before they touch.",
    "grounds": "The video was never watched.",
    "late": "The complainant was abroad.",
    "recommendation": "Watch the video.",
    "scope": "Everything about the stop on Oxford Street.",
}


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Counting:
    def __init__(self) -> None:
        self.issued = 0

    def __call__(self, _recorder: object) -> Counting:
        return self

    def next_numbers(self, year: int, count: int) -> list[int]:
        first = self.issued + 1
        self.issued += count
        return list(range(first, first + count))


class FakeSealer:
    """Seals each personal value as base64 of its JSON (enough to show nothing is in clear),
    and forgets a part once a `PersonalDataErased` of it is stored (its key destroyed)."""

    def __init__(self) -> None:
        self.destroyed: set[str] = set()

    def seal_event(
        self, complaint_id: UUID, version: int, topic: str, state: dict[str, Any]
    ) -> dict[str, Any]:
        if topic == ERASURE_TOPIC:
            self.destroyed.update(state["parts"])
        return transform_event(
            topic, state, lambda _f, _p, v: {SEALED: base64.b64encode(orjson.dumps(v)).decode()}
        )

    def open_event(
        self, complaint_id: UUID, version: int, topic: str, state: dict[str, Any]
    ) -> dict[str, Any]:
        def open_(_field: str, part: Part, value: Any) -> Any:
            if not is_sealed(value):
                return value
            if part.value in self.destroyed:
                return None
            return orjson.loads(base64.b64decode(value[SEALED]))

        return transform_event(topic, state, open_)

    def keyed_hash(self, purpose: str, value: str) -> str:
        return hashlib.sha256(f"{purpose}:{value}".encode()).hexdigest()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def recorded_at(monkeypatch: pytest.MonkeyPatch, clock: Clock) -> list[datetime]:
    """Every event (part A's, B's and C's) is recorded at the service's clock, a microsecond
    after the one before, so that a test moves the recording time with the clock."""
    stamps: list[datetime] = []

    def next_stamp() -> datetime:
        stamps.append(clock.now + timedelta(microseconds=len(stamps)))
        return stamps[-1]

    monkeypatch.setattr(Aggregate.Event, "create_timestamp", staticmethod(next_stamp))
    return stamps


def make_app(clock: Clock, sealer: FakeSealer | None = None) -> Complaints:
    return Complaints(
        env={"PERSISTENCE_MODULE": "eventsourcing.popo"},
        reference_numbers=Counting(),
        clock=clock,
        sealer=sealer,
    )


@pytest.fixture
def app(clock: Clock, recorded_at: list[datetime]) -> Iterator[Complaints]:
    application = make_app(clock)
    yield application
    application.close()


def notified(app: Complaints, *, desired_outcome: str | None = None) -> UUID:
    """Lodged, assigned, contacted, one allegation, recorded, notified: six events, at NOW."""
    complaint_id = app.lodge(lodge_command(), actor=INTAKE).complaint.id
    app.act(complaint_id, assign_command(), actor=SUPERVISOR)
    app.act(
        complaint_id,
        contact_command(wants_recording=True, desired_outcome=desired_outcome),
        actor=INVESTIGATOR,
    )
    app.act(complaint_id, allegation_command(), actor=INVESTIGATOR)
    app.act(complaint_id, handling_command(), actor=INVESTIGATOR)
    app.act(complaint_id, outcome_command(), actor=INVESTIGATOR)
    return complaint_id


# ---- history and topics -------------------------------------------------------------------------


def test_history_types_are_the_domain_event_names(app: Complaints, clock: Clock) -> None:
    # Given a complaint taken through all nine of part B's events
    complaint_id = app.lodge(lodge_command(), actor=INTAKE).complaint.id
    app.act(complaint_id, assign_command(), actor=SUPERVISOR)
    app.act(complaint_id, contact_command(), actor=INVESTIGATOR)
    app.act(complaint_id, allegation_command("serious_assault"), actor=INVESTIGATOR)
    app.act(complaint_id, handling_command(), actor=INVESTIGATOR)
    app.act(complaint_id, referral_command(), actor=SUPERVISOR, supervisor=True)
    app.act(complaint_id, determination_command(), actor=SUPERVISOR, supervisor=True)
    app.act(complaint_id, update_command(), actor=INVESTIGATOR)
    app.act(complaint_id, outcome_command(), actor=INVESTIGATOR)
    app.act(complaint_id, review_command(), actor=INVESTIGATOR)
    app.act(complaint_id, review_decision_command(False), actor=SUPERVISOR, supervisor=True)
    app.act(complaint_id, withdraw_command(), actor=INVESTIGATOR)

    # Then the history names each event as DOMAIN.md does, with its business data only
    history = app.history(complaint_id)
    assert [entry.type for entry in history] == [
        "ComplaintLodged",
        "InvestigatorAssigned",
        "ComplainantContacted",
        "AllegationAdded",
        "HandlingDecided",
        "ReferredToIopc",
        "IopcDetermined",
        "ProgressUpdateSent",
        "OutcomeNotified",
        "ReviewRequested",
        "ReviewDecided",
        "ComplaintWithdrawn",
    ]
    assert [entry.version for entry in history] == list(range(1, 13))
    by_type = {entry.type: entry for entry in history}
    assert by_type["AllegationAdded"].data == {
        "allegation_id": "A1",
        "category": "individual_behaviours",
        "subcategory": None,
        "description": "The officer shouted at me.",
        "flags": ["serious_assault"],
    }
    assert by_type["HandlingDecided"].data["mode"] == "schedule_3"
    assert by_type["OutcomeNotified"].data["review_body"] == "iopc"
    assert by_type["OutcomeNotified"].data["review_deadline"] == date(2026, 12, 22)
    assert by_type["ComplaintWithdrawn"].actor["id"] == INVESTIGATOR.id
    for entry in history:
        assert not {"originator_id", "originator_version", "timestamp", "actor"} & set(entry.data)
    assert app.get_complaint(complaint_id).status is Status.WITHDRAWN


def test_the_nine_events_have_explicit_stable_topics_and_class_version_1(
    app: Complaints,
) -> None:
    # The classes say so
    assert [cls.__name__ for cls in STATUTORY_EVENTS] == NINE
    for cls, name in zip(STATUTORY_EVENTS, NINE, strict=True):
        assert get_topic(cls) == f"complaints:{name}"
        assert resolve_topic(f"complaints:{name}") is cls
        assert cls.class_version == 1

    # And so does the store
    complaint_id = notified(app)
    app.act(complaint_id, review_command(), actor=INVESTIGATOR)
    records = app.recorder.select_events(complaint_id)
    assert [record.topic for record in records][3:] == [
        "complaints:AllegationAdded",
        "complaints:HandlingDecided",
        "complaints:OutcomeNotified",
        "complaints:ReviewRequested",
    ]
    for record in records[3:]:
        assert orjson.loads(record.state)["class_version"] == 1


# ---- time travel: a notified outcome becomes finalised by the passing of its deadline -----------


def test_a_past_version_is_judged_just_before_the_next_event(app: Complaints, clock: Clock) -> None:
    # Given an outcome notified on 24 November (version 6), and a late review long after
    complaint_id = notified(app)
    clock.now = LONG_AFTER
    app.act(
        complaint_id,
        review_command(late_reason=FREE_TEXT["late"]),
        actor=SUPERVISOR,
        supervisor=True,
    )

    # When version 6 is read
    past = app.get_complaint(complaint_id, version=6)

    # Then it is judged as it stood just before the review: finalised, on the deadline's morrow
    assert past.status is Status.OUTCOME_NOTIFIED
    assert past.judged_at is not None
    assert past.status_at(past.judged_at) is Status.FINALISED
    assert past.final_on(past.judged_at) == FINAL_ON
    # And the version after it, now
    current = app.get_complaint(complaint_id, version=7)
    assert current.status_at(current.judged_at or LONG_AFTER) is Status.UNDER_REVIEW
    assert current.final_on(LONG_AFTER) is None


def test_a_past_version_followed_in_time_is_not_finalised(app: Complaints, clock: Clock) -> None:
    complaint_id = notified(app)
    clock.now = LAST_MOMENT_IN_TIME
    app.act(complaint_id, review_command(), actor=INVESTIGATOR)

    past = app.get_complaint(complaint_id, version=6)

    assert past.judged_at is not None
    assert past.status_at(past.judged_at) is Status.OUTCOME_NOTIFIED
    assert past.final_on(past.judged_at) is None


def test_the_latest_version_is_judged_now(app: Complaints, clock: Clock) -> None:
    complaint_id = notified(app)
    for at, status in [
        (LAST_MOMENT_IN_TIME, Status.OUTCOME_NOTIFIED),
        (FIRST_MOMENT_LATE, Status.FINALISED),
    ]:
        clock.now = at
        for complaint in (
            app.get_complaint(complaint_id),
            app.get_complaint(complaint_id, version=6),
        ):
            assert complaint.judged_at == at
            assert complaint.status_at(at) is status


def test_as_of_judges_the_status_at_the_instant(
    app: Complaints, clock: Clock, recorded_at: list[datetime]
) -> None:
    complaint_id = notified(app)
    notified_recorded = recorded_at[5]
    clock.now = LONG_AFTER
    app.act(
        complaint_id,
        review_command(late_reason=FREE_TEXT["late"]),
        actor=SUPERVISOR,
        supervisor=True,
    )

    def judged(at: datetime) -> tuple[int, Status, date | None]:
        complaint = app.get_complaint_as_of(complaint_id, at)
        assert complaint.judged_at == at
        return complaint.version, complaint.status_at(at), complaint.final_on(at)

    assert judged(notified_recorded) == (6, Status.OUTCOME_NOTIFIED, None)
    assert judged(LAST_MOMENT_IN_TIME) == (6, Status.OUTCOME_NOTIFIED, None)
    assert judged(FIRST_MOMENT_LATE) == (6, Status.FINALISED, FINAL_ON)
    assert judged(LONG_AFTER - timedelta(seconds=1)) == (6, Status.FINALISED, FINAL_ON)
    assert judged(recorded_at[6]) == (7, Status.UNDER_REVIEW, None)


def test_a_derived_finalised_complaint_refuses_commands_and_records_nothing(
    app: Complaints, clock: Clock
) -> None:
    complaint_id = notified(app)
    clock.now = FIRST_MOMENT_LATE
    head = app.head_position()

    with pytest.raises(ComplaintClosedError):
        app.act(complaint_id, allegation_command(), actor=INVESTIGATOR)
    with pytest.raises(ComplaintClosedError):
        app.act(complaint_id, withdraw_command(signed_on=date(2026, 12, 23)), actor=INVESTIGATOR)

    assert app.head_position() == head
    assert app.get_complaint(complaint_id).version == 6


# ---- personal data ------------------------------------------------------------------------------


def test_part_b_free_text_is_listed_as_personal_narrative() -> None:
    def fields(topic: str) -> set[tuple[tuple[str, ...], Part]]:
        return set(PERSONAL_FIELDS[f"complaints:{topic}"])

    narrative = Part.NARRATIVE
    assert fields("AllegationAdded") == {(("description",), narrative)}
    assert fields("ProgressUpdateSent") == {(("summary",), narrative)}
    assert fields("OutcomeNotified") == {
        (("summary",), narrative),
        (("learning", "*", "note"), narrative),
    }
    assert fields("ReviewRequested") >= {(("grounds",), narrative), (("late_reason",), narrative)}
    assert fields("ReviewDecided") == {(("recommendations", "*"), narrative)}
    assert fields("ComplaintWithdrawn") == {(("scope",), narrative)}
    assert (("desired_outcome",), narrative) in fields("ComplainantContacted")
    # Categories, flags, modes and outcomes stay in clear: they are not personal
    for name in ("HandlingDecided", "ReferredToIopc", "IopcDetermined"):
        assert f"complaints:{name}" not in PERSONAL_FIELDS


@pytest.fixture
def sealed_app(clock: Clock, recorded_at: list[datetime]) -> Iterator[tuple[Complaints, UUID]]:
    """A complaint with every kind of part B free text, reviewed, reopened and withdrawn (final),
    on a service that seals personal values."""
    application = make_app(clock, FakeSealer())
    text = FREE_TEXT
    learning = [{"theme": "communication", "note": text["note"]}]
    complaint_id = application.lodge(lodge_command(), actor=INTAKE).complaint.id
    for command in (
        assign_command(),
        contact_command(wants_recording=True, desired_outcome=text["desired"]),
        allegation_command("misconduct", description=text["allegation"]),
        handling_command(),
        update_command(summary=text["update"]),
        outcome_command(summary=text["outcome"], learning=learning),
    ):
        application.act(complaint_id, command, actor=SUPERVISOR, supervisor=True)
    clock.now = LONG_AFTER
    for command in (
        review_command(grounds=text["grounds"], late_reason=text["late"]),
        review_decision_command(False, recommendations=[text["recommendation"]]),
        withdraw_command(signed_on=LONG_AFTER.date(), scope=text["scope"]),
    ):
        application.act(complaint_id, command, actor=SUPERVISOR, supervisor=True)
    yield application, complaint_id
    application.close()


def test_part_b_free_text_is_never_stored_in_clear(sealed_app: tuple[Complaints, UUID]) -> None:
    app, complaint_id = sealed_app
    stored = b"".join(record.state for record in app.recorder.select_events(complaint_id))
    for text in FREE_TEXT.values():
        assert orjson.dumps(text)[1:-1] not in stored, text
    assert stored.count(b'"$sealed"') >= len(FREE_TEXT)
    # While the categories and outcomes are
    assert b'"misconduct"' in stored
    assert b'"not_upheld"' in stored
    # And a read opens them
    complaint = app.get_complaint(complaint_id)
    assert complaint.allegations[0]["description"] == FREE_TEXT["allegation"]
    assert complaint.withdrawal is not None
    assert complaint.withdrawal["scope"] == FREE_TEXT["scope"]


def test_erasing_the_narrative_forgets_part_b_free_text_everywhere(
    sealed_app: tuple[Complaints, UUID],
) -> None:
    app, complaint_id = sealed_app

    # When the narrative is erased from the withdrawn complaint
    app.act(
        complaint_id,
        ErasePersonalData.model_validate(
            {"basis": "erasure_request", "authority_ref": "DPA/2027/1", "parts": ["narrative"]}
        ),
        actor=SUPERVISOR,
        supervisor=True,
    )

    # Then the aggregate as it stands forgets every piece of part B's free text
    for complaint in (app.get_complaint(complaint_id), app.get_complaint(complaint_id, version=9)):
        assert complaint.desired_outcome is None
        assert [a["description"] for a in complaint.allegations] == [None]
        assert [u["summary"] for u in complaint.updates] == [None]
        assert [c["summary"] for c in complaint.contacts] == [None]
        assert complaint.outcome is not None
        assert complaint.outcome["summary"] is None
        assert [point["note"] for point in complaint.outcome["learning"]] == [None]
        # What is not personal stays
        assert [a["flags"] for a in complaint.allegations] == [["misconduct"]]
        assert complaint.outcome["allegations"] == [
            {"allegation_id": "A1", "outcome": "not_upheld"}
        ]
    current = app.get_complaint(complaint_id)
    assert current.review is not None
    assert (current.review["grounds"], current.review["late_reason"]) == (None, None)
    assert current.review["recommendations"] == [None]
    assert current.reviews[0]["grounds"] is None
    assert current.reviews[0]["recommendations"] == [None]
    assert current.withdrawal is not None
    assert current.withdrawal["scope"] is None
    assert current.withdrawal["signed_by"] == "complainant"
    assert current.lodged["complainant"]["name"] == "Sam Jones"  # another part: kept

    # And so does the history
    shown = orjson.dumps([entry.data for entry in app.history(complaint_id)])
    for text in FREE_TEXT.values():
        assert orjson.dumps(text)[1:-1] not in shown, text
    assert b"Sam Jones" in shown
