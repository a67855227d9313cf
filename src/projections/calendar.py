"""Working days in England and Wales: no Saturdays, Sundays or bank holidays.

Time limits count working days after the day of receipt: a complaint received on a Friday with a
5-working-day limit is due the next Friday; one received on a Saturday counts from Monday.
"""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays


@lru_cache(maxsize=64)
def _bank_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("GB", subdiv="ENG", years=year).keys())


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _bank_holidays(day.year)


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days after `start`."""
    current = start
    remaining = days
    while remaining > 0:
        current += timedelta(days=1)
        if is_working_day(current):
            remaining -= 1
    return current


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end` (0 when `end` <= `start`)."""
    if end <= start:
        return 0
    whole_weeks, rest = divmod((end - start).days, 7)
    count = whole_weeks * 5
    for offset in range(1, rest + 1):
        if (start + timedelta(days=offset)).weekday() < 5:
            count += 1
    holidays_in_range = sum(
        1
        for year in range(start.year, end.year + 1)
        for holiday in _bank_holidays(year)
        if start < holiday <= end and holiday.weekday() < 5
    )
    return count - holidays_in_range


def earliest_start_not_overdue(today: date, days: int) -> date:
    """The earliest start date whose deadline (`days` working days on) is today or later.

    A case started before this date is overdue today. Deadlines only move forward as the start
    moves forward, so one date splits overdue from not overdue and a query can use an index.
    """
    candidate = today
    step = timedelta(days=1)
    # Walk back until the deadline would fall before today; the day after that is the answer.
    while add_working_days(candidate - step, days) >= today:
        candidate -= step
    return candidate
