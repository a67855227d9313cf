"""The retention schedule (`projections.retention`): which final complaints are due for review.

Histories are recorded through the application service, records manager's decisions included,
on each store; the projection runs under `ProjectionRunner` as `complaints project` runs it, and
`due_page` is read in one snapshot of the read store, as the route reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from api.app import build_complaints
from api.read_models import ReadModels
from domain.personal_data import Part
from domain.service import Complaints
from domain.values import (
    Actor,
    AssignInvestigator,
    ErasePersonalData,
    ErasureBasis,
    LodgeComplaint,
    RecordContact,
    RedirectComplaint,
    ResolveComplaint,
    ReviewRetention,
)
from projections.case_list.queries import InvalidCursorError, encode_cursor
from projections.catalogue import PROJECTIONS
from projections.rebuild import rebuild
from projections.retention import RetentionSchedule, due_page, encode_due_cursor
from tests.projections.tables import clean_build, dump, read_store, runner_for, settings_for
from tests.support import MovableClock, lodging

INTAKE = Actor(id="intake-1", name="Front Desk")
SUPERVISOR = Actor(id="sup-1", name="DI Grace Hopper")
RECORDS = Actor(id="rm-1", name="Records Manager")
RECEIVED = "2027-01-04T10:00:00Z"
# After every final event below: the day the records manager's decisions are taken.
NOW = datetime(2028, 3, 10, 12, 0, tzinfo=UTC)
YEARS = 6


@dataclass
class Desk:
    """The application service over one database, with a clock the test moves."""

    complaints: Complaints
    clock: MovableClock
    url: str

    def lodge(self) -> UUID:
        command = LodgeComplaint.model_validate(lodging(received_at=RECEIVED, incident_date=None))
        return self.complaints.lodge(command, actor=INTAKE).complaint.id

    def act(self, complaint_id: UUID, command: Any) -> None:
        self.complaints.act(complaint_id, command, actor=SUPERVISOR, supervisor=True)

    def assign(self, complaint_id: UUID, at: str) -> None:
        body = {"investigator_id": "inv-a", "investigator_name": "DS Ada", "occurred_at": at}
        self.act(complaint_id, AssignInvestigator.model_validate(body))

    def contact(self, complaint_id: UUID, at: str) -> None:
        body = {"method": "phone", "summary": "Spoke.", "occurred_at": at}
        self.act(complaint_id, RecordContact.model_validate(body))

    def resolved(self, at: str) -> UUID:
        complaint_id = self.lodge()
        self.assign(complaint_id, at)
        self.contact(complaint_id, at)
        body = {"outcome": "apology_given", "summary": "Apologised.", "occurred_at": at}
        self.act(complaint_id, ResolveComplaint.model_validate(body))
        return complaint_id

    def redirected(self, at: str) -> UUID:
        complaint_id = self.lodge()
        body = {"destination": "iopc", "reason": "Serious.", "occurred_at": at}
        self.act(complaint_id, RedirectComplaint.model_validate(body))
        return complaint_id

    def retain(self, complaint_id: UUID, next_review_on: date) -> None:
        command = ReviewRetention(
            decision="retain", reason="Civil claim.", next_review_on=next_review_on
        )
        self.complaints.act(complaint_id, command, actor=RECORDS)

    def erase(self, complaint_id: UUID, *parts: Part) -> None:
        command = ErasePersonalData(
            basis=ErasureBasis.ERASURE_REQUEST, authority_ref="SAR-17", parts=list(parts)
        )
        self.complaints.act(complaint_id, command, actor=RECORDS)

    def due(
        self, as_of: date, *, years: int = YEARS, limit: int = 500, after: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """The due list once the projection has caught up with the log."""
        with runner_for(self.url, batch_size=7) as runner:
            runner.catch_up()
            assert runner.failures == {}
        return self.page(as_of, years=years, limit=limit, after=after)

    def page(
        self, as_of: date, *, years: int = YEARS, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of the due list as the projection stands, in one snapshot."""
        store = read_store(self.url)
        try:
            with store.reading() as cursor:
                table = RetentionSchedule().table["retention"]
                return due_page(cursor, table, as_of=as_of, years=years, limit=limit, after=after)
        finally:
            store.close()

    def due_ids(self, as_of: date, years: int = YEARS) -> list[str]:
        return [item["complaint_id"] for item in self.due(as_of, years=years)[0]]


@pytest.fixture
def desk(database_url: str) -> Iterator[Desk]:
    clock = MovableClock()
    clock.now = NOW
    complaints = build_complaints(settings_for(database_url), clock=clock)
    try:
        yield Desk(complaints, clock, database_url)
    finally:
        complaints.close()


