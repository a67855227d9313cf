"""The read models over the statutory process (docs/DOMAIN.md part B), on each store.

Stories are played through the aggregate and `Complaints.save` and projected by the runner as
`complaints project` runs them. Figures are checked against `statutory_model`, which reads the
complaints' histories and nothing of the code under test; the rows of a live run in small
batches against a clean build and a rebuild.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from pydantic_core import to_jsonable_python

from domain.service import Complaints
from projections.case_list.projection import CaseList
from projections.case_list.queries import (
    CaseFilter,
    TimeLimits,
    caseload_summary,
    investigator_cases,
    page,
)
from projections.catalogue import PROJECTIONS
from projections.learning import LearningStatistics
from projections.rebuild import rebuild
from projections.retention import RetentionSchedule, due_page
from projections.timeliness import TimelinessStatistics
from tests.projections import statutory_model as model
from tests.projections.plans import NOW
from tests.projections.statutory_plans import Story, generate_stories, play_aggregates, story
from tests.projections.tables import clean_build, dump, read_store, runner_for, service

EARLIEST = datetime(2025, 6, 1, tzinfo=UTC)
LIMITS = TimeLimits(5, 20, 28)
_PART_B = ("updates_overdue", "twelve_month_reports_due")


def history(complaints: Complaints, complaint_id: str) -> model.History:
    """The history as `GET /complaints/{id}/history` gives it (JSON values)."""
    return [
        {
            "type": entry.type,
            "occurred_at": entry.occurred_at.isoformat(),
            "data": to_jsonable_python(entry.data),
        }
        for entry in complaints.history(UUID(complaint_id))
    ]


@dataclass
class Told:
    url: str
    stories: list[Story]

    def folded(self) -> list[model.Folded]:
        with service(self.url) as complaints:
            return [model.fold(history(complaints, s.complaint_id)) for s in self.stories]

    def project(self, batch_size: int = 1000) -> None:
        with runner_for(self.url, batch_size=batch_size) as runner:
            runner.catch_up()
            assert runner.failures == {}

    def read(self, query: Any) -> Any:
        store = read_store(self.url)
        try:
            with store.reading() as cursor:
                return query(cursor)
        finally:
            store.close()


def tell(url: str, stories: list[Story], chunk: int = 40) -> Told:
    with service(url) as complaints:
        play_aggregates(complaints, stories, chunk=chunk)
    return Told(url, stories)


@pytest.fixture
def told(database_url: str) -> Told:
    """About 300 stories (some 2300 events) through every path of part B, and part A's."""
    return tell(database_url, generate_stories(300, seed=5, earliest=EARLIEST))


# ---- exactly once, rebuild ------------------------------------------------------------------


def test_small_batches_a_clean_build_and_a_rebuild_give_the_same_rows(told: Told) -> None:
    told.project(batch_size=37)
    live = dump(told.url)
    assert live == clean_build(told.url)
    # Counts moved by a later event (a handling changed, an outcome notified again) leave no
    # row at zero, or the rows would depend on the batching.
    assert [row for row in live["learning_counts"] if row[-1] == 0] == []
    store = read_store(told.url)
    try:
        with service(told.url) as complaints:
            rebuild(complaints, store, list(PROJECTIONS.values()))
    finally:
        store.close()
    assert dump(told.url) == live


def test_processing_the_events_again_changes_nothing(told: Told) -> None:
    told.project()
    before = dump(told.url)
    with service(told.url) as complaints, runner_for(told.url) as runner:
        notifications = complaints.recorder.select_notifications(start=1, limit=10**6)
        events = [complaints.projection_mapper.to_domain_event(n) for n in notifications]
        for projection in runner.projections:
            for start in range(0, len(events), 11):
                with runner.store.transaction() as cursor:
                    projection.process(cursor, events[start : start + 11])  # type: ignore[arg-type]
    assert dump(told.url) == before


# ---- figures against the histories ----------------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(None, None), (date(2026, 1, 1), date(2026, 6, 30)), (date(2025, 9, 15), date(2025, 9, 15))],
    ids=["everything", "half-a-year", "one-day"],
)
def test_learning_counts_are_the_histories_counts(
    told: Told, lo: date | None, hi: date | None
) -> None:
    told.project(batch_size=53)
    expected = model.learning(told.folded(), lo, hi)
    got = told.read(lambda cursor: LearningStatistics().query(cursor, lo, hi))
    assert got == expected


