"""Pre-aggregated counts, kept per day, month and year of lodging, and for all time.

Statistics are sums over a date range. Keeping each count at three grains lets a query read the
whole years inside the range at year grain, the whole months left at month grain and only the
ragged ends at day grain: any range is read as at most a few dozen rows per value (years, up to
22 months, up to 60 days), however many complaints and however long the history. The fourth,
all-time grain answers the question asked most (no range at all) in one row per value, however
many years the history spans: a timeliness histogram has a row per year for every number of
days any duration took, and summing sixteen years of them made it five times slower at a
million events than at ten thousand.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from projections.store import Cursor

EARLIEST = date(1, 1, 1)
LATEST = date(9999, 12, 31)
ALL_TIME, FOREVER = "a", "*"  # the all-time grain and its one period


def counts_table(key_columns: str) -> str:
    """Column definitions of a counts table whose key is (grain, period, *key_columns)."""
    keys = ", ".join(column.split()[0] for column in key_columns.split(","))
    return (
        f"grain TEXT NOT NULL, period TEXT NOT NULL, {key_columns}, n BIGINT NOT NULL, "
        f"PRIMARY KEY (grain, period, {keys})"
    )


def add_counts(
    cursor: Cursor, table: str, key_columns: Sequence[str], deltas: Counter[tuple[Any, ...]]
) -> None:
    """Adds each delta, keyed (lodged day, *key), at day, month, year and all-time grain."""
    rows: Counter[tuple[Any, ...]] = Counter()
    for (lodged_on, *key), delta in deltas.items():
        if delta:
            rows[("d", lodged_on, *key)] += delta
            rows[("m", lodged_on[:7], *key)] += delta
            rows[("y", lodged_on[:4], *key)] += delta
            rows[(ALL_TIME, FOREVER, *key)] += delta
    if not rows:
        return
    keys = ("grain", "period", *key_columns)
    cursor.upsert(
        table,
        (*keys, "n"),
        [(*key, delta) for key, delta in sorted(rows.items()) if delta],
        keys,
        f"n = {table}.n + excluded.n",
    )
    # A count taken back to zero leaves no row, so that the rows never depend on how the
    # events were batched (a rebuild must give exactly the rows of a live run).
    emptied = [key for key, delta in rows.items() if delta < 0]
    if emptied:
        match = " AND ".join(f"{column} = ?" for column in keys)
        cursor.executemany(f"DELETE FROM {table} WHERE {match} AND n = 0", emptied)


def period_filter(lodged_from: date | None, lodged_to: date | None) -> tuple[str, list[str]]:
    """A WHERE clause selecting each lodged day in the range exactly once, at the coarsest grain."""
    low, high = lodged_from or EARLIEST, lodged_to or LATEST
    if low > high:
        return "1 = 0", []
    if (low, high) == (EARLIEST, LATEST):
        return "(grain = ? AND period = ?)", [ALL_TIME, FOREVER]
    try:
        segments = _years(low, high)
    except OverflowError:  # a range at the very ends of the calendar: read it day by day
        segments = [("d", low.isoformat(), high.isoformat())]
    clauses = " OR ".join("(grain = ? AND period BETWEEN ? AND ?)" for _ in segments)
    return f"({clauses})", [part for segment in segments for part in segment]


Segment = tuple[str, str, str]


def _years(low: date, high: date) -> list[Segment]:
    first = low.year if (low.month, low.day) == (1, 1) else low.year + 1
    last = high.year if (high.month, high.day) == (12, 31) else high.year - 1
    if first > last:
        return _months(low, high)
    before = _months(low, date(first, 1, 1) - timedelta(days=1)) if low.year < first else []
    after = _months(date(last, 12, 31) + timedelta(days=1), high) if high.year > last else []
    return [*before, ("y", f"{first:04d}", f"{last:04d}"), *after]


def _months(low: date, high: date) -> list[Segment]:
    if low > high:
        return []
    first_full = low if low.day == 1 else _next_month(low)
    end_of_full = high if _next_day(high).day == 1 else _month_start(high) - timedelta(days=1)
    if first_full > end_of_full:
        return [("d", low.isoformat(), high.isoformat())]
    segments: list[Segment] = [("m", first_full.isoformat()[:7], end_of_full.isoformat()[:7])]
    if low < first_full:
        segments.insert(0, ("d", low.isoformat(), (first_full - timedelta(days=1)).isoformat()))
    if end_of_full < high:
        segments.append(("d", (end_of_full + timedelta(days=1)).isoformat(), high.isoformat()))
    return segments


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _next_day(day: date) -> date:
    return day + timedelta(days=1) if day < LATEST else day.replace(day=1)  # 1 Jan 10000
