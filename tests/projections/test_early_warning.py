"""Early warning (`projections.early_warning`): complaints per person and month of receipt.

Histories are recorded through the application service on each store; the projection runs
under `ProjectionRunner` as `complaints project` runs it. What it must say is worked out here
from what the test lodged (the number as typed, the force's day of receipt), never from the
read model: the counts per month, and for every window tried the people over a threshold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from api.app import build_complaints
from api.eventstore.references import reference_numbers_for
from domain.personal_data import Part, normal_shoulder_number
from domain.rules import local_date
from domain.service import Complaints
from domain.values import (
    Actor,
    ErasePersonalData,
    ErasureBasis,
    LiftRestriction,
    LodgeComplaint,
    RedirectComplaint,
    RestrictProcessing,
)
from projections.catalogue import PROJECTIONS
from projections.early_warning import EarlyWarning, months_before
from projections.rebuild import rebuild
from tests.projections.tables import clean_build, dump, read_store, runner_for, settings_for
from tests.support import MovableClock, lodging

INTAKE = Actor(id="intake-1", name="Front Desk")
RECORDS = Actor(id="rm-1", name="Records Manager")
CASEWORKER = Actor(id="cw-1", name="Officer cw-1")
NOW = datetime(2027, 3, 10, 12, 0, tzinfo=UTC)


@dataclass
class Lodged:
    complaint_id: str
    reference: str
    number: str  # normalised
    received_on: date
    received_at: datetime


@dataclass
class Desk:
    complaints: Complaints
    url: str
    lodged: list[Lodged] = field(default_factory=list)

    def lodge(self, number: str | None, received_at: str, kind: str = "officer") -> str:
        subject: dict[str, Any] = {"kind": kind, "name": "PC Smith"}
        if number is not None:
            subject["shoulder_number"] = number
        body = lodging(received_at=received_at, incident_date=None, subject=subject)
        recorded = self.complaints.lodge(LodgeComplaint.model_validate(body), actor=INTAKE)
        complaint = recorded.complaint
        if number is not None and kind in ("officer", "staff", "contractor", "volunteer"):
            at = datetime.fromisoformat(received_at)
            self.lodged.append(
                Lodged(
                    str(complaint.id),
                    complaint.reference,
                    normal_shoulder_number(number),
                    local_date(at),
                    at,
                )
            )
        return str(complaint.id)

    def restrict(self, complaint_id: str) -> None:
        command = RestrictProcessing(reason="Evidence.", authority_ref="CPS-1")
        self.complaints.act(UUID(complaint_id), command, actor=RECORDS)

    def lift(self, complaint_id: str) -> None:
        command = LiftRestriction(reason="Proceedings ended.")
        self.complaints.act(UUID(complaint_id), command, actor=RECORDS)

    def erase(self, complaint_id: str, *parts: Part) -> None:
        redirect = RedirectComplaint.model_validate({"destination": "iopc", "reason": "Serious."})
        self.complaints.act(UUID(complaint_id), redirect, actor=CASEWORKER, supervisor=True)
        command = ErasePersonalData(
            basis=ErasureBasis.ERASURE_REQUEST, authority_ref="SAR-1", parts=list(parts)
        )
        self.complaints.act(UUID(complaint_id), command, actor=RECORDS)

    def hash_of(self, number: str) -> str:
        assert self.complaints.sealer is not None
        return self.complaints.sealer.keyed_hash("shoulder_number", number)

    def catch_up(self, batch_size: int = 1000) -> None:
        with runner_for(self.url, batch_size=batch_size) as runner:
            runner.catch_up()
            assert runner.failures == {}

    def query(self, since: date, threshold: int) -> list[dict[str, Any]]:
        store = read_store(self.url)
        try:
            with store.reading() as cursor:
                return EarlyWarning().query(cursor, since, threshold)
        finally:
            store.close()


@pytest.fixture
def desk(database_url: str) -> Iterator[Desk]:
    clock = MovableClock()
    clock.now = NOW
    complaints = build_complaints(settings_for(database_url), clock=clock)
    try:
        yield Desk(complaints, database_url)
    finally:
        complaints.close()


def scene(desk: Desk) -> dict[str, str]:
    """Four people over fifteen months, numbers written several ways, month ends in London
    time, and complaints that must not count; returns some ids by name."""
    ids = {}
    for n, at in enumerate(
        [
            "2026-01-31T12:00:00+00:00",
            "2026-02-01T09:00:00+00:00",
            "2026-03-10T12:00:00+00:00",
            "2026-06-30T23:30:00+00:00",  # 1 July in London (BST)
            "2026-07-15T12:00:00+00:00",
            "2026-12-31T23:30:00+00:00",  # still 31 December in London (GMT)
            "2027-03-10T08:00:00+00:00",
        ]
    ):
        ids[f"a{n}"] = desk.lodge(["1234AB", "12 34ab", " 1234 ab"][n % 3], at)
    for n, at in enumerate(
        ["2026-02-14T12:00:00+00:00", "2026-02-28T12:00:00+00:00", "2026-09-09T12:00:00+00:00"]
    ):
        ids[f"b{n}"] = desk.lodge("77c", at, kind="staff")
    for at in ("2026-05-05T12:00:00+00:00", "2026-05-06T12:00:00+00:00"):
        desk.lodge("5X", at, kind="volunteer")
    desk.lodge("9", "2025-12-25T12:00:00+00:00", kind="contractor")
    # Not counted: no number, not about a person.
    desk.lodge(None, "2026-05-05T12:00:00+00:00")
    desk.lodge("1234AB", "2026-05-05T12:00:00+00:00", kind="case_handling")
    return ids


def expected(desk: Desk, since: date, threshold: int) -> list[tuple[str, int, date, list[str]]]:
    inside = [c for c in desk.lodged if c.received_on >= since]
    people = Counter(c.number for c in inside)
    answer = []
    for number, count in people.items():
        if count < threshold:
            continue
        mine = sorted(
            (c for c in inside if c.number == number),
            key=lambda c: (c.received_at, c.reference),
            reverse=True,
        )
        answer.append(
            (desk.hash_of(number), count, mine[0].received_on, [c.reference for c in mine])
        )
    return sorted(answer, key=lambda row: (-row[1], -row[2].toordinal(), row[0]))


def shown(items: list[dict[str, Any]]) -> list[tuple[str, int, date, list[str]]]:
    return [
        (i["shoulder_number_hash"], i["complaints"], i["latest_received_on"], i["references"])
        for i in items
    ]


# ---- the window ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("today", "months", "since"),
    [
        ("2026-12-02", 12, "2025-12-02"),
        ("2026-03-31", 1, "2026-02-28"),
        ("2028-03-31", 1, "2028-02-29"),
        ("2027-01-15", 1, "2026-12-15"),
        ("2027-01-15", 13, "2025-12-15"),
        ("2027-01-01", 120, "2017-01-01"),
        ("2024-02-29", 12, "2023-02-28"),
    ],
)
def test_a_window_starts_the_same_day_calendar_months_before(
    today: str, months: int, since: str
) -> None:
    assert months_before(date.fromisoformat(today), months) == date.fromisoformat(since)


# ---- counts ---------------------------------------------------------------------------------


def test_counts_per_person_and_month_of_receipt_are_exact(desk: Desk) -> None:
    scene(desk)
    desk.catch_up(batch_size=4)
    rows = dump(desk.url)
    months: dict[tuple[str, str], list[Any]] = {}
    for c in desk.lodged:
        entry = months.setdefault((desk.hash_of(c.number), c.received_on.isoformat()[:7]), [0, ""])
        entry[0] += 1
        entry[1] = max(entry[1], c.received_on.isoformat())
    assert [(h, m, int(n), latest) for h, m, n, latest in rows["early_warning_counts"]] == sorted(
        (h, m, n, latest) for (h, m), (n, latest) in months.items()
    )
    assert len(rows["early_warning_complaints"]) == len(desk.lodged) == 13
    officer = desk.hash_of("1234AB")
    assert (officer, "2026-07", 2, "2026-07-15") in rows["early_warning_counts"]
    assert (officer, "2026-12", 1, "2026-12-31") in rows["early_warning_counts"]


def test_every_window_and_threshold_equals_a_count_of_the_histories(desk: Desk) -> None:
    scene(desk)
    desk.catch_up()
    store = read_store(desk.url)
    try:
        with store.reading() as cursor:
            projection = EarlyWarning()
            # Every first day from before the first receipt to after the last, each threshold.
            first = date(2025, 12, 20)
            for offset in range(0, 460, 3):
                since = first + timedelta(days=offset)
                for threshold in (1, 2, 3, 7, 8):
                    answer = shown(projection.query(cursor, since, threshold))
                    assert answer == expected(desk, since, threshold), (since, threshold)
            for since in (date(2026, 2, 1), date(2026, 7, 1), date(2026, 1, 31), date(2027, 3, 10)):
                assert shown(projection.query(cursor, since, 1)) == expected(desk, since, 1)
    finally:
        store.close()


def test_the_first_day_of_the_window_counts_and_the_day_before_does_not(desk: Desk) -> None:
    scene(desk)
    desk.catch_up()
    officer = desk.hash_of("1234AB")
    on_the_day = {
        i["shoulder_number_hash"]: i["complaints"] for i in desk.query(date(2026, 7, 1), 1)
    }
    after = {i["shoulder_number_hash"]: i["complaints"] for i in desk.query(date(2026, 7, 2), 1)}
    assert on_the_day[officer] == 4  # the 23:30 UTC complaint of 30 June is London's 1 July
    assert after[officer] == 3


def test_restricted_and_erased_complaints_count_but_are_never_candidates(desk: Desk) -> None:
    ids = scene(desk)
    desk.restrict(ids["a6"])
    desk.erase(ids["a5"], Part.SUBJECT)
    desk.erase(ids["a4"], Part.COMPLAINANT)  # the subject is still there
    desk.restrict(ids["b2"])
    desk.lift(ids["b2"])
    desk.catch_up(batch_size=3)
    items = {i["shoulder_number_hash"]: i for i in desk.query(date(2026, 1, 1), 3)}
    officer, staff = items[desk.hash_of("1234AB")], items[desk.hash_of("77C")]
    assert officer["complaints"] == 7
    assert officer["candidates"] == [ids[f"a{n}"] for n in (4, 3, 2, 1, 0)]
    assert staff["candidates"] == [ids["b2"], ids["b1"], ids["b0"]]
    assert shown(desk.query(date(2026, 1, 1), 3)) == expected(desk, date(2026, 1, 1), 3)


def test_complaints_stored_in_clear_carry_no_hash_and_are_not_counted(desk: Desk) -> None:
    settings = settings_for(desk.url)
    plain = Complaints(env=settings.eventsourcing_env, reference_numbers=reference_numbers_for)
    try:
        body = lodging(received_at="2026-05-05T12:00:00+00:00", incident_date=None)
        plain.lodge(LodgeComplaint.model_validate(body), actor=INTAKE)
    finally:
        plain.close()
    desk.lodge("1234AB", "2026-05-06T12:00:00+00:00")
    desk.catch_up()
    assert [i["complaints"] for i in desk.query(date(2000, 1, 1), 1)] == [1]


# ---- rebuild and batching ------------------------------------------------------------------


def test_a_rebuild_and_any_batching_give_the_rows_of_the_live_run(desk: Desk) -> None:
    ids = scene(desk)
    desk.restrict(ids["a1"])
    desk.erase(ids["b0"], Part.SUBJECT, Part.NARRATIVE)
    desk.catch_up(batch_size=2)
    live = dump(desk.url)
    assert clean_build(desk.url) == live

    store = read_store(desk.url)
    try:
        rebuild(desk.complaints, store, [PROJECTIONS["early_warning"]])
    finally:
        store.close()
    assert dump(desk.url) == live
    flags = {row[0]: row[5:7] for row in live["early_warning_complaints"]}
    assert flags[ids["a1"]] == (1, 0)
    assert flags[ids["b0"]] == (0, 1)
