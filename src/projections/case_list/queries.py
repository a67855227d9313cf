"""Queries over the case list: pages of cases, and caseloads judged at the time of asking.

Due dates are not stored: they follow from the day of receipt and the configured limits, so a
change of limits needs no rebuild, and "overdue" is always as of today. Deadlines only move
forward with the day of receipt, so "overdue" is one comparison on an indexed column.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from projections.calendar import add_working_days, earliest_start_not_overdue
from projections.case_list.projection import COLUMNS, OPEN
from projections.store import Cursor


class InvalidCursorError(ValueError):
    pass


@dataclass(frozen=True)
class TimeLimits:
    first_contact_days: int
    resolution_days: int


@dataclass(frozen=True)
class CaseFilter:
    status: str | None = None
    investigator_id: str | None = None
    subject_kind: str | None = None
    channel: str | None = None
    lodged_from: date | None = None
    lodged_to: date | None = None


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
) -> tuple[list[dict[str, Any]], str | None]:
    """Newest first (by time of receipt), `limit` rows after the cursor, and the next cursor."""
    conditions, params = _conditions(filters)
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
    return rows, next_cursor


def _conditions(filters: CaseFilter) -> tuple[list[str], list[Any]]:
    conditions: list[str] = []
    params: list[Any] = []
    for column in ("status", "investigator_id", "subject_kind", "channel"):
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
    first_contact_cutoff = _cutoff(today, limits.first_contact_days)
    resolution_cutoff = _cutoff(today, limits.resolution_days)
    cursor.execute(
        "SELECT investigator_id, MAX(investigator_name), COUNT(*), "
        "SUM(CASE WHEN first_contact_at IS NULL THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN first_contact_at IS NULL AND lodged_on < ? THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN lodged_on < ? THEN 1 ELSE 0 END), MIN(lodged_on) "
        f"FROM {table} WHERE {OPEN} AND investigator_id IS NOT NULL "
        "GROUP BY investigator_id ORDER BY investigator_id",
        [first_contact_cutoff, resolution_cutoff],
    )
    investigators = [
        {
            "investigator_id": row[0],
            "investigator_name": row[1],
            "open": int(row[2]),
            "awaiting_first_contact": int(row[3]),
            "overdue_first_contact": int(row[4]),
            "overdue_resolution": int(row[5]),
            "oldest_open_days": (today - date.fromisoformat(row[6])).days,
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
        f"SELECT {', '.join(COLUMNS)} FROM {table} WHERE {OPEN} AND investigator_id = ? "
        "ORDER BY lodged_on, complaint_id",
        [investigator_id],
    )
    cases = []
    for values in cursor.fetchall():
        row = dict(zip(COLUMNS, values, strict=True))
        contact_due = due(row["lodged_on"], limits.first_contact_days)
        resolution_due = due(row["lodged_on"], limits.resolution_days)
        cases.append(
            row
            | {
                "age_days": (today - date.fromisoformat(row["lodged_on"])).days,
                "first_contact_due": contact_due,
                "resolution_due": resolution_due,
                "overdue_first_contact": row["first_contact_at"] is None and contact_due < today,
                "overdue_resolution": resolution_due < today,
            }
        )
    return cases
