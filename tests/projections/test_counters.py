"""Pre-aggregated counts (projections/counters.py) and the timeliness summary (timeliness.py).

`period_filter` is checked against a fake counts table in SQLite (in memory): one day row per
day, one month row per month, one year row per year and the all-time row, and the rows a filter
selects must cover each day of the range exactly once.
"""

from __future__ import annotations

import math
import random
import sqlite3
import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.counters import period_filter
from projections.timeliness import summarise

FIRST, LAST = date(2024, 11, 1), date(2027, 3, 31)  # the fake table's days
BOUND = st.none() | st.dates(min_value=date(2024, 9, 15), max_value=date(2027, 5, 15))


def _days(first: date, last: date) -> Iterator[date]:
    while first <= last:
        yield first
        first += timedelta(days=1)


@pytest.fixture(scope="module")
def table() -> Iterator[tuple[sqlite3.Connection, dict[date, int]]]:
    rng = random.Random(42)
    weights = {day: rng.randrange(1, 10**9) for day in _days(FIRST, LAST)}
    months: Counter[str] = Counter()
    years: Counter[str] = Counter()
    for day, weight in weights.items():
        months[day.isoformat()[:7]] += weight
        years[day.isoformat()[:4]] += weight
    connection = sqlite3.connect(":memory:", check_same_thread=False)
    connection.execute("CREATE TABLE counts (grain TEXT, period TEXT, n INTEGER)")
    connection.executemany(
        "INSERT INTO counts VALUES ('d', ?, ?)", [(d.isoformat(), n) for d, n in weights.items()]
    )
    connection.executemany("INSERT INTO counts VALUES ('m', ?, ?)", list(months.items()))
    connection.executemany("INSERT INTO counts VALUES ('y', ?, ?)", list(years.items()))
    connection.execute("INSERT INTO counts VALUES ('a', '*', ?)", (sum(weights.values()),))
    yield connection, weights
    connection.close()


def _covered(connection: sqlite3.Connection, low: date | None, high: date | None) -> list[date]:
    """The days the selected rows stand for: a month or year row stands for each of its days."""
    where, params = period_filter(low, high)
    covered: list[date] = []
    for grain, period in connection.execute(
        f"SELECT grain, period FROM counts WHERE {where}", params
    ):
        if grain == "d":
            covered.append(date.fromisoformat(period))
        elif grain == "a":
            covered += _days(FIRST, LAST)
        elif grain == "y":  # the fake table holds only FIRST..LAST
            year = int(period)
            covered += _days(max(date(year, 1, 1), FIRST), min(date(year, 12, 31), LAST))
        else:
            start = date.fromisoformat(period + "-01")
            covered += _days(start, _month_end(start))
    return covered


@settings(deadline=None)
@given(BOUND, BOUND)
def test_period_filter_selects_every_day_in_range_exactly_once(
    table: tuple[sqlite3.Connection, dict[date, int]], low: date | None, high: date | None
) -> None:
    connection, weights = table
    wanted = [
        day for day in weights if (low is None or day >= low) and (high is None or day <= high)
    ]
    covered = _covered(connection, low, high)
    assert sorted(covered) == wanted  # each day once: none twice, none missing, none outside

    where, params = period_filter(low, high)
    (total,) = connection.execute(f"SELECT SUM(n) FROM counts WHERE {where}", params).fetchone()
    assert (total or 0) == sum(weights[day] for day in wanted)


@pytest.mark.parametrize(
    ("low", "high"),
    [
        ("2025-01-01", "2025-01-31"),  # one whole month: one month row
        ("2025-01-01", "2025-12-31"),  # one whole year: one year row
        ("2025-01-02", "2025-01-30"),  # inside one month: day rows only
        ("2025-01-31", "2025-02-01"),  # two ragged ends, no whole month
        ("2025-01-15", "2025-03-15"),  # ragged, one whole month, ragged
        ("2025-02-01", "2025-02-28"),
        ("2025-03-01", "2025-02-28"),  # empty range
    ],
)
def test_period_filter_reads_at_the_coarsest_grain(
    table: tuple[sqlite3.Connection, dict[date, int]], low: str, high: str
) -> None:
    connection, _ = table
    where, params = period_filter(date.fromisoformat(low), date.fromisoformat(high))
    grains = Counter(
        grain for (grain,) in connection.execute(f"SELECT grain FROM counts WHERE {where}", params)
    )
    start, end = date.fromisoformat(low), date.fromisoformat(high)
    in_whole_years = [
        day
        for day in _days(start, end)
        if date(day.year, 1, 1) >= start and date(day.year, 12, 31) <= end
    ]
    in_whole_months = [
        day
        for day in _days(start, end)
        if day.replace(day=1) >= start and _month_end(day) <= end and day not in in_whole_years
    ]
    assert grains["y"] == len({day.year for day in in_whole_years})
    assert grains["m"] == len({day.isoformat()[:7] for day in in_whole_months})
    days = len(list(_days(start, end)))
    assert grains["d"] == days - len(in_whole_months) - len(in_whole_years)