def test_the_stories_cover_every_dimension_of_part_b(told: Told) -> None:
    # Guards the scenario: without these the comparison above would prove little.
    figures = model.learning(told.folded(), None, None)
    assert set(figures["handling"]) == {"outside_schedule_3", "schedule_3"}
    assert set(figures["iopc_referred"]) == {"mandatory", "voluntary"}
    assert len(figures["review_result"]) == 2
    assert len(figures["allegation_outcome"]) == 4
    assert sum(1 for s in told.stories if _count(s, "NotifyOutcome") >= 2) >= 10
    assert sum(1 for s in told.stories if _moved_handling(s)) >= 5


def _count(made: Story, name: str) -> int:
    return sum(type(command).__name__ == name for command in made.commands)


def _moved_handling(made: Story) -> bool:
    modes = [c.mode.value for c in made.commands if type(c).__name__ == "DecideHandling"]
    return modes == ["outside_schedule_3", "schedule_3"]


def test_time_to_the_first_notified_outcome_is_the_histories(told: Told) -> None:
    told.project(batch_size=29)
    figures = told.read(lambda cursor: TimelinessStatistics().query(cursor, None, None))
    expected = model.to_outcome_notified(told.folded())
    got = figures["lodged_to_outcome_notified"]
    assert got["count"] == expected["count"] > 100
    for unit in ("working_days", "calendar_days"):
        assert got[unit]["median"] == expected[unit]["median"]
        assert got[unit]["p90"] == expected[unit]["p90"]
        assert got[unit]["mean"] == pytest.approx(expected[unit]["mean"], abs=0.006)


@pytest.mark.parametrize("today", [date(2027, 1, 15), date(2027, 2, 20), date(2027, 9, 1)])
def test_caseload_follows_the_histories_on_any_day(told: Told, today: date) -> None:
    told.project()
    table = CaseList().table["case_list"]
    body = told.read(lambda cursor: caseload_summary(cursor, table, LIMITS, today))
    expected = model.caseload(told.folded(), today)
    got = {
        row["investigator_id"]: {key: row[key] for key in ("open", *_PART_B)}
        for row in body["investigators"]
    }
    assert got == expected
    assert sum(row["updates_overdue"] for row in got.values()) > 0
    assert sum(row["twelve_month_reports_due"] for row in got.values()) > 0


# ---- one complaint, step by step ------------------------------------------------------------


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def renotified() -> Story:
    """Handled outside Schedule 3, then recorded; notified, reopened by a review, an
    allegation added, notified again. Lodged Thursday 1 October 2026."""
    return (
        story(at("2026-10-01T10:00"))
        .assign(at("2026-10-01T11:00"), "inv-a")
        .contact(at("2026-10-02T10:00"))
        .allege(at("2026-10-02T11:00"), "individual_behaviours")
        .handle(at("2026-10-02T12:00"), "outside_schedule_3")
        .handle(at("2026-10-05T12:00"), "schedule_3")
        .notify(at("2026-10-15T10:00"), ["upheld"], "communication", "custody")
        .review(at("2026-10-20T10:00"))
        .decide(at("2026-11-02T10:00"), reasonable=False)
        .allege(at("2026-11-03T10:00"), "other")
        .notify(at("2026-12-18T10:00"), ["not_upheld", "no_further_action"], "training")
    )


@pytest.mark.parametrize("batch_size", [1, 4, 1000])
def test_a_second_notification_replaces_the_first_ones_counts(
    database_url: str, batch_size: int
) -> None:
    told = tell(database_url, [renotified()])
    told.project(batch_size=batch_size)
    figures = told.read(lambda cursor: LearningStatistics().query(cursor, None, None))

    assert figures["handling"] == {"schedule_3": 1}
    assert figures["allegation_category"] == {"individual_behaviours": 1, "other": 1}
    assert figures["allegation_outcome"] == {"not_upheld": 1, "no_further_action": 1}
    assert figures["learning_theme"] == {"training": 1}
    assert figures["review_result"] == {"not_reasonable_and_proportionate": 1}
    assert figures["iopc_referred"] == {}
    timeliness = told.read(lambda cursor: TimelinessStatistics().query(cursor, None, None))
    first = timeliness["lodged_to_outcome_notified"]  # 1 to 15 October: 14 days, 10 working
    assert (first["count"], first["calendar_days"]["median"]) == (1, 14.0)
    assert first["working_days"]["median"] == 10.0
    assert dump(told.url) == clean_build(told.url)


