"""Early warning: the officers and staff named in many complaints within a window of months.

People are told apart by the keyed hash of their shoulder number, which lodging carries in clear
(normalised first, so `12 34ab` and `1234AB` are one person), so nothing here is ever decrypted
and an erasure changes no count. Two tables:

- `early_warning_counts`: complaints per (hash, month of receipt) with the latest day of receipt,
  so that the whole months of any window are read as one row per person and month;
- `early_warning_complaints`: one row per counted complaint (reference, moment and day of
  receipt, whether it is restricted or its subject erased), for the ragged first month of a
  window, for the references shown and for choosing the complaint whose number may be shown.

Only complaints about a person (officer, staff, contractor, volunteer) with a shoulder number
hash are counted: those stored in clear before encryption carry none.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import date
from typing import Any, ClassVar

from domain.complaint import Complaint
from domain.personal_data import Part
from domain.records import PersonalDataErased, ProcessingRestricted, RestrictionLifted
from domain.values import PERSON_KINDS
from projections.base import Index, Projection, complaint_key, day, load_rows, moment, upsert_rows
from projections.store import Cursor

COLUMNS = (
    "complaint_id",
    "shoulder_number_hash",
    "reference",
    "received_at",
    "received_on",
    "restricted",
    "subject_erased",
    "version",
)
RELEVANT = (Complaint.Lodged, PersonalDataErased, ProcessingRestricted, RestrictionLifted)
_DETAILS = ("shoulder_number_hash", "complaint_id", "reference", "restricted", "subject_erased")


class EarlyWarning(Projection):
    name = "early_warning"
    tables: ClassVar[dict[str, str]] = {
        "early_warning_counts": (
            "shoulder_number_hash TEXT NOT NULL, month TEXT NOT NULL, n BIGINT NOT NULL, "
            "latest_on TEXT NOT NULL, PRIMARY KEY (shoulder_number_hash, month)"
        ),
        "early_warning_complaints": (
            "complaint_id TEXT PRIMARY KEY, shoulder_number_hash TEXT NOT NULL, "
            "reference TEXT NOT NULL, received_at TEXT NOT NULL, received_on TEXT NOT NULL, "
            "restricted INTEGER NOT NULL, subject_erased INTEGER NOT NULL, "
            "version INTEGER NOT NULL"
        ),
    }
    indexes = (
        Index("early_warning_counts", "month", "month, shoulder_number_hash"),
        Index("early_warning_complaints", "received", "received_on, shoulder_number_hash"),
        Index("early_warning_complaints", "person", "shoulder_number_hash, received_on"),
    )

    def process(self, cursor: Cursor, events: Sequence[Complaint.Event]) -> None:
        relevant = [event for event in events if isinstance(event, RELEVANT)]
        if not relevant:
            return
        table = self.table["early_warning_complaints"]
        rows = load_rows(cursor, table, COLUMNS, relevant)
        changed: dict[str, dict[str, Any]] = {}
        deltas: dict[tuple[str, str], list[Any]] = {}
        for event in relevant:
            key = complaint_key(event)
            row = rows.get(key)
            if isinstance(event, Complaint.Lodged):
                if row is None and counted(event):
                    rows[key] = changed[key] = _first_row(event)
                    _count(deltas, rows[key])
                continue
            # A complaint not counted has no row; an event seen before changes nothing.
            if row is None or int(row["version"]) >= event.originator_version:
                continue
            _apply(row, event)
            changed[key] = row
        upsert_rows(cursor, table, COLUMNS, list(changed.values()))
        _add_counts(cursor, self.table["early_warning_counts"], deltas)

    def query(self, cursor: Cursor, since: date, threshold: int) -> list[dict[str, Any]]:
        """See `warnings`."""
        return warnings(
            cursor,
            self.table["early_warning_counts"],
            self.table["early_warning_complaints"],
            since=since,
            threshold=threshold,
        )


def counted(event: Complaint.Lodged) -> bool:
    return event.shoulder_number_hash is not None and event.subject.get("kind") in PERSON_KINDS


def _first_row(event: Complaint.Lodged) -> dict[str, Any]:
    assert event.shoulder_number_hash is not None
    return {
        "complaint_id": complaint_key(event),
        "shoulder_number_hash": event.shoulder_number_hash,
        "reference": event.reference,
        "received_at": moment(event.received_at),
        "received_on": day(event.received_at),
        "restricted": 0,
        "subject_erased": 0,
        "version": event.originator_version,
    }


def _apply(row: dict[str, Any], event: Complaint.Event) -> None:
    row["version"] = event.originator_version
    if isinstance(event, ProcessingRestricted):
        row["restricted"] = 1
    elif isinstance(event, RestrictionLifted):
        row["restricted"] = 0
    elif isinstance(event, PersonalDataErased) and Part.SUBJECT.value in event.parts:
        row["subject_erased"] = 1


def _count(deltas: dict[tuple[str, str], list[Any]], row: dict[str, Any]) -> None:
    received_on = row["received_on"]
    entry = deltas.setdefault((row["shoulder_number_hash"], received_on[:7]), [0, received_on])
    entry[0] += 1
    entry[1] = max(entry[1], received_on)


def _add_counts(cursor: Cursor, table: str, deltas: dict[tuple[str, str], list[Any]]) -> None:
    if not deltas:
        return
    cursor.upsert(
        table,
        ("shoulder_number_hash", "month", "n", "latest_on"),
        [(*key, n, latest) for key, (n, latest) in sorted(deltas.items())],
        ("shoulder_number_hash", "month"),
        f"n = {table}.n + excluded.n, latest_on = CASE WHEN excluded.latest_on > "
        f"{table}.latest_on THEN excluded.latest_on ELSE {table}.latest_on END",
    )


# ---- the window ------------------------------------------------------------------------------


def months_before(today: date, months: int) -> date:
    """The same day `months` calendar months earlier, or the last day of a shorter month:
    2026-12-02 less 12 months is 2025-12-02; 2026-03-31 less 1 month is 2026-02-28."""
    index = today.year * 12 + today.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(today.day, calendar.monthrange(year, month)[1]))


def _next_month(within: date) -> date:
    return date(within.year + within.month // 12, within.month % 12 + 1, 1)


def warnings(
    cursor: Cursor, counts: str, complaints: str, *, since: date, threshold: int
) -> list[dict[str, Any]]:
    """The people counted in at least `threshold` complaints received on or after `since`, most
    first (then the latest receipt first): each with `shoulder_number_hash`, `complaints`,
    `latest_received_on`, `references` (newest first) and `candidates`, the ids of the counted
    complaints neither restricted nor with the subject erased, newest first."""
    # The first month of the window is read complaint by complaint unless it starts on the 1st;
    # every later month whole, from the counts.
    whole_from = since if since.day == 1 else _next_month(since)
    cursor.execute(
        "SELECT h, SUM(n), MAX(latest_on) FROM ("
        f"SELECT shoulder_number_hash AS h, n, latest_on FROM {counts} WHERE month >= ? "
        "UNION ALL "
        f"SELECT shoulder_number_hash AS h, 1 AS n, received_on AS latest_on FROM {complaints} "
        "WHERE received_on >= ? AND received_on < ?"
        ") AS w GROUP BY h HAVING SUM(n) >= ?",
        [whole_from.isoformat()[:7], since.isoformat(), whole_from.isoformat(), threshold],
    )
    found = {
        h: {
            "shoulder_number_hash": h,
            "complaints": int(n),
            "latest_received_on": date.fromisoformat(latest),
            "references": [],
            "candidates": [],
        }
        for h, n, latest in cursor.fetchall()
    }
    _add_details(cursor, complaints, since, found)
    return sorted(
        found.values(),
        key=lambda item: (
            -item["complaints"],
            -item["latest_received_on"].toordinal(),
            item["shoulder_number_hash"],
        ),
    )


def _add_details(
    cursor: Cursor, complaints: str, since: date, found: dict[str, dict[str, Any]]
) -> None:
    people = sorted(found)
    for start in range(0, len(people), 500):
        chunk = people[start : start + 500]
        marks = ",".join("?" * len(chunk))
        cursor.execute(
            f"SELECT {', '.join(_DETAILS)} FROM {complaints} "
            f"WHERE received_on >= ? AND shoulder_number_hash IN ({marks}) "
            "ORDER BY received_at DESC, reference DESC",
            [since.isoformat(), *chunk],
        )
        for h, complaint_id, reference, restricted, subject_erased in cursor.fetchall():
            found[h]["references"].append(reference)
            if not restricted and not subject_erased:
                found[h]["candidates"].append(complaint_id)