def _month_end(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


@pytest.mark.parametrize(
    ("low", "high"),
    [
        pytest.param(date(9999, 12, 15), None, id="from-mid-december-9999"),
        pytest.param(date(9999, 12, 31), date(9999, 12, 31), id="last-day"),
        pytest.param(None, date(1, 1, 1), id="to-first-day"),
        pytest.param(date(1, 1, 1), date(1, 1, 1), id="first-day"),
        pytest.param(date(9999, 12, 1), None, id="from-december-9999"),
        pytest.param(None, date(9999, 12, 31), id="to-last-day"),
        pytest.param(date(1, 1, 1), date(1, 1, 31), id="first-month"),
    ],
)
def test_period_filter_works_at_the_ends_of_the_calendar(
    table: tuple[sqlite3.Connection, dict[date, int]], low: date | None, high: date | None
) -> None:
    connection, weights = table
    covered = _covered(connection, low, high)
    assert sorted(covered) == [
        day for day in weights if (low is None or day >= low) and (high is None or day <= high)
    ]


@pytest.mark.parametrize(
    ("values", "mean", "median", "p90"),
    [
        ([], None, None, None),
        ([4], 4.0, 4.0, 4.0),
        ([1, 2, 3], 2.0, 2.0, 3.0),  # odd: the middle value
        ([1, 2, 3, 10], 4.0, 2.5, 10.0),  # even: the mean of the middle two
        ([3, 1, 2, 2], 2.0, 2.0, 3.0),
        (list(range(1, 11)), 5.5, 5.5, 9.0),  # p90 of ten values: the 9th smallest
        (list(range(1, 12)), 6.0, 6.0, 10.0),  # of eleven: rank ceil(9.9) = 10
        ([0, 0, 0, 0, 0, 0, 0, 0, 0, 7], 0.7, 0.0, 0.0),
        ([0, 0, 0, 0, 0, 0, 0, 0, 7, 7], 1.4, 0.0, 7.0),
        ([1, 2, 2], 1.67, 2.0, 2.0),  # the mean rounded to two places
    ],
)
def test_summarise(
    values: list[int], mean: float | None, median: float | None, p90: float | None
) -> None:
    assert summarise(Counter(values)) == {"mean": mean, "median": median, "p90": p90}


@settings(deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=400), min_size=1, max_size=300))
def test_summarise_agrees_with_the_definitions(values: list[int]) -> None:
    figures = summarise(Counter(values))
    ordered = sorted(values)
    # The mean is given to two places: exactly the rounded mean (a tolerance of 0.005 fails in
    # floating point at the half-way cases, e.g. a mean of 0.125).
    assert figures["mean"] == round(statistics.fmean(values), 2)
    assert figures["median"] == statistics.median(values)
    assert figures["p90"] == ordered[math.ceil(0.9 * len(values)) - 1]


@pytest.mark.parametrize(
    ("low", "high", "grains"),
    [
        (None, None, {"a": 1}),  # no range: the all-time row alone
        (date(1, 1, 1), date(9999, 12, 31), {"a": 1}),
        (date(2025, 1, 1), None, {"y": 3}),  # from a year on: years (2025-27), never all time
        (None, date(2025, 12, 31), {"y": 2}),  # 2024 and 2025
    ],
)
def test_period_filter_reads_all_time_in_one_row_only_without_a_range(
    table: tuple[sqlite3.Connection, dict[date, int]],
    low: date | None,
    high: date | None,
    grains: dict[str, int],
) -> None:
    connection, _ = table
    where, params = period_filter(low, high)
    read = Counter(
        grain for (grain,) in connection.execute(f"SELECT grain FROM counts WHERE {where}", params)
    )
    assert dict(read) == grains
