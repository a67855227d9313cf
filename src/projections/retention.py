"""The retention schedule: when each final complaint is due for review (docs/DOMAIN.md part C).

One row per complaint, created on lodging so that a rebuild writes exactly the rows of the live
run. It holds days, the status and which parts are erased: no personal data. The due day is not
stored, because it depends on COMPLAINTS_RETENTION_YEARS: `due_page` works it out at the time of
asking, so a change of the setting needs no rebuild.

Under Schedule 3 (part B) a withdrawal or a review finding the outcome reasonable and
proportionate is final on its day. A notified outcome becomes final with no event, the day
after its review deadline (`statutory_rules.final_on`): the row holds that day from the
notification, so the due list needs no clock; a review requested (in time or late) takes it
back out, until the review's decision finalises it or the complaint is notified again.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, ClassVar
from uuid import UUID

from domain.complaint import Complaint
from domain.personal_data import PARTS
from domain.records import PersonalDataErased, RetentionReviewed, retention_due_on
from domain.rules import years_before
from domain.statutory_events import (
    ComplaintWithdrawn,
    HandlingDecided,
    OutcomeNotified,
    ReviewDecided,
    ReviewRequested,
)
from domain.statutory_rules import final_on
from domain.statutory_values import HandlingMode
from projections.base import (
    Index,
    Projection,
    complaint_key,
    day,
    load_rows,
    unapplied,
    upsert_rows,
)
from projections.case_list.queries import InvalidCursorError
from projections.store import Cursor

COLUMNS = (
    "complaint_id",
    "reference",
    "status",
    "final_on",
    "last_review_on",
    "next_review_on",
    "erased_parts",
    "version",
)
ALL_PARTS = ",".join(sorted(part.value for part in PARTS))
# A complaint leaves the schedule once every part is erased: nothing is left to review.
LISTED = f"final_on IS NOT NULL AND erased_parts <> '{ALL_PARTS}'"
_FIELDS = COLUMNS[:6]
# Cursor days are clamped into a span holding every plausible day (domain.values' years), so
# that the date arithmetic below cannot leave the calendar on a forged cursor or a wild as_of.
_FLOOR, _CEILING = date(1000, 1, 1), date(9998, 12, 31)


class RetentionSchedule(Projection):
    name = "retention"
    tables: ClassVar[dict[str, str]] = {
        "retention": (
            "complaint_id TEXT PRIMARY KEY, reference TEXT NOT NULL, status TEXT NOT NULL, "
            "final_on TEXT NULL, last_review_on TEXT NULL, next_review_on TEXT NULL, "
            "erased_parts TEXT NOT NULL DEFAULT '', version INTEGER NOT NULL"
        )
    }
    # The two ways of being due, each walked in due order: years after the final day (never
    # reviewed), or on the day a `retain` decision set.
    indexes = (
        Index(
            "retention",
            "final",
            "final_on, complaint_id",
            where="final_on IS NOT NULL AND next_review_on IS NULL",
        ),
        Index(
            "retention",
            "review",
            "next_review_on, complaint_id",
            where="next_review_on IS NOT NULL",
        ),
    )

    def process(self, cursor: Cursor, events: Sequence[Complaint.Event]) -> None:
        table = self.table["retention"]
        rows = load_rows(cursor, table, COLUMNS, events)
        for row, event in unapplied(rows, events, _lodged_row):
            _apply(row, event)
        upsert_rows(cursor, table, COLUMNS, list(rows.values()))


def _lodged_row(event: Complaint.Lodged) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row |= {
        "complaint_id": complaint_key(event),
        "reference": event.reference,
        "status": "lodged",
        "erased_parts": "",
        "version": event.originator_version,
    }
    return row


def _apply(row: dict[str, Any], event: Complaint.Event) -> None:
    if isinstance(event, Complaint.Resolved | Complaint.Redirected):
        row["status"] = "resolved" if isinstance(event, Complaint.Resolved) else "redirected"
        row["final_on"] = day(event.occurred_at)
    elif isinstance(event, RetentionReviewed):
        row["last_review_on"] = day(event.occurred_at)
        if event.decision == "retain":
            row["next_review_on"] = event.next_review_on.isoformat()
    elif isinstance(event, PersonalDataErased):
        # Each erasure names only the parts it newly erased: the row keeps the union.
        before = set(row["erased_parts"].split(",")) - {""}
        row["erased_parts"] = ",".join(sorted(before | set(event.parts)))
    elif isinstance(event, Complaint.InvestigatorAssigned) and row["status"] == "lodged":
        row["status"] = "assigned"
    elif isinstance(event, Complaint.ComplainantContacted):
        if row["status"] in ("assigned", "in_contact"):  # a recorded one stays recorded
            row["status"] = "in_contact"
    else:
        _apply_statutory(row, event)


def _apply_statutory(row: dict[str, Any], event: Complaint.Event) -> None:
    if isinstance(event, HandlingDecided) and event.mode == HandlingMode.SCHEDULE_3:
        row["status"] = "recorded"
    elif isinstance(event, OutcomeNotified):
        row["status"] = "outcome_notified"
        row["final_on"] = final_on(event.review_deadline).isoformat()
    elif isinstance(event, ReviewRequested):
        row["status"] = "under_review"
        row["final_on"] = None
    elif isinstance(event, ReviewDecided):
        final = event.reasonable_and_proportionate
        row["status"] = "finalised" if final else "recorded"
        row["final_on"] = day(event.occurred_at) if final else None
    elif isinstance(event, ComplaintWithdrawn):
        row["status"] = "withdrawn"
        row["final_on"] = day(event.occurred_at)


# ---- the due list ---------------------------------------------------------------------------


def due_page(
    cursor: Cursor,
    table: str,
    *,
    as_of: date,
    years: int,
    limit: int,
    after: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Final complaints not wholly erased and due by `as_of`, by due day then id: `limit` of
    them after the cursor, and the next cursor (InvalidCursorError for a foreign one)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    last = decode_due_cursor(after) if after is not None else None
    # The two kinds of due row, each read in due order, merged here: the union's first
    # limit + 1 rows are among each kind's first limit + 1.
    found = _reviewed(cursor, table, as_of, last, limit + 1)
    found += _unreviewed(cursor, table, as_of, years, last, limit + 1)
    found.sort(key=lambda item: (item["due_on"], item["complaint_id"]))
    rows = found[:limit]
    more = len(found) > limit
    next_cursor = encode_due_cursor(rows[-1]["due_on"], rows[-1]["complaint_id"]) if more else None
    return [_item(row) for row in rows], next_cursor


def _reviewed(
    cursor: Cursor, table: str, as_of: date, last: tuple[date, str] | None, limit: int
) -> list[dict[str, Any]]:
    where = "next_review_on IS NOT NULL AND next_review_on <= ?"
    params: list[Any] = [as_of.isoformat()]
    if last is not None:
        where += " AND (next_review_on > ? OR (next_review_on = ? AND complaint_id > ?))"
        params += [last[0].isoformat(), last[0].isoformat(), last[1]]
    rows = _select(cursor, table, where, params, "next_review_on", limit)
    for row in rows:
        row["due_on"] = date.fromisoformat(row["next_review_on"])
    return rows


def _unreviewed(
    cursor: Cursor,
    table: str,
    as_of: date,
    years: int,
    last: tuple[date, str] | None,
    limit: int,
) -> list[dict[str, Any]]:
    """Never reviewed: due `years` after the final day, a function of `final_on` that never
    goes down, so the SQL compares `final_on` with days worked out here (portable SQL)."""
    where = "next_review_on IS NULL AND final_on <= ?"
    params: list[Any] = [_final_days(as_of, years)[1].isoformat()]
    if last is not None:
        first, latest = _final_days(last[0], years)
        # Due later, or on the cursor's day with a greater id (none is if first > latest).
        where += " AND (final_on > ? OR (final_on >= ? AND final_on <= ? AND complaint_id > ?))"
        params += [latest.isoformat(), first.isoformat(), latest.isoformat(), last[1]]
    rows = _select(cursor, table, where, params, "final_on", limit)
    rows += _leap_day_partners(cursor, table, rows, where, params, years, limit)
    for row in rows:
        row["due_on"] = retention_due_on(date.fromisoformat(row["final_on"]), None, years)
    return rows


def _leap_day_partners(
    cursor: Cursor,
    table: str,
    rows: list[dict[str, Any]],
    where: str,
    params: list[Any],
    years: int,
    limit: int,
) -> list[dict[str, Any]]:
    """28 and 29 February of a leap year are due on the same day when the year `years` later
    has no 29th, so ids of both days interleave in due order while SQL reads the 28th's
    first: when the page reaches such a 28th, the 29th's first rows join it."""
    partners = set()
    for row in rows:
        final_on = date.fromisoformat(row["final_on"])
        after = final_on + timedelta(days=1)
        if after.day == 29 and retention_due_on(after, None, years) == retention_due_on(
            final_on, None, years
        ):
            partners.add(after.isoformat())
    seen = {row["complaint_id"] for row in rows}
    extra: list[dict[str, Any]] = []
    for partner in sorted(partners):
        found = _select(cursor, table, f"{where} AND final_on = ?", [*params, partner], "", limit)
        extra += [row for row in found if row["complaint_id"] not in seen]
    return extra


