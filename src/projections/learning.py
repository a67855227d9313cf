"""Learning statistics: complaints counted by every category analysts ask about.

Counts are attributed to the day the complaint was lodged, whatever event adds them (an outcome
counts in the month its complaint was lodged), so this projection remembers each complaint's
lodged day in a small table of its own. Nothing personal is kept: ids, days and categories.

The statutory process (part B) adds dimensions. Some count each fact once (an allegation's
category, a referral's grounds, a review's result); others count what a complaint says now,
and move when it changes: `handling` counts the latest decision, and a notified outcome's
allegation outcomes and learning themes are replaced by those of a later notification (after
a review reopened the complaint). So the complaint's row also keeps its current handling and
what its latest notification counted, to take them back.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from datetime import date
from typing import Any, ClassVar

from domain.complaint import Complaint
from domain.statutory_events import (
    AllegationAdded,
    HandlingDecided,
    OutcomeNotified,
    ReferredToIopc,
    ReviewDecided,
)
from domain.statutory_values import MANDATORY_REFERRAL_FLAGS
from projections.base import Projection, complaint_key, day, load_rows, unapplied, upsert_rows
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
    # The statutory process (part B).
    "handling",
    "allegation_category",
    "allegation_outcome",
    "iopc_referred",
    "review_result",
)
_KEYS = ("dimension", "value")
# `handling`: the complaint's latest decision; `notified`: what its latest notified outcome
# counted, as JSON (`_notified_counts`), to be taken back by the next one.
_STATE = ("complaint_id", "lodged_on", "handling", "notified", "version")
Delta = tuple[str, str, int]


class LearningStatistics(Projection):
    name = "learning"
    # 2: counts kept at the all-time grain too (`projections.counters`).
    schema_version = 2
    tables: ClassVar[dict[str, str]] = {
        "learning_complaints": (
            "complaint_id TEXT PRIMARY KEY, lodged_on TEXT NOT NULL, handling TEXT, "
            "notified TEXT, version INTEGER NOT NULL"
        ),
        "learning_counts": counts_table("dimension TEXT NOT NULL, value TEXT NOT NULL"),
    }

    def process(self, cursor: Cursor, events: Sequence[Complaint.Event]) -> None:
        state = load_rows(
            cursor,
            self.table["learning_complaints"],
            _STATE,
            events,
        )
        deltas: Counter[tuple[Any, ...]] = Counter()
        for known, event in unapplied(state, events, _first_row):
            if isinstance(event, Complaint.Lodged):
                _count_lodged(deltas, known["lodged_on"], event)
            for dimension, value, sign in _categories(known, event):
                deltas[(known["lodged_on"], dimension, value)] += sign
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
        "complaint_id": complaint_key(event),
        "lodged_on": day(event.received_at),
        "handling": None,
        "notified": None,
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


def _categories(known: dict[str, Any], event: Complaint.Event) -> list[Delta]:
    """What the event adds to the counts (and, signed -1, what it takes back)."""
    if isinstance(event, Complaint.Redirected):
        return [("redirect_destination", event.destination, 1)]
    if isinstance(event, Complaint.Resolved):
        themes = sorted({point["theme"] for point in event.learning})
        return [("outcome", event.outcome, 1), *(("learning_theme", t, 1) for t in themes)]
    if isinstance(event, AllegationAdded):
        return [("allegation_category", event.category, 1)]
    if isinstance(event, ReferredToIopc):
        # Mandatory when a ground is one of the flags the law refers (rule 15); a referral on
        # other flags, or `voluntary`, is the force's choice.
        mandatory = bool(set(event.grounds) & MANDATORY_REFERRAL_FLAGS)
        return [("iopc_referred", "mandatory" if mandatory else "voluntary", 1)]
    if isinstance(event, ReviewDecided):
        result = "reasonable_and_proportionate"
        return [
            ("review_result", result if event.reasonable_and_proportionate else f"not_{result}", 1)
        ]
    if isinstance(event, HandlingDecided):
        taken_back = [("handling", known["handling"], -1)] if known["handling"] else []
        known["handling"] = event.mode
        return [*taken_back, ("handling", event.mode, 1)]
    if isinstance(event, OutcomeNotified):
        return _renotified(known, event)
    return []


def _renotified(known: dict[str, Any], event: OutcomeNotified) -> list[Delta]:
    """The latest notification's counts replace the previous one's (a reopened complaint's
    outcome is notified again, for every allegation)."""
    before = json.loads(known["notified"]) if known["notified"] else []
    now = _notified_counts(event)
    known["notified"] = json.dumps(now)
    return [(dimension, value, -1) for dimension, value in before] + [
        (dimension, value, 1) for dimension, value in now
    ]


def _notified_counts(event: OutcomeNotified) -> list[list[str]]:
    outcomes = [["allegation_outcome", a["outcome"]] for a in event.allegations]
    themes = [["learning_theme", t] for t in sorted({p["theme"] for p in event.learning})]
    return outcomes + themes
