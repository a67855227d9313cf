"""Queries over the case list: pages of cases, and caseloads judged at the time of asking.

Due dates are not stored: they follow from the day of receipt and the configured limits, so a
change of limits needs no rebuild, and "overdue" is always as of today. Deadlines only move
forward with the day of receipt, so "overdue" is one comparison on an indexed column.

The statutory process's dates work the same way: progress updates are due a number of days
after the stored `update_from_on` (`COMPLAINTS_UPDATE_EVERY_DAYS`), twelve-month reports fall
due by the day of receipt, and a notified outcome is `finalised` once today is past its stored
`review_deadline` (`status_sql`, `shown_status`), so the status a row is shown and filtered
with is always today's.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from uuid import UUID

from domain.rules import local_date
from domain.statutory_rules import (
    FIRST_REPORT_MONTHS,
    UPDATE_EVERY_DAYS,
    add_months,
    next_report_due,
    report_dates_due,
)
from projections.calendar import add_working_days, earliest_start_not_overdue
from projections.case_list.projection import ACTIVE, COLUMNS, NOTIFIED, OUTSIDE_OPEN
from projections.store import Cursor

# The complaints open today (the one parameter: today): a notified outcome whose review
# deadline is past is finalised. (Every notified outcome has a deadline.) Each side of the OR
# has a partial index of its own (`projection.CaseList.indexes`).
OPEN_TODAY = f"({ACTIVE} OR ({NOTIFIED} AND review_deadline >= ?))"
# Kept in a row, never shown: the day the next update is due counts from it, and is shown.
_INTERNAL = ("update_from_on",)


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True)
class TimeLimits:
    first_contact_days: int
    resolution_days: int
    update_every_days: int = UPDATE_EVERY_DAYS


@dataclass(frozen=True)
class CaseFilter:
    # A status as judged today: `finalised` includes the notified outcomes past their deadline.
    status: str | None = None
    investigator_id: str | None = None
    subject_kind: str | None = None
    channel: str | None = None
    lodged_from: date | None = None
    lodged_to: date | None = None
    # `outside_schedule_3`, `schedule_3` (the latest decision), or `none` (none decided yet).
    handling: str | None = None


def status_sql(status: str, today: date) -> tuple[str, list[Any]]:
    """The condition for rows whose status, judged on `today`, is `status`."""
    on = today.isoformat()
    if status == "finalised":
        lapsed = "(status = 'outcome_notified' AND review_deadline < ?)"
        return f"(status = 'finalised' OR {lapsed})", [on]
    if status == "outcome_notified":
        return "(status = 'outcome_notified' AND review_deadline >= ?)", [on]
    return "status = ?", [status]


def shown_status(row: dict[str, Any], today: date) -> str:
    status: str = row["status"]
    deadline = row.get("review_deadline")
    if status == "outcome_notified" and deadline is not None and deadline < today.isoformat():
        return "finalised"
    return status


def next_update_due(row: dict[str, Any], status: str, every_days: int) -> date | None:
    """Rule 17: while recorded, `every_days` after the recording, last update or reopening."""
    since = row.get("update_from_on")
    if status != "recorded" or since is None:
        return None
    return date.fromisoformat(since) + timedelta(days=every_days)


@lru_cache(maxsize=64)
def received_by_for_report(today: date) -> str:
    """The last day of receipt whose twelve-month report (rule 20) has fallen due by `today`.

    `add_months` never goes down as the day of receipt goes on, so one day splits the cases
    due a report from the rest; it lies within a few days of twelve months before today (the
    ends of months clamp: received on 29 February, due on 28 February a year later)."""
    base = add_months(today, -FIRST_REPORT_MONTHS)
    around = [base + timedelta(days=shift) for shift in range(-3, 4)]
    return max(d for d in around if add_months(d, FIRST_REPORT_MONTHS) <= today).isoformat()


def report_fields(row: dict[str, Any], status: str, today: date) -> dict[str, Any]:
    """Rule 20 for one case: the reports fallen due by today and the next one's day, while
    its investigation is open (recorded)."""
    if status != "recorded":
        return {"reports_due": 0, "next_report_due": None}
    received_on = date.fromisoformat(row["lodged_on"])
    return {
        "reports_due": len(report_dates_due(received_on, today)),
        "next_report_due": next_report_due(received_on, today),
    }


def london_today() -> date:
    return local_date(datetime.now(UTC))


@lru_cache(maxsize=8192)
def due(lodged_on: str, days: int) -> date:
    return add_working_days(date.fromisoformat(lodged_on), days)


@lru_cache(maxsize=64)
def _cutoff(today: date, days: int) -> str:
    return earliest_start_not_overdue(today, days).isoformat()


def encode_cursor(lodged_at: str, complaint_id: str) -> str:
    raw = json.dumps([lodged_at, complaint_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """The (lodged_at, complaint_id) of the last row of a page, as this server encoded them."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        lodged_at, complaint_id = _pair(json.loads(raw))
        if datetime.fromisoformat(lodged_at).tzinfo is None:
            raise ValueError("naive time")
        UUID(complaint_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidCursorError("The cursor is not one this server gave out.") from None
    return lodged_at, complaint_id


def _pair(value: object) -> tuple[str, str]:
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise ValueError("not a cursor")
    return value[0], value[1]


def page(
    cursor: Cursor,
    table: str,
    filters: CaseFilter,
    *,
    limit: int,
    after: str | None,
    today: date | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first (by time of receipt), `limit` rows after the cursor, and the next cursor;
    each row with its status as judged `today` (by default the London day now)."""
    today = today or london_today()
    conditions, params = _conditions(filters, today)
    if after is not None:
        lodged_at, complaint_id = decode_cursor(after)
        conditions.append("(lodged_at < ? OR (lodged_at = ? AND complaint_id < ?))")
        params += [lodged_at, lodged_at, complaint_id]
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    cursor.execute(
        f"SELECT {', '.join(COLUMNS)} FROM {table} {where} "
        "ORDER BY lodged_at DESC, complaint_id DESC LIMIT ?",
        [*params, limit + 1],
    )
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in cursor.fetchall()]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1]["lodged_at"], rows[-1]["complaint_id"]) if more else None
    for row in rows:
        row["status"] = shown_status(row, today)
    return rows, next_cursor


def _conditions(filters: CaseFilter, today: date) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    if filters.status is not None:
        condition, values = status_sql(filters.status, today)
        conditions.append(condition)
        params += values
    if filters.handling == "none":
        conditions.append("handling IS NULL")
    elif filters.handling is not None:
        conditions.append("handling = ?")
        params.append(filters.handling)
    for column in ("investigator_id", "subject_kind", "channel"):
        value = getattr(filters, column)
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if filters.lodged_from is not None:
        conditions.append("lodged_on >= ?")
        params.append(filters.lodged_from.isoformat())
    if filters.lodged_to is not None:
        conditions.append("lodged_on <= ?")
        params.append(filters.lodged_to.isoformat())
    return conditions, params


def caseload_summary(cursor: Cursor, table: str, limits: TimeLimits, today: date) -> dict[str, Any]:
    """Each investigator's cases open today; every figure one comparison on a stored day."""
    on = today.isoformat()
    cursor.execute(
        "SELECT investigator_id, MAX(investigator_name), COUNT(*), "
        "SUM(CASE WHEN first_contact_at IS NULL THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN first_contact_at IS NULL AND lodged_on < ? THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {OUTSIDE_OPEN} AND lodged_on < ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN status = 'recorded' AND update_from_on < ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN status = 'recorded' AND lodged_on <= ? THEN 1 ELSE 0 END), "
        "MIN(lodged_on) "
        f"FROM {table} WHERE {OPEN_TODAY} AND investigator_id IS NOT NULL "
        "GROUP BY investigator_id ORDER BY investigator_id",
        [
            _cutoff(today, limits.first_contact_days),
            # Only outside Schedule 3: a recorded complaint has no resolution limit.
            _cutoff(today, limits.resolution_days),
            # Overdue when today is past the due day, `update_every_days` after this one.
            (today - timedelta(days=limits.update_every_days)).isoformat(),
            received_by_for_report(today),
            on,
        ],
    )
    investigators = [
        {
            "investigator_id": row[0],
            "investigator_name": row[1],
            "open": int(row[2]),
            "awaiting_first_contact": int(row[3]),
            "overdue_first_contact": int(row[4]),
            "overdue_resolution": int(row[5]),
            "updates_overdue": int(row[6]),
            "twelve_month_reports_due": int(row[7]),
            "oldest_open_days": (today - date.fromisoformat(row[8])).days,
        }
        for row in cursor.fetchall()
    ]
    cursor.execute(f"SELECT COUNT(*), MIN(lodged_on) FROM {table} WHERE status = 'lodged'")
    count, oldest = cursor.fetchone()
    unassigned = {
        "count": int(count),
        "oldest_days": (today - date.fromisoformat(oldest)).days if oldest else None,
    }
    return {"investigators": investigators, "unassigned": unassigned}


def investigator_cases(
    cursor: Cursor, table: str, investigator_id: str, limits: TimeLimits, today: date
) -> list[dict[str, Any]]:
    cursor.execute(
        f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE {OPEN_TODAY} AND investigator_id = ? "
        "ORDER BY lodged_on, complaint_id",
        [today.isoformat(), investigator_id],
    )
    return [
        case_dates(dict(zip(COLUMNS, values, strict=True)), limits, today)
        for values in cursor.fetchall()
    ]


def case_dates(row: dict[str, Any], limits: TimeLimits, today: date) -> dict[str, Any]:
    """A case row with its status and due dates as judged `today`, under `limits`."""
    status = shown_status(row, today)
    contact_due = due(row["lodged_on"], limits.first_contact_days)
    resolution_due = due(row["lodged_on"], limits.resolution_days)
    update_due = next_update_due(row, status, limits.update_every_days)
    fields = {key: value for key, value in row.items() if key not in _INTERNAL}
    return fields | {
        "status": status,
        "age_days": (today - date.fromisoformat(row["lodged_on"])).days,
        "first_contact_due": contact_due,
        "resolution_due": resolution_due,
        "overdue_first_contact": row["first_contact_at"] is None and contact_due < today,
        # The resolution limit is part A's: for complaints handled outside Schedule 3 only.
        "overdue_resolution": status in ("lodged", "assigned", "in_contact")
        and resolution_due < today,
        "next_update_due": update_due,
        "update_overdue": update_due is not None and update_due < today,
        **report_fields(row, status, today),
    }
