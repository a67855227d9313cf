"""An independent model of what the read models must say, computed from the plans a test sent.

Nothing here imports the code under test: the calendar is brute force over a hard-coded list of
England and Wales bank holidays, the figures are plain Python over the plans. Tests compare the
API's answers (and the tables) with this.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.projections.plans import Plan

LONDON = ZoneInfo("Europe/London")
# gov.uk/bank-holidays, England and Wales (weekday substitutes included, weekend days left out).
BANK_HOLIDAYS = frozenset(
    date.fromisoformat(day)
    for day in [
        "2025-01-01",
        "2025-04-18",
        "2025-04-21",
        "2025-05-05",
        "2025-05-26",
        "2025-08-25",
        "2025-12-25",
        "2025-12-26",
        "2026-01-01",
        "2026-04-03",
        "2026-04-06",
        "2026-05-04",
        "2026-05-25",
        "2026-08-31",
        "2026-12-25",
        "2026-12-28",
        "2027-01-01",
        "2027-03-26",
        "2027-03-29",
        "2027-05-03",
        "2027-05-31",
        "2027-08-30",
        "2027-12-27",
        "2027-12-28",
    ]
)
FIRST_CONTACT_DAYS = 5
RESOLUTION_DAYS = 20
OPEN = ("lodged", "assigned", "in_contact")


def london_day(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def is_working(day: date) -> bool:
    assert 2025 <= day.year <= 2027, f"no bank holidays listed for {day.year}"
    return day.weekday() < 5 and day not in BANK_HOLIDAYS


def working_days(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`, by walking the calendar."""
    return sum(1 for n in range(1, (end - start).days + 1) if is_working(start + timedelta(n)))


def plus_working_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        days -= is_working(current)
    return current


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Case:
    """One complaint as its plan leaves it."""

    plan: Plan
    status: str = "lodged"
    investigator: tuple[str, str] | None = None
    assigned_at: datetime | None = None
    contacts: list[datetime] = field(default_factory=list)
    resolved_at: datetime | None = None
    redirected_at: datetime | None = None
    destination: str | None = None
    outcome: str | None = None
    themes: frozenset[str] = frozenset()
    version: int = 1

    @property
    def received_at(self) -> datetime:
        return instant(self.plan.body["received_at"])

    @property
    def lodged_on(self) -> date:
        return london_day(self.received_at)

    @property
    def first_contact_at(self) -> datetime | None:
        return min(self.contacts) if self.contacts else None

    @property
    def on_behalf_basis(self) -> str:
        other = self.plan.body.get("on_behalf_of")
        return other["basis"] if other else "none"


def case_of(plan: Plan) -> Case:
    case = Case(plan)
    for step in plan.steps:
        at = instant(step.body["occurred_at"])
        case.version += 1
        if step.action == "assign":
            case.investigator = (step.body["investigator_id"], step.body["investigator_name"])
            if case.status == "lodged":
                case.status, case.assigned_at = "assigned", at
        elif step.action == "contacts":
            case.status = "in_contact"
            case.contacts.append(at)
        elif step.action == "resolve":
            case.status, case.resolved_at = "resolved", at
            case.outcome = step.body["outcome"]
            case.themes = frozenset(point["theme"] for point in step.body["learning"])
        else:
            case.status, case.redirected_at = "redirected", at
            case.destination = step.body["destination"]
    return case


def in_range(case: Case, lodged_from: date | None, lodged_to: date | None) -> bool:
    return (lodged_from is None or case.lodged_on >= lodged_from) and (
        lodged_to is None or case.lodged_on <= lodged_to
    )


def learning(cases: list[Case], lodged_from: date | None, lodged_to: date | None) -> dict[str, Any]:
    counts: dict[str, Counter[str]] = {
        name: Counter()
        for name in [
            "subject_kind",
            "behaviour",
            "standing",
            "channel",
            "on_behalf_basis",
            "redirect_destination",
            "outcome",
            "learning_theme",
            "month",
        ]
    }
    chosen = [case for case in cases if in_range(case, lodged_from, lodged_to)]
    for case in chosen:
        body = case.plan.body
        counts["subject_kind"][body["subject"]["kind"]] += 1
        counts["behaviour"].update(set(body["behaviours"]))
        counts["standing"][body["standing"]] += 1
        counts["channel"][body["channel"]] += 1
        counts["on_behalf_basis"][case.on_behalf_basis] += 1
        counts["month"][case.lodged_on.isoformat()[:7]] += 1
        counts["learning_theme"].update(case.themes)
        if case.destination:
            counts["redirect_destination"][case.destination] += 1
        if case.outcome:
            counts["outcome"][case.outcome] += 1
    figures: dict[str, Any] = {name: dict(counter) for name, counter in counts.items()}
    figures["total"] = len(chosen)
    figures["late"] = sum(case.plan.late for case in chosen)
    return figures


def summary(values: list[int]) -> dict[str, float | None]:
    if not values:
        return {"mean": None, "median": None, "p90": None}
    ordered = sorted(values)
    return {
        "mean": statistics.fmean(values),
        "median": float(statistics.median(values)),
        "p90": float(ordered[math.ceil(0.9 * len(ordered)) - 1]),
    }


def timeliness(
    cases: list[Case], lodged_from: date | None, lodged_to: date | None
) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for measure, attribute in (
        ("lodged_to_assigned", "assigned_at"),
        ("lodged_to_first_contact", "first_contact_at"),
        ("lodged_to_resolved", "resolved_at"),
    ):
        ends = [
            (case.lodged_on, london_day(getattr(case, attribute)))
            for case in cases
            if in_range(case, lodged_from, lodged_to) and getattr(case, attribute) is not None
        ]
        figures[measure] = {
            "count": len(ends),
            "working_days": summary([working_days(start, end) for start, end in ends]),
            "calendar_days": summary([(end - start).days for start, end in ends]),
        }
    return figures


def caseload(cases: list[Case], today: date) -> dict[str, Any]:
    rows: dict[str, dict[str, Any]] = {}
    for case in cases:
        if case.status not in OPEN or case.investigator is None:
            continue
        investigator_id, name = case.investigator
        row = rows.setdefault(
            investigator_id,
            {
                "investigator_id": investigator_id,
                "investigator_name": name,
                "open": 0,
                "awaiting_first_contact": 0,
                "overdue_first_contact": 0,
                "overdue_resolution": 0,
                # Part B's figures: none of these part-A histories is recorded.
                "updates_overdue": 0,
                "twelve_month_reports_due": 0,
                "oldest_open_days": 0,
            },
        )
        row["open"] += 1
        if not case.contacts:
            row["awaiting_first_contact"] += 1
            row["overdue_first_contact"] += contact_due(case) < today
        row["overdue_resolution"] += resolution_due(case) < today
        row["oldest_open_days"] = max(row["oldest_open_days"], (today - case.lodged_on).days)
    waiting = [case.lodged_on for case in cases if case.status == "lodged"]
    return {
        "investigators": [rows[key] for key in sorted(rows)],
        "unassigned": {
            "count": len(waiting),
            "oldest_days": (today - min(waiting)).days if waiting else None,
        },
    }


def contact_due(case: Case) -> date:
    return plus_working_days(case.lodged_on, FIRST_CONTACT_DAYS)


def resolution_due(case: Case) -> date:
    return plus_working_days(case.lodged_on, RESOLUTION_DAYS)
