"""GET /statistics/learning and /statistics/timeliness against the histories they were built from.

A burst of about forty complaints is played through the API once per store (module scope); the
expected figures come from the plans (tests.projections.model), never from the code under test.
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

import pytest

from tests.projections import model
from tests.projections.scenes import Scene, burst_plans, scene_fixture
from tests.support import ANALYST, AUDITOR, SUPERVISOR, assert_problem

scene = scene_fixture(burst_plans)

DIMENSIONS = (
    "subject_kind",
    "behaviour",
    "standing",
    "channel",
    "on_behalf_basis",
    "redirect_destination",
    "outcome",
    "learning_theme",
    "month",
)
MEASURES = ("lodged_to_assigned", "lodged_to_first_contact", "lodged_to_resolved")
RANGES = [
    pytest.param(None, None, id="everything"),
    pytest.param("2026-10-01", "2026-10-31", id="one-whole-month"),
    pytest.param("2026-11-15", "2026-12-20", id="cuts-two-months"),
    pytest.param("2026-12-23", "2027-01-09", id="across-new-year"),
    pytest.param("2026-04-02", "2026-04-02", id="one-day"),
    pytest.param("2026-10-01", None, id="from-only"),
    pytest.param(None, "2026-09-30", id="to-only-before-london-october"),
    pytest.param("2026-11-01", "2026-12-31", id="two-whole-months"),
    pytest.param("2030-01-01", "2030-12-31", id="nothing"),
]


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def _get(scene: Scene, path: str, lo: str | None, hi: str | None, **headers: str) -> Any:
    params = {"min_position": str(scene.position)}
    params |= {key: value for key, value in (("from", lo), ("to", hi)) if value}
    response = scene.client.get(path, params=params, headers=ANALYST | headers)
    assert response.status_code == 200, response.text
    assert int(response.headers["X-Projection-Position"]) >= scene.position
    return response


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {value: count for value, count in counts.items() if count}


@pytest.mark.parametrize(("lo", "hi"), RANGES)
def test_learning_counts_every_dimension_of_the_complaints_lodged_in_range(
    scene: Scene, lo: str | None, hi: str | None
) -> None:
    expected = model.learning(scene.cases, _day(lo), _day(hi))
    body = _get(scene, "/statistics/learning", lo, hi).json()

    assert body["from"] == lo
    assert body["to"] == hi
    assert body["total"] == expected["total"]
    assert body["late"] == expected["late"]
    for dimension in DIMENSIONS:
        assert _nonzero(body[dimension]) == expected[dimension], dimension
    # Every complaint is counted once in each single-valued dimension.
    for dimension in ("subject_kind", "standing", "channel", "on_behalf_basis", "month"):
        assert sum(body[dimension].values()) == expected["total"], dimension


def test_the_burst_covers_what_the_statistics_must_tell_apart(scene: Scene) -> None:
    # Guards the scenario itself: without these the comparisons above would prove little.
    everything = model.learning(scene.cases, None, None)
    assert everything["total"] >= 40
    assert everything["late"] >= 2
    assert set(everything["redirect_destination"]) == {"mopac", "iopc", "other_force"}
    assert {"parent_or_guardian_of_child_under_16", "written_consent", "none"} <= set(
        everything["on_behalf_basis"]
    )
    assert len(everything["channel"]) == 6
    assert len(everything["month"]) >= 5
    assert everything["learning_theme"]["communication"] >= 2


@pytest.mark.parametrize(("lo", "hi"), RANGES)
def test_timeliness_summarises_working_and_calendar_days(
    scene: Scene, lo: str | None, hi: str | None
) -> None:
    expected = model.timeliness(scene.cases, _day(lo), _day(hi))
    body = _get(scene, "/statistics/timeliness", lo, hi).json()

    assert (body["from"], body["to"]) == (lo, hi)
    for measure in MEASURES:
        assert body[measure]["count"] == expected[measure]["count"], measure
        for unit in ("working_days", "calendar_days"):
            got, want = body[measure][unit], expected[measure][unit]
            assert got["median"] == want["median"], (measure, unit)
            assert got["p90"] == want["p90"], (measure, unit)
            if want["mean"] is None:
                assert got["mean"] is None
            else:
                assert got["mean"] == pytest.approx(want["mean"], abs=0.006), (measure, unit)


def test_timeliness_across_christmas_counts_working_days_only(scene: Scene) -> None:
    # Only the complaint of Wednesday 23 December 2026 was lodged that day: assigned Tuesday
    # 29th (2 working days: 24th and 29th), contacted Monday 4 January (5), resolved Friday 8th
    # (9); in calendar days 6, 12 and 16.
    body = _get(scene, "/statistics/timeliness", "2026-12-23", "2026-12-23").json()
    figures = {
        measure: (
            body[measure]["count"],
            body[measure]["working_days"]["median"],
            body[measure]["calendar_days"]["median"],
        )
        for measure in MEASURES
    }
    assert figures == {
        "lodged_to_assigned": (1, 2, 6),
        "lodged_to_first_contact": (1, 5, 12),
        "lodged_to_resolved": (1, 9, 16),
    }


def test_a_contact_recorded_late_but_dated_earlier_is_the_first_contact(scene: Scene) -> None:
    # Lodged Monday 2 November; contacts dated the 10th, then (recorded later) the 4th.
    body = _get(scene, "/statistics/timeliness", "2026-11-02", "2026-11-02").json()
    contact = body["lodged_to_first_contact"]
    assert contact["count"] == 1
    assert (contact["working_days"]["median"], contact["calendar_days"]["median"]) == (2, 2)


@pytest.mark.parametrize(("lo", "hi"), [RANGES[0], RANGES[2], RANGES[8]])
def test_learning_csv_has_the_same_figures_as_the_json(
    scene: Scene, lo: str | None, hi: str | None
) -> None:
    body = _get(scene, "/statistics/learning", lo, hi).json()
    response = _get(scene, "/statistics/learning", lo, hi, Accept="text/csv")

    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["dimension", "value", "count"]
    table: dict[str, dict[str, int]] = {}
    for dimension, value, count in rows[1:]:
        assert value not in table.setdefault(dimension, {}), (dimension, value)
        table[dimension][value] = int(count)
    assert table.pop("total") == {"all": body["total"]}
    assert table.pop("late") == {"true": body["late"]}
    for dimension in DIMENSIONS:
        assert _nonzero(table.pop(dimension, {})) == _nonzero(body[dimension]), dimension
    assert table == {}


@pytest.mark.parametrize(("lo", "hi"), [RANGES[0], RANGES[2], RANGES[8]])
def test_timeliness_csv_has_one_row_per_measure_with_the_json_figures(
    scene: Scene, lo: str | None, hi: str | None
) -> None:
    body = _get(scene, "/statistics/timeliness", lo, hi).json()
    response = _get(scene, "/statistics/timeliness", lo, hi, Accept="text/csv")

    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["measure"] for row in rows] == list(MEASURES)
    for row in rows:
        figures = body[row["measure"]]
        assert int(row["count"]) == figures["count"]
        for unit in ("working_days", "calendar_days"):
            for stat in ("mean", "median", "p90"):
                cell, value = row[f"{unit}_{stat}"], figures[unit][stat]
                assert (float(cell) if cell else None) == value, (row["measure"], unit, stat)


@pytest.mark.parametrize("path", ["/statistics/learning", "/statistics/timeliness"])
@pytest.mark.parametrize("headers", [ANALYST, SUPERVISOR, AUDITOR], ids=["ana", "sup", "aud"])
def test_statistics_readers_get_the_same_figures(
    scene: Scene, path: str, headers: dict[str, str]
) -> None:
    mine = scene.client.get(path, headers=headers)
    analysts = scene.client.get(path, headers=ANALYST)
    assert mine.status_code == 200, mine.text
    assert mine.json() == analysts.json()


@pytest.mark.parametrize("path", ["/statistics/learning", "/statistics/timeliness"])
def test_statistics_refuse_a_range_that_ends_before_it_starts(scene: Scene, path: str) -> None:
    response = scene.client.get(
        path, params={"from": "2026-12-02", "to": "2026-12-01"}, headers=ANALYST
    )
    assert_problem(response, 422)


# No request, however malformed, produces a 5xx: date arithmetic at the calendar's ends included.
@pytest.mark.parametrize(
    "params",
    [
        {"from": "9999-12-15"},
        {"from": "9999-12-31", "to": "9999-12-31"},
        {"to": "0001-01-01"},
        {"from": "0001-01-01", "to": "0001-01-01"},
    ],
)
@pytest.mark.parametrize("path", ["/statistics/learning", "/statistics/timeliness"])
def test_dates_at_the_ends_of_the_calendar_are_no_server_error(
    scene: Scene, path: str, params: dict[str, str]
) -> None:
    response = scene.client.get(path, params=params, headers=ANALYST)
    assert response.status_code < 500, response.text
    if response.status_code == 200:
        body = response.json()
        assert body.get("total", 0) == 0
        assert body.get("lodged_to_assigned", {"count": 0})["count"] == 0
