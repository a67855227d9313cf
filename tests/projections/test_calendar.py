"""Working days in England and Wales (projections/calendar.py), against a hand-kept calendar."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from projections.calendar import (
    add_working_days,
    earliest_start_not_overdue,
    is_working_day,
    working_days_between,
)
from tests.projections import model

D = date.fromisoformat
# Days the hand-kept calendar covers (tests/projections/model.py: bank holidays 2025-2027).
COVERED = st.dates(min_value=date(2025, 1, 1), max_value=date(2027, 10, 31))
ANY_DAY = st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31))


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        pytest.param("2026-11-20", 5, "2026-11-27", id="friday-plus-5-is-next-friday"),
        pytest.param("2026-11-21", 1, "2026-11-23", id="saturday-counts-from-monday"),
        pytest.param("2026-11-21", 5, "2026-11-27", id="saturday-plus-5"),
        pytest.param("2026-11-22", 5, "2026-11-27", id="sunday-plus-5"),
        pytest.param("2026-11-27", 1, "2026-11-30", id="friday-plus-1-is-monday"),
        pytest.param("2026-11-20", 0, "2026-11-20", id="zero-days"),
        pytest.param("2026-12-24", 1, "2026-12-29", id="christmas-and-boxing-day-observed"),
        pytest.param("2026-12-23", 5, "2027-01-04", id="christmas-and-new-year"),
        pytest.param("2026-12-23", 20, "2027-01-25", id="twenty-across-christmas"),
        pytest.param("2026-04-02", 1, "2026-04-07", id="good-friday-and-easter-monday"),
        pytest.param("2026-04-01", 5, "2026-04-10", id="five-across-easter"),
        pytest.param("2026-04-03", 1, "2026-04-07", id="from-good-friday"),
        pytest.param("2026-05-01", 1, "2026-05-05", id="early-may-bank-holiday"),
        pytest.param("2027-12-24", 1, "2027-12-29", id="christmas-2027-both-observed"),
    ],
)
def test_add_working_days(start: str, days: int, due: str) -> None:
    assert add_working_days(D(start), days) == D(due)


@pytest.mark.parametrize(
    ("start", "end", "count"),
    [
        pytest.param("2026-11-20", "2026-11-20", 0, id="same-day"),
        pytest.param("2026-11-20", "2026-11-19", 0, id="end-before-start"),
        pytest.param("2026-11-20", "2026-11-23", 1, id="friday-to-monday"),
        pytest.param("2026-11-21", "2026-11-22", 0, id="saturday-to-sunday"),
        pytest.param("2026-11-20", "2026-11-27", 5, id="one-week"),
        pytest.param("2026-12-24", "2026-12-29", 1, id="over-christmas"),
        pytest.param("2026-12-23", "2027-01-04", 5, id="christmas-to-new-year"),
        pytest.param("2026-12-23", "2027-01-08", 9, id="to-friday-after-new-year"),
        pytest.param("2026-04-02", "2026-04-07", 1, id="over-easter"),
        pytest.param("2026-04-02", "2026-04-06", 0, id="to-easter-monday"),
        pytest.param("2026-01-01", "2026-12-31", 253, id="all-of-2026"),
        pytest.param("2025-12-31", "2027-01-01", 253, id="all-of-2026-plus-new-years-days"),
    ],
)
def test_working_days_between(start: str, end: str, count: int) -> None:
    assert working_days_between(D(start), D(end)) == count


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-12-25", False),
        ("2026-12-26", False),
        ("2026-12-28", False),
        ("2026-12-29", True),
        ("2027-01-01", False),
        ("2026-04-03", False),
        ("2026-04-06", False),
        ("2026-04-07", True),
        ("2026-11-21", False),
        ("2026-11-23", True),
    ],
)
def test_is_working_day(day: str, working: bool) -> None:
    assert is_working_day(D(day)) is working


@settings(deadline=None)
@given(COVERED)
def test_the_calendar_agrees_with_the_published_bank_holidays(day: date) -> None:
    assert is_working_day(day) is model.is_working(day)


@settings(deadline=None)
@given(COVERED, COVERED)
def test_working_days_between_counts_like_a_walk_through_the_calendar(a: date, b: date) -> None:
    start, end = min(a, b), max(a, b)
    assert working_days_between(start, end) == model.working_days(start, end)


@settings(deadline=None)
@given(ANY_DAY, st.integers(min_value=0, max_value=80))
def test_working_days_between_undoes_add_working_days(start: date, days: int) -> None:
    due = add_working_days(start, days)
    assert working_days_between(start, due) == days
    assert due == start or is_working_day(due)  # a deadline never falls on a day off


@settings(deadline=None)
@given(ANY_DAY, st.integers(min_value=0, max_value=60))
def test_earliest_start_not_overdue_splits_overdue_from_not_overdue(today: date, days: int) -> None:
    earliest = earliest_start_not_overdue(today, days)
    assert earliest <= today
    assert add_working_days(earliest, days) >= today
    assert add_working_days(earliest - timedelta(days=1), days) < today
    # Every start from then on is not overdue today, every start before it is.
    for offset in range(-12, 13):
        start = earliest + timedelta(days=offset)
        assert (add_working_days(start, days) >= today) is (offset >= 0), start