def _select(
    cursor: Cursor, table: str, where: str, params: list[Any], order: str, limit: int
) -> list[dict[str, Any]]:
    order_by = f"{order}, complaint_id" if order else "complaint_id"
    cursor.execute(
        f"SELECT {', '.join(_FIELDS)} FROM {table} WHERE {LISTED} AND {where} "
        f"ORDER BY {order_by} LIMIT ?",
        [*params, limit],
    )
    return [dict(zip(_FIELDS, row, strict=True)) for row in cursor.fetchall()]


def _final_days(due: date, years: int) -> tuple[date, date]:
    """The final days of the complaints due on `due` when never reviewed: `first` to `last`
    (none when first > last: no 29 February is due on the 29th of a year without one's
    anniversary); every day after `last` is due after `due`."""
    due = min(max(due, _FLOOR), _CEILING)
    base = years_before(due, years)
    # Due days move by one day per final day, except 28/29 February: the answer is near `base`.
    around = [base + timedelta(days=shift) for shift in (-1, 0, 1)]
    last = max(d for d in around if retention_due_on(d, None, years) <= due)
    first = min(d for d in around if retention_due_on(d, None, years) >= due)
    return first, last


def _item(row: dict[str, Any]) -> dict[str, Any]:
    last_review = row["last_review_on"]
    # Due years after its final day, a notified outcome is long past its review deadline.
    status = "finalised" if row["status"] == "outcome_notified" else row["status"]
    return {
        "complaint_id": row["complaint_id"],
        "reference": row["reference"],
        "status": status,
        "final_on": date.fromisoformat(row["final_on"]),
        "due_on": row["due_on"],
        "last_review_on": date.fromisoformat(last_review) if last_review else None,
    }


def encode_due_cursor(due_on: date, complaint_id: str) -> str:
    raw = json.dumps([due_on.isoformat(), complaint_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_due_cursor(cursor: str) -> tuple[date, str]:
    """The (due_on, complaint_id) of the last row of a page, as this server encoded them."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value = json.loads(raw)
        if not (isinstance(value, list) and len(value) == 2):
            raise ValueError("not a cursor")
        due_on, complaint_id = date.fromisoformat(value[0]), str(UUID(value[1]))
    except (binascii.Error, ValueError, TypeError, AttributeError, UnicodeDecodeError):
        raise InvalidCursorError("The cursor is not one this server gave out.") from None
    return due_on, complaint_id
