"""Learning statistics: complaints counted by every category analysts ask about.

Counts are attributed to the day the complaint was lodged, whatever event adds them (an outcome
counts in the month its complaint was lodged), so this projection remembers each complaint's
lodged day in a small table of its own. Nothing personal is kept: ids, days and categories.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any, ClassVar

from domain.complaint import Complaint
from projections.base import Projection, day, load_rows, unapplied, upsert_rows
from projections.counters import add_counts, counts_table, period_filter
from projections.store import Cursor

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
_KEYS = ("dimension", "value")
_STATE = ("complaint_id", "lodged_on", "version")


class LearningStatistics(Projection):
    name = "learning"
    tables: ClassVar[dict[str, str]] = {
        "learning_complaints": (
            "complaint_id TEXT PRIMARY KEY, lodged_on TEXT NOT NULL, version INTEGER NOT NULL"
        ),
        "learning_counts": counts_table("dimension TEXT NOT NULL, value TEXT NOT NULL"),
    }

    def process(self, cursor: Cursor, events: Sequence[Complaint.Event]) -> None:
        state = load_rows(
            cursor,
            self.table["learning_complaints"],
            _STATE,
            [str(e.originator_id) for e in events],
        )
        deltas: Counter[tuple[Any, ...]] = Counter()
        for known, event in unapplied(state, events, _first_row):
            if isinstance(event, Complaint.Lodged):
                _count_lodged(deltas, known["lodged_on"], event)
            for dimension, value in _categories(event):
                deltas[(known["lodged_on"], dimension, value)] += 1
        upsert_rows(cursor, self.table["learning_complaints"], _STATE, list(state.values()))
        add_counts(cursor, self.table["learning_counts"], _KEYS, deltas)

    def query(
        self, cursor: Cursor, lodged_from: date | None, lodged_to: date | None
    ) -> dict[str, Any]:
        where, params = period_filter(lodged_from, lodged_to)
        cursor.execute(
            f"SELECT dimension, value, SUM(n) FROM {self.table['learning_counts']} "
            f"WHERE {where} GROUP BY dimension, value ORDER BY dimension, value",
            params,
        )
        figures: dict[str, Any] = {dimension: {} for dimension in DIMENSIONS}
        figures |= {"total": 0, "late": 0}
        for dimension, value, count in cursor.fetchall():
            if dimension in ("total", "late"):
                figures[dimension] = int(count)
            elif int(count):
                figures[dimension][value] = int(count)
        return figures


def _first_row(event: Complaint.Lodged) -> dict[str, Any]:
    return {
        "complaint_id": str(event.originator_id),
        "lodged_on": day(event.received_at),
        "version": event.originator_version,
    }


def _count_lodged(
    deltas: Counter[tuple[Any, ...]], lodged_on: str, event: Complaint.Lodged
) -> None:
    on_behalf = event.on_behalf_of
    categories = [
        ("total", "all"),
        ("month", lodged_on[:7]),
        ("subject_kind", event.subject["kind"]),
        ("standing", event.standing),
        ("channel", event.channel),
        ("on_behalf_basis", on_behalf["basis"] if on_behalf else "none"),
        *(("behaviour", behaviour) for behaviour in sorted(set(event.behaviours))),
    ]
    if event.late:
        categories.append(("late", "true"))
    for dimension, value in categories:
        deltas[(lodged_on, dimension, value)] += 1


def _categories(event: Complaint.Event) -> list[tuple[str, str]]:
    if isinstance(event, Complaint.Redirected):
        return [("redirect_destination", event.destination)]
    if isinstance(event, Complaint.Resolved):
        themes = sorted({point["theme"] for point in event.learning})
        return [("outcome", event.outcome), *(("learning_theme", theme) for theme in themes)]
    return []
