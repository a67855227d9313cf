"""The statutory process's figures (docs/DOMAIN.md part B) through the HTTP API, on each store.

`GET /statistics/*` and `GET /caseload*` are compared with figures worked out from each
complaint's `GET /complaints/{id}/history` (`statutory_model`), and with hand-made cases whose
due days fall on the days the clock is moved to (`statutory_scene.hand_made`).
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from tests.projections import statutory_model as model
from tests.projections.statutory_scene import Told, told_fixture
from tests.support import ANALYST

told = told_fixture()


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {value: count for value, count in counts.items() if count}


# ---- statistics -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi"),
    [(None, None), ("2026-01-01", "2026-06-30"), ("2025-12-01", "2025-12-01")],
    ids=["everything", "half-a-year", "one-day"],
)
def test_learning_counts_are_those_of_the_histories(
    told: Told, lo: str | None, hi: str | None
) -> None:
    period = {key: value for key, value in (("from", lo), ("to", hi)) if value}
    body = told.get("/statistics/learning", ANALYST, **period)
    low, high = (date.fromisoformat(lo) if lo else None), (date.fromisoformat(hi) if hi else None)
    expected = model.learning(list(told.folded().values()), low, high)

    assert (body["total"], body["late"]) == (expected["total"], expected["late"])
    for dimension in model.LEARNING:
        assert _nonzero(body[dimension]) == expected[dimension], dimension


def test_the_stories_count_every_value_part_b_tells_apart(told: Told) -> None:
    # Guards the scenario: the comparison above must see each kind of count move.
    figures = model.learning(list(told.folded().values()), None, None)
    assert set(figures["handling"]) == {"outside_schedule_3", "schedule_3"}
    assert set(figures["iopc_referred"]) == {"mandatory", "voluntary"}
    assert set(figures["review_result"]) == {
        "reasonable_and_proportionate",
        "not_reasonable_and_proportionate",
    }
    assert len(figures["allegation_category"]) >= 5
    assert len(figures["allegation_outcome"]) == 4
    assert figures["learning_theme"]


def test_time_to_the_first_notified_outcome_is_that_of_the_histories(told: Told) -> None:
    body = told.get("/statistics/timeliness", ANALYST)["lodged_to_outcome_notified"]
    expected = model.to_outcome_notified(list(told.folded().values()))
    assert body["count"] == expected["count"] >= 10
    for unit in ("working_days", "calendar_days"):
        assert body[unit]["median"] == expected[unit]["median"]
        assert body[unit]["p90"] == expected[unit]["p90"]
        assert body[unit]["mean"] == pytest.approx(expected[unit]["mean"], abs=0.006)


def test_the_learning_csv_has_part_bs_figures_too(told: Told) -> None:
    body = told.get("/statistics/learning", ANALYST)
    response = told.client.get("/statistics/learning", headers=ANALYST | {"Accept": "text/csv"})
    rows = [line.split(",") for line in response.text.splitlines()[1:]]
    for dimension in ("handling", "allegation_category", "allegation_outcome"):
        csv_counts = {value: int(n) for name, value, n in rows if name == dimension}
        assert csv_counts == body[dimension] != {}, dimension


# ---- caseloads, on the day figures fall due and the day after --------------------------------


def _row(told: Told, investigator: str) -> dict[str, Any]:
    rows = {row["investigator_id"]: row for row in told.get("/caseload")["investigators"]}
    return rows[investigator]


@pytest.mark.parametrize(
    ("today", "overdue", "still_open"),
    [
        pytest.param(date(2027, 1, 15), 0, 5, id="due-today"),
        pytest.param(date(2027, 1, 16), 3, 5, id="day-after"),
        pytest.param(date(2027, 1, 17), 3, 5, id="another-due-today"),
        pytest.param(date(2027, 1, 18), 4, 4, id="its-day-after-and-one-finalised"),
    ],
)
def test_progress_updates_are_overdue_the_day_after_they_fall_due(
    told: Told, today: date, overdue: int, still_open: int
) -> None:
    with told.today(today):
        row = _row(told, "inv-u")
    assert (row["updates_overdue"], row["open"]) == (overdue, still_open)
    # Received in October, recorded: part A's resolution limit is not theirs.
    assert (row["overdue_resolution"], row["twelve_month_reports_due"]) == (0, 0)


@pytest.mark.parametrize(
    ("today", "reports"),
    [
        pytest.param(date(2027, 1, 14), 1, id="day-before"),
        pytest.param(date(2027, 1, 15), 2, id="due-today"),
        pytest.param(date(2027, 1, 16), 3, id="day-after-and-another-due"),
    ],
)
def test_twelve_month_reports_fall_due_on_the_anniversary_of_receipt(
    told: Told, today: date, reports: int
) -> None:
    with told.today(today):
        row = _row(told, "inv-r")
    assert row["twelve_month_reports_due"] == reports
    assert (row["open"], row["updates_overdue"]) == (4, 0)
    assert row["overdue_resolution"] == 1  # the one outside Schedule 3


@pytest.mark.parametrize("today", [date(2027, 1, 15), date(2027, 2, 20), date(2027, 8, 1)])
def test_every_investigators_figures_are_those_of_the_histories(told: Told, today: date) -> None:
    expected = model.caseload(list(told.folded().values()), today)
    with told.today(today):
        rows = told.get("/caseload")["investigators"]
    got = {
        row["investigator_id"]: {
            key: row[key] for key in ("open", "updates_overdue", "twelve_month_reports_due")
        }
        for row in rows
    }
    assert got == expected


def _cases(told: Told, investigator: str, today: date) -> dict[str, dict[str, Any]]:
    with told.today(today):
        cases = told.get(f"/caseload/{investigator}")["cases"]
    names = {made.complaint_id: name for name, made in told.named.items()}
    return {names[case["complaint_id"]]: case for case in cases}


def test_an_investigators_cases_show_the_next_update_and_whether_it_is_overdue(
    told: Told,
) -> None:
    due = {"recorded": "2027-01-15", "updated": "2027-01-15", "reopened": "2027-01-15"}
    due["recorded_later"] = "2027-01-17"
    on_the_day, after = (
        _cases(told, "inv-u", date(2027, 1, 15)),
        _cases(told, "inv-u", date(2027, 1, 16)),
    )
    for name, day in due.items():
        assert on_the_day[name]["next_update_due"] == day
        assert on_the_day[name]["update_overdue"] is False
        assert after[name]["update_overdue"] is (day == "2027-01-15")
        assert on_the_day[name]["overdue_resolution"] is False
    notified = on_the_day["notified"]
    assert (notified["status"], notified["next_update_due"]) == ("outcome_notified", None)
    assert notified["review_deadline"] == "2027-01-17"
    assert "notified" not in _cases(told, "inv-u", date(2027, 1, 18))


def test_an_investigators_cases_show_the_reports_due_and_the_next(told: Told) -> None:
    before, on_the_day = (
        _cases(told, "inv-r", date(2027, 1, 14)),
        _cases(told, "inv-r", date(2027, 1, 15)),
    )
    assert [before["year_old"][k] for k in ("reports_due", "next_report_due")] == [0, "2027-01-15"]
    assert [on_the_day["year_old"][k] for k in ("reports_due", "next_report_due")] == [
        1,
        "2027-07-15",
    ]
    assert [before["eighteen_months"][k] for k in ("reports_due", "next_report_due")] == [
        1,
        "2027-01-15",
    ]
    assert on_the_day["eighteen_months"]["reports_due"] == 2
    assert on_the_day["year_tomorrow"]["next_report_due"] == "2027-01-16"
    outside = on_the_day["outside"]
    assert (outside["reports_due"], outside["next_report_due"]) == (0, None)
    assert (outside["handling"], outside["overdue_resolution"]) == ("outside_schedule_3", True)