def day(text: str) -> date:
    return date.fromisoformat(text)


# ---- when a complaint is due -------------------------------------------------------------------


def test_due_on_the_anniversary_of_the_final_day_in_london_and_not_the_day_before(
    desk: Desk,
) -> None:
    # 23:30 UTC on 30 June is 00:30 on 1 July in London (BST): final on 1 July.
    resolved = str(desk.resolved("2027-06-30T23:30:00Z"))
    redirected = str(desk.redirected("2027-11-20T10:00:00Z"))

    assert desk.due_ids(day("2033-06-30")) == []
    items, next_cursor = desk.due(day("2033-07-01"))
    assert next_cursor is None
    assert items == [
        {
            "complaint_id": resolved,
            "reference": desk.complaints.get_complaint(UUID(resolved)).reference,
            "status": "resolved",
            "final_on": day("2027-07-01"),
            "due_on": day("2033-07-01"),
            "last_review_on": None,
        }
    ]
    assert desk.due_ids(day("2033-11-19")) == [resolved]
    assert desk.due_ids(day("2033-11-20")) == [resolved, redirected]
    # The period is the setting at the time of asking: no rebuild needed.
    assert desk.due_ids(day("2030-11-20"), years=3) == [resolved, redirected]
    assert desk.due_ids(day("2030-11-19"), years=3) == [resolved]


def test_a_29_february_is_due_on_28_february_in_a_year_without_one(desk: Desk) -> None:
    leap = str(desk.resolved("2028-02-29T12:00:00Z"))
    assert desk.due_ids(day("2034-02-27")) == []
    items = desk.due(day("2034-02-28"))[0]
    assert [(i["complaint_id"], i["final_on"], i["due_on"]) for i in items] == [
        (leap, day("2028-02-29"), day("2034-02-28"))
    ]
    assert desk.due_ids(day("2032-02-28"), years=4) == []
    assert desk.due_ids(day("2032-02-29"), years=4) == [leap]


def test_a_retain_review_moves_the_due_day_and_records_the_day_of_review(desk: Desk) -> None:
    kept = desk.resolved("2027-03-01T10:00:00Z")
    other = desk.redirected("2027-03-01T11:00:00Z")
    assert desk.due_ids(day("2033-03-01")) == sorted([str(kept), str(other)])

    desk.retain(kept, day("2031-05-01"))  # earlier than the anniversary: due earlier
    desk.clock.now = NOW + timedelta(days=3)
    desk.retain(kept, day("2035-01-10"))  # the last decision counts
    assert desk.due_ids(day("2033-03-01")) == [str(other)]
    assert desk.due_ids(day("2035-01-09")) == [str(other)]
    items = desk.due(day("2035-01-10"))[0]
    assert [(i["complaint_id"], i["due_on"], i["last_review_on"]) for i in items] == [
        (str(other), day("2033-03-01"), None),
        (str(kept), day("2035-01-10"), day("2028-03-13")),
    ]
    assert items[1]["final_on"] == day("2027-03-01")


def test_a_wholly_erased_complaint_leaves_the_list_and_a_partly_erased_one_stays(
    desk: Desk,
) -> None:
    whole = desk.resolved("2027-05-01T10:00:00Z")
    part = desk.redirected("2027-05-02T10:00:00Z")
    kept = desk.resolved("2027-05-03T10:00:00Z")
    desk.erase(whole, Part.SUBJECT)
    desk.erase(part, Part.COMPLAINANT)
    assert desk.due_ids(day("2034-01-01")) == [str(whole), str(part), str(kept)]

    desk.erase(whole, Part.COMPLAINANT, Part.NARRATIVE)
    assert desk.due_ids(day("2034-01-01")) == [str(part), str(kept)]
    rows = {row[0]: row for row in dump(desk.url)["retention"]}
    assert rows[str(whole)][6] == "complainant,narrative,subject"
    assert rows[str(part)][6] == "complainant"
    assert rows[str(kept)][6] == ""


def test_open_complaints_are_never_listed(desk: Desk) -> None:
    desk.lodge()
    assigned = desk.lodge()
    desk.assign(assigned, "2027-02-01T10:00:00Z")
    in_contact = desk.lodge()
    desk.assign(in_contact, "2027-02-01T10:00:00Z")
    desk.contact(in_contact, "2027-02-02T10:00:00Z")
    final = desk.resolved("2027-02-03T10:00:00Z")

    assert desk.due_ids(day("9000-12-31")) == [str(final)]
    statuses = sorted(row[2] for row in dump(desk.url)["retention"])
    assert statuses == ["assigned", "in_contact", "lodged", "resolved"]


