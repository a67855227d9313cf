"""Pre-aggregated counts, kept per day and per month of lodging.

Statistics are sums over a date range. Keeping each count at two grains lets a query read the
whole months inside the range at month grain and only the ragged ends at day grain: a decade of
data is read as ~120 month rows per value plus at most ~60 day rows, however many complaints.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from projections.store import Cursor

EARLIEST = date(1, 1, 1)
LATEST = date(9999, 12, 31)


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
    """Adds each delta, keyed (lodged day, *key), at day and at month grain."""
    rows: Counter[tuple[Any, ...]] = Counter()
    for (lodged_on, *key), delta in deltas.items():
        if delta:
            rows[("d", lodged_on, *key)] += delta
            rows[("m", lodged_on[:7], *key)] += delta
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
    days = "(grain = 'd' AND period BETWEEN ? AND ?)"
    try:
        first_full = low if low.day == 1 else _next_month(low)
        end_of_full = high if _next_day(high).day == 1 else _month_start(high) - timedelta(days=1)
    except OverflowError:  # a range at the very ends of the calendar: no whole month in it
        return days, [low.isoformat(), high.isoformat()]
    if first_full > end_of_full:
        return days, [low.isoformat(), high.isoformat()]
    clauses = ["(grain = 'm' AND period BETWEEN ? AND ?)"]
    params = [first_full.isoformat()[:7], end_of_full.isoformat()[:7]]
    if low < first_full:
        clauses.append("(grain = 'd' AND period BETWEEN ? AND ?)")
        params += [low.isoformat(), (first_full - timedelta(days=1)).isoformat()]
    if end_of_full < high:
        clauses.append("(grain = 'd' AND period BETWEEN ? AND ?)")
        params += [(end_of_full + timedelta(days=1)).isoformat(), high.isoformat()]
    return "(" + " OR ".join(clauses) + ")", params


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


def _next_day(day: date) -> date:
    return day + timedelta(days=1) if day < LATEST else day.replace(day=1)  # 1 Jan 10000