def _case(told: Told, today: date, **filters: str) -> list[dict[str, Any]]:
    table = CaseList().table["case_list"]
    rows, _ = told.read(
        lambda cursor: page(cursor, table, CaseFilter(**filters), limit=50, after=None, today=today)
    )
    return rows


def test_a_notified_outcome_is_finalised_the_day_after_its_review_deadline(
    database_url: str,
) -> None:
    # Notified again on 18 December 2026: a review is in time through 15 January 2027.
    told = tell(database_url, [renotified()])
    told.project()
    deadline = date(2027, 1, 15)
    on_the_day = _case(told, deadline)
    assert [(row["status"], row["review_deadline"]) for row in on_the_day] == [
        ("outcome_notified", "2027-01-15")
    ]
    assert _case(told, deadline, status="outcome_notified") == on_the_day
    assert _case(told, deadline, status="finalised") == []
    day_after = deadline + timedelta(days=1)
    assert [row["status"] for row in _case(told, day_after)] == ["finalised"]
    assert [row["status"] for row in _case(told, day_after, status="finalised")] == ["finalised"]
    assert _case(told, day_after, status="outcome_notified") == []
    assert [row["handling"] for row in _case(told, deadline, handling="schedule_3")] == [
        "schedule_3"
    ]
    assert _case(told, deadline, handling="none") == []
    assert _case(told, deadline, handling="outside_schedule_3") == []

    # Open, and on its investigator's caseload, through the deadline only.
    table = CaseList().table["case_list"]
    for today, open_cases in ((deadline, 1), (day_after, 0)):
        body = told.read(lambda cursor, on=today: caseload_summary(cursor, table, LIMITS, on))
        assert sum(row["open"] for row in body["investigators"]) == open_cases
        cases = told.read(
            lambda cursor, on=today: investigator_cases(cursor, table, "inv-a", LIMITS, on)
        )
        assert len(cases) == open_cases


@pytest.fixture
def finals(database_url: str) -> Told:
    """Complaints final in each way of part B, and one taken back out by a late review."""
    notified = story(at("2026-10-01T10:00")).assign(at("2026-10-01T11:00"))
    notified.contact(at("2026-10-02T10:00")).allege(at("2026-10-02T11:00")).handle(
        at("2026-10-02T12:00")
    )
    late = Story(notified.body, list(notified.commands), notified.allegations)
    fair = Story(notified.body, list(notified.commands), notified.allegations)
    notified.notify(at("2026-11-10T10:00"), ["upheld"])
    late.notify(at("2026-11-10T10:00"), ["upheld"]).review(at("2026-12-20T10:00"), late=True)
    fair.notify(at("2026-11-10T10:00"), ["upheld"]).review(at("2026-11-20T10:00"))
    fair.decide(at("2026-12-01T10:00"), reasonable=True)
    withdrawn = story(at("2026-10-05T10:00")).withdraw(at("2026-10-07T10:00"))
    return tell(database_url, [notified, late, fair, withdrawn])


def test_retention_counts_from_the_day_each_became_final(finals: Told) -> None:
    finals.project(batch_size=3)
    rows = {row[0]: row for row in dump(finals.url)["retention"]}
    notified, late, fair, withdrawn = (s.complaint_id for s in finals.stories)
    # (status, final_on): a notified outcome the day after its deadline (8 December).
    assert {key: rows[key][2:4] for key in rows} == {
        notified: ("outcome_notified", "2026-12-09"),
        late: ("under_review", None),
        fair: ("finalised", "2026-12-01"),
        withdrawn: ("withdrawn", "2026-10-07"),
    }
    # Due six years on, in due order; the notified outcome listed as what it is by then.
    table = RetentionSchedule().table["retention"]
    items, _ = finals.read(
        lambda cursor: due_page(
            cursor, table, as_of=date(2032, 12, 9), years=6, limit=10, after=None
        )
    )
    assert [(i["complaint_id"], i["status"], i["due_on"]) for i in items] == [
        (withdrawn, "withdrawn", date(2032, 10, 7)),
        (fair, "finalised", date(2032, 12, 1)),
        (notified, "finalised", date(2032, 12, 9)),
    ]


def test_the_clock_in_these_stories_stops_before_now() -> None:
    stories = generate_stories(50, seed=1, earliest=EARLIEST)
    moments = [c.occurred_at for s in stories for c in s.commands]
    assert max(moments) < NOW