# ---- pages ---------------------------------------------------------------------------------


def schedule(desk: Desk) -> dict[str, date]:
    """Complaints due on days that tie across both ways of being due, and across 28 and 29
    February; returns the due ones (under 6 years) with their due days."""
    expected: dict[str, date] = {}
    finals = [
        ("2028-02-27T12:00:00Z", "2034-02-27"),
        ("2028-03-01T00:30:00Z", "2034-03-01"),
        *[("2028-02-28T09:00:00Z", "2034-02-28")] * 4,
        *[("2028-02-29T09:00:00Z", "2034-02-28")] * 4,
    ]
    for n, (at, due_on) in enumerate(finals):
        made = desk.resolved(at) if n % 3 else desk.redirected(at)
        expected[str(made)] = day(due_on)
    for next_review in ("2034-02-28", "2034-02-28", "2030-01-01"):
        reviewed = desk.resolved("2027-12-01T10:00:00Z")
        desk.retain(reviewed, day(next_review))
        expected[str(reviewed)] = day(next_review)
    gone = desk.resolved("2028-02-28T10:00:00Z")
    desk.erase(gone, Part.COMPLAINANT, Part.SUBJECT, Part.NARRATIVE)
    desk.lodge()
    desk.resolved("2028-03-02T10:00:00Z")  # due 2034-03-02: after the day asked
    return expected


def test_pages_cover_every_due_complaint_exactly_once_in_due_order(desk: Desk) -> None:
    expected = schedule(desk)
    in_order = sorted(expected, key=lambda complaint_id: (expected[complaint_id], complaint_id))
    as_of = day("2034-03-01")
    everything, next_cursor = desk.due(as_of)
    assert next_cursor is None
    assert [item["complaint_id"] for item in everything] == in_order
    assert {item["complaint_id"]: item["due_on"] for item in everything} == expected

    for limit in (1, 2, 3, 4, 5, 7):
        seen: list[dict[str, Any]] = []
        after: str | None = None
        for _ in range(len(everything) + 1):  # a cursor that does not move fails, not hangs
            items, after = desk.page(as_of, limit=limit, after=after)
            assert len(items) == limit or after is None
            seen += items
            if after is None:
                break
        assert seen == everything, limit


@pytest.mark.parametrize(
    "cursor",
    [
        "not a cursor",
        "!!!!",
        encode_cursor("2027-01-15T12:00:00+00:00", "6f1c4a52-0d8e-4a57-9a43-5c1f3a8d2b10"),
        encode_due_cursor(date(2034, 2, 28), "not-a-uuid"),
        "WyIyMDM0LTAyLTI4Il0",  # ["2034-02-28"]
        "eyJkdWVfb24iOiIyMDM0LTAyLTI4In0",  # {"due_on":"2034-02-28"}
        "WzEsMl0",  # [1,2]
        "/w",  # a byte that is not UTF-8
    ],
)
def test_a_cursor_this_server_did_not_give_out_is_refused(desk: Desk, cursor: str) -> None:
    desk.resolved("2027-03-01T10:00:00Z")
    with pytest.raises(InvalidCursorError):
        desk.due(day("2040-01-01"), limit=1, after=cursor)


def test_the_read_models_answer_the_due_list_in_one_snapshot(desk: Desk) -> None:
    final = desk.resolved("2027-03-01T10:00:00Z")
    models = ReadModels(settings_for(desk.url), desk.complaints)
    try:
        models.runner.catch_up()
        items, next_cursor = models.retention_due(
            as_of=day("2033-03-01"), years=YEARS, limit=10, after=None
        )
    finally:
        models.close()
    assert [item["complaint_id"] for item in items] == [str(final)]
    assert next_cursor is None


# ---- rebuild ---------------------------------------------------------------------------------


def test_a_rebuild_gives_the_rows_of_the_live_run(desk: Desk) -> None:
    schedule(desk)
    with runner_for(desk.url, batch_size=5) as runner:
        runner.catch_up()
        assert runner.failures == {}  # every read model takes the records events
    live = dump(desk.url)
    assert len(live["retention"]) == 16

    store = read_store(desk.url)
    try:
        rebuild(desk.complaints, store, list(PROJECTIONS.values()))
    finally:
        store.close()
    assert dump(desk.url) == live
    assert clean_build(desk.url) == live
