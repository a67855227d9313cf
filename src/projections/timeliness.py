"""Timeliness statistics: how long from lodging to assignment, first contact and resolution,
and (for complaints recorded under Schedule 3) to the first notification of the outcome.

Each duration is kept as a histogram of whole days (working and calendar), per day, month and
year of lodging (`projections.counters`), so count, mean, median and p90 over any date range
come from a few hundred rows.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from typing import Any, ClassVar

from domain.complaint import Complaint
from domain.statutory_events import OutcomeNotified
from projections.base import (
    Projection,
    complaint_key,
    day,
    load_rows,
    parse_day,
    unapplied,
    upsert_rows,
)
from projections.calendar import working_days_between
from projections.counters import add_counts, counts_table, period_filter
from projections.store import Cursor

# Part A's measures and the statutory process's, kept apart: the timeliness CSV
# (`api.http.csv_export`) lists part A's, one row each; the JSON answer has them all.
MEASURES = ("lodged_to_assigned", "lodged_to_first_contact", "lodged_to_resolved")
STATUTORY_MEASURES = ("lodged_to_outcome_notified",)
ALL_MEASURES = MEASURES + STATUTORY_MEASURES
_KEYS = ("measure", "unit", "days")
_STATE = (
    "complaint_id",
    "lodged_on",
    "assigned_on",
    "first_contact_on",
    "resolved_on",
    "outcome_notified_on",
    "version",
)


class TimelinessStatistics(Projection):
    name = "timeliness"
    # 2: counts kept at the all-time grain too (`projections.counters`).
    schema_version = 2
    tables: ClassVar[dict[str, str]] = {
        "timeliness_complaints": (
            "complaint_id TEXT PRIMARY KEY, lodged_on TEXT NOT NULL, assigned_on TEXT, "
            "first_contact_on TEXT, resolved_on TEXT, outcome_notified_on TEXT, "
            "version INTEGER NOT NULL"
        ),
        "timeliness_counts": counts_table(
            "measure TEXT NOT NULL, unit TEXT NOT NULL, days INTEGER NOT NULL"
        ),
    }

    def process(self, cursor: Cursor, events: Sequence[Complaint.Event]) -> None:
        table = self.table["timeliness_complaints"]
        state = load_rows(cursor, table, _STATE, events)
        deltas: Counter[tuple[Any, ...]] = Counter()
        for row, event in unapplied(state, events, _first_row):
            _measure(row, event, deltas)
        upsert_rows(cursor, table, _STATE, list(state.values()))
        add_counts(cursor, self.table["timeliness_counts"], _KEYS, deltas)

    def query(
        self, cursor: Cursor, lodged_from: date | None, lodged_to: date | None
    ) -> dict[str, Any]:
        where, params = period_filter(lodged_from, lodged_to)
        cursor.execute(
            f"SELECT measure, unit, days, SUM(n) FROM {self.table['timeliness_counts']} "
            f"WHERE {where} GROUP BY measure, unit, days",
            params,
        )
        histograms: dict[tuple[str, str], Counter[int]] = {}
        for measure, unit, days, count in cursor.fetchall():
            histograms.setdefault((measure, unit), Counter())[int(days)] += int(count)
        return {
            measure: {
                "count": sum(histograms.get((measure, "calendar_days"), Counter()).values()),
                **{
                    unit: summarise(histograms.get((measure, unit), Counter()))
                    for unit in ("working_days", "calendar_days")
                },
            }
            for measure in ALL_MEASURES
        }


def _first_row(event: Complaint.Lodged) -> dict[str, Any]:
    return dict.fromkeys(_STATE) | {
        "complaint_id": complaint_key(event),
        "lodged_on": day(event.received_at),
        "version": event.originator_version,
    }


def _measure(row: dict[str, Any], event: Complaint.Event, deltas: Counter[tuple[Any, ...]]) -> None:
    on = day(event.occurred_at)
    if isinstance(event, Complaint.InvestigatorAssigned) and row["assigned_on"] is None:
        row["assigned_on"] = on
        _add(deltas, row["lodged_on"], "lodged_to_assigned", on, 1)
    elif isinstance(event, Complaint.ComplainantContacted):
        earlier = row["first_contact_on"]
        if earlier is None or on < earlier:
            if earlier is not None:  # a contact recorded late but dated earlier: move it
                _add(deltas, row["lodged_on"], "lodged_to_first_contact", earlier, -1)
            row["first_contact_on"] = on
            _add(deltas, row["lodged_on"], "lodged_to_first_contact", on, 1)
    elif isinstance(event, Complaint.Resolved):
        row["resolved_on"] = on
        _add(deltas, row["lodged_on"], "lodged_to_resolved", on, 1)
    elif isinstance(event, OutcomeNotified) and row["outcome_notified_on"] is None:
        # The first notification: a later one, after a review reopened the complaint, is the
        # review's delay rather than the investigation's.
        row["outcome_notified_on"] = on
        _add(deltas, row["lodged_on"], "lodged_to_outcome_notified", on, 1)


def _add(
    deltas: Counter[tuple[Any, ...]], lodged_on: str, measure: str, on: str, sign: int
) -> None:
    calendar_days, working_days = _days_between(lodged_on, on)
    deltas[(lodged_on, measure, "calendar_days", calendar_days)] += sign
    deltas[(lodged_on, measure, "working_days", working_days)] += sign


# A few thousand days of lodging, each measured to the few months after it: the same pairs
# come again and again in a batch, and counting working days walks the bank holidays.
@lru_cache(maxsize=1 << 16)
def _days_between(lodged_on: str, on: str) -> tuple[int, int]:
    """Calendar and working days from the lodged day to `on` (both YYYY-MM-DD)."""
    start, end = parse_day(lodged_on), parse_day(on)
    return max((end - start).days, 0), working_days_between(start, end)


def summarise(histogram: Counter[int]) -> dict[str, float | None]:
    """Mean, median (the middle value, or the mean of the middle two) and p90 (nearest rank)."""
    total = sum(histogram.values())
    if total == 0:
        return {"mean": None, "median": None, "p90": None}
    mean = sum(days * count for days, count in histogram.items()) / total
    ordered = sorted(histogram.items())

    def nth(rank: int) -> int:  # the rank-th smallest value, counting from 1
        seen = 0
        for days, count in ordered:
            seen += count
            if seen >= rank:
                return days
        return ordered[-1][0]

    middle = (nth((total + 1) // 2) + nth(total // 2 + 1)) / 2
    return {
        "mean": round(mean, 2),
        "median": middle,
        "p90": float(nth(math.ceil(0.9 * total))),
    }
