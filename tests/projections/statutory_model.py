"""What the read models must say of complaints, worked out from their histories alone.

A history is what `GET /complaints/{id}/history` returns: its events, oldest first, with their
docs/DOMAIN.md names and data. Nothing here imports the code under test (the month arithmetic
of rule 20 is written again, by brute force); the calendar is `model`'s.
"""

from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from tests.projections.model import in_range, instant, london_day, summary, working_days

History = list[dict[str, Any]]
PART_A_OPEN = ("lodged", "assigned", "in_contact")
OPEN = (*PART_A_OPEN, "recorded", "outcome_notified", "under_review")
LEARNING = (
    "subject_kind",
    "behaviour",
    "standing",
    "channel",
    "on_behalf_basis",
    "redirect_destination",
    "outcome",
    "learning_theme",
    "month",
    "handling",
    "allegation_category",
    "allegation_outcome",
    "iopc_referred",
    "review_result",
)
MANDATORY = {
    "death_or_serious_injury",
    "serious_assault",
    "serious_sexual_offence",
    "serious_corruption",
    "discrimination",
}


@dataclass
class Folded:
    """One complaint as its history leaves it (statuses as stored, before the clock)."""

    lodged: dict[str, Any]
    status: str = "lodged"
    investigator: tuple[str, str] | None = None
    contacted: bool = False
    handling: str | None = None
    deadline: date | None = None
    update_from: date | None = None
    first_notified: date | None = None
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    notified: list[tuple[str, str]] = field(default_factory=list)

    @property
    def lodged_on(self) -> date:
        return london_day(instant(self.lodged["received_at"]))

    def status_on(self, today: date) -> str:
        if self.status == "outcome_notified" and self.deadline and today > self.deadline:
            return "finalised"
        return self.status


def fold(history: History) -> Folded:
    lodged, *later = history
    assert lodged["type"] == "ComplaintLodged"
    case = Folded(lodged["data"])
    for event in later:
        _apply(case, event["type"], event["data"], london_day(instant(event["occurred_at"])))
    return case


def _apply(case: Folded, kind: str, data: dict[str, Any], on: date) -> None:
    if kind == "InvestigatorAssigned":
        case.investigator = (data["investigator_id"], data["investigator_name"])
        case.status = "assigned" if case.status == "lodged" else case.status
    elif kind == "ComplainantContacted":
        case.contacted = True
        case.status = "in_contact" if case.status in ("assigned", "in_contact") else case.status
    elif kind == "ComplaintResolved":
        case.status = "resolved"
        case.counts["outcome", data["outcome"]] += 1
        case.counts.update(("learning_theme", t) for t in {p["theme"] for p in data["learning"]})
    elif kind == "ComplaintRedirected":
        case.status = "redirected"
        case.counts["redirect_destination", data["destination"]] += 1
    elif kind == "HandlingDecided":
        case.handling = data["mode"]
        if data["mode"] == "schedule_3":
            case.status, case.update_from = "recorded", on
    elif kind == "AllegationAdded":
        case.counts["allegation_category", data["category"]] += 1
    elif kind == "ReferredToIopc":
        grounds = "mandatory" if set(data["grounds"]) & MANDATORY else "voluntary"
        case.counts["iopc_referred", grounds] += 1
    elif kind == "ProgressUpdateSent":
        case.update_from = max(case.update_from or on, on)
    elif kind == "OutcomeNotified":
        case.status, case.deadline = "outcome_notified", date.fromisoformat(data["review_deadline"])
        case.first_notified = case.first_notified or on
        themes = {("learning_theme", p["theme"]) for p in data["learning"]}
        case.notified = [("allegation_outcome", a["outcome"]) for a in data["allegations"]]
        case.notified += sorted(themes)
    elif kind == "ReviewRequested":
        case.status = "under_review"
    elif kind == "ReviewDecided":
        fair = data["reasonable_and_proportionate"]
        case.counts["review_result", ("" if fair else "not_") + "reasonable_and_proportionate"] += 1
        case.status = "finalised" if fair else "recorded"
        case.update_from = case.update_from if fair else on
    elif kind == "ComplaintWithdrawn":
        case.status = "withdrawn"


def learning(cases: list[Folded], lodged_from: date | None, lodged_to: date | None) -> Any:
    counts: dict[str, Counter[str]] = {name: Counter() for name in LEARNING}
    chosen = [case for case in cases if in_range(case, lodged_from, lodged_to)]  # type: ignore[arg-type]
    for case in chosen:
        body = case.lodged
        counts["subject_kind"][body["subject"]["kind"]] += 1
        counts["behaviour"].update(set(body["behaviours"]))
        counts["standing"][body["standing"]] += 1
        counts["channel"][body["channel"]] += 1
        other = body.get("on_behalf_of")
        counts["on_behalf_basis"][other["basis"] if other else "none"] += 1
        counts["month"][case.lodged_on.isoformat()[:7]] += 1
        if case.handling:
            counts["handling"][case.handling] += 1
        for (dimension, value), n in (case.counts + Counter(case.notified)).items():
            counts[dimension][value] += n
    figures: dict[str, Any] = {name: dict(counter) for name, counter in counts.items()}
    figures["total"] = len(chosen)
    figures["late"] = sum(bool(case.lodged["late"]) for case in chosen)
    return figures


def to_outcome_notified(cases: list[Folded]) -> dict[str, Any]:
    ends = [(case.lodged_on, case.first_notified) for case in cases if case.first_notified]
    return {
        "count": len(ends),
        "working_days": summary([working_days(start, end) for start, end in ends]),
        "calendar_days": summary([(end - start).days for start, end in ends]),
    }


def plus_months(day: date, months: int) -> date:
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def reports_fallen_due(received_on: date, today: date) -> list[date]:
    """Rule 20: twelve months from receipt, then every six, up to today."""
    return [due for n in range(40) if (due := plus_months(received_on, 12 + 6 * n)) <= today]


def caseload(cases: list[Folded], today: date, *, every: int = 28) -> Any:
    """The part-B figures of `GET /caseload` (and the open count), by investigator."""
    rows: dict[str, dict[str, int]] = {}
    for case in cases:
        status = case.status_on(today)
        if status not in OPEN or case.investigator is None:
            continue
        row = rows.setdefault(
            case.investigator[0], {"open": 0, "updates_overdue": 0, "twelve_month_reports_due": 0}
        )
        row["open"] += 1
        if status == "recorded":
            assert case.update_from is not None
            row["updates_overdue"] += case.update_from + timedelta(days=every) < today
            row["twelve_month_reports_due"] += bool(reports_fallen_due(case.lodged_on, today))
    return rows


def next_update_due(case: Folded, today: date, every: int = 28) -> date | None:
    if case.status_on(today) != "recorded" or case.update_from is None:
        return None
    return case.update_from + timedelta(days=every)
