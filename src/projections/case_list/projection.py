"""The case list: one row per complaint, what `GET /complaints` filters, orders and shows.

It copies no personal data of the complainant or the subject (docs/DOMAIN.md "Personal data":
read models copy only what their readers must see); investigators' identities are stored for
caseworkers and left out of what analysts get.

The statutory process (part B) adds the handling decision, the review deadline and the day
progress updates count from. A notified outcome becomes `finalised` when its deadline passes,
with no event: the row keeps `outcome_notified` and its deadline, and the queries judge it on
the day of asking (`queries.status_sql`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from domain.complaint import Complaint
from domain.statutory_events import (
    ComplaintWithdrawn,
    HandlingDecided,
    OutcomeNotified,
    ProgressUpdateSent,
    ReviewDecided,
    ReviewRequested,
)
from domain.statutory_values import HandlingMode
from projections.base import (
    Index,
    Projection,
    complaint_key,
    day,
    load_rows,
    moment,
    unapplied,
    upsert_rows,
)
from projections.store import Cursor

COLUMNS = (
    "complaint_id",
    "reference",
    "status",
    "subject_kind",
    "channel",
    "standing",
    "on_behalf_basis",
    "late",
    "lodged_at",
    "lodged_on",
    "investigator_id",
    "investigator_name",
    "assigned_at",
    "first_contact_at",
    "resolved_at",
    "redirected_at",
    "outcome",
    "redirect_destination",
    "handling",
    "recorded_at",
    "outcome_notified_at",
    "review_deadline",
    "update_from_on",
    "withdrawn_at",
    "finalised_at",
    "version",
)

# Handled outside Schedule 3 (decided so, or by default): part A's open statuses.
OUTSIDE_OPEN = "status IN ('lodged', 'assigned', 'in_contact')"
# Open whatever the day; and notified outcomes, open until their review deadline passes. Apart,
# so that the caseload reads only the notified outcomes still in time through an index on the
# deadline: every notified outcome ever stays `outcome_notified` in its row, and reading them
# all to drop the lapsed made the caseload ten times slower at a million events than at 10k.
ACTIVE = "status IN ('lodged', 'assigned', 'in_contact', 'recorded', 'under_review')"
NOTIFIED = "status = 'outcome_notified'"


class CaseList(Projection):
    name = "case_list"
    tables: ClassVar[dict[str, str]] = {
        "case_list": (
            "complaint_id TEXT PRIMARY KEY, reference TEXT NOT NULL, status TEXT NOT NULL, "
            "subject_kind TEXT NOT NULL, channel TEXT NOT NULL, standing TEXT NOT NULL, "
            "on_behalf_basis TEXT NOT NULL, late INTEGER NOT NULL, lodged_at TEXT NOT NULL, "
            "lodged_on TEXT NOT NULL, investigator_id TEXT, investigator_name TEXT, "
            "assigned_at TEXT, first_contact_at TEXT, resolved_at TEXT, redirected_at TEXT, "
            "outcome TEXT, redirect_destination TEXT, handling TEXT, recorded_at TEXT, "
            "outcome_notified_at TEXT, review_deadline TEXT, update_from_on TEXT, "
            "withdrawn_at TEXT, finalised_at TEXT, version INTEGER NOT NULL"
        )
    }
    indexes = (
        Index("case_list", "newest", "lodged_at DESC, complaint_id DESC"),
        Index("case_list", "status", "status, lodged_at DESC, complaint_id DESC"),
        Index("case_list", "handling", "handling, lodged_at DESC, complaint_id DESC"),
        Index("case_list", "investigator", "investigator_id, lodged_at DESC, complaint_id DESC"),
        Index("case_list", "active", "investigator_id, lodged_on", where=ACTIVE),
        Index("case_list", "notified", "review_deadline, investigator_id", where=NOTIFIED),
    )

    def process(self, cursor: Cursor, events: Sequence[Complaint.Event]) -> None:
        table = self.table["case_list"]
        rows = load_rows(cursor, table, COLUMNS, events)
        for row, event in unapplied(rows, events, _lodged_row):
            _apply(row, event)
        upsert_rows(cursor, table, COLUMNS, list(rows.values()))


def _lodged_row(event: Complaint.Lodged) -> dict[str, Any]:
    on_behalf = event.on_behalf_of
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row |= {
        "complaint_id": complaint_key(event),
        "reference": event.reference,
        "status": "lodged",
        "subject_kind": event.subject["kind"],
        "channel": event.channel,
        "standing": event.standing,
        "on_behalf_basis": on_behalf["basis"] if on_behalf else "none",
        "late": int(event.late),
        "lodged_at": moment(event.received_at),
        "lodged_on": day(event.received_at),
        "version": event.originator_version,
    }
    return row


def _apply(row: dict[str, Any], event: Complaint.Event) -> None:
    if isinstance(event, Complaint.InvestigatorAssigned):
        row["investigator_id"] = event.investigator_id
        row["investigator_name"] = event.investigator_name
        if row["status"] == "lodged":
            row["status"] = "assigned"
            row["assigned_at"] = moment(event.occurred_at)
    elif isinstance(event, Complaint.ComplainantContacted):
        # A recorded complaint stays recorded through further contacts (part B).
        if row["status"] in ("assigned", "in_contact"):
            row["status"] = "in_contact"
        contacted = moment(event.occurred_at)
        if row["first_contact_at"] is None or contacted < row["first_contact_at"]:
            row["first_contact_at"] = contacted
    elif isinstance(event, Complaint.Resolved):
        row["status"] = "resolved"
        row["resolved_at"] = moment(event.occurred_at)
        row["outcome"] = event.outcome
    elif isinstance(event, Complaint.Redirected):
        row["status"] = "redirected"
        row["redirected_at"] = moment(event.occurred_at)
        row["redirect_destination"] = event.destination
    else:
        _apply_statutory(row, event)


def _apply_statutory(row: dict[str, Any], event: Complaint.Event) -> None:
    """Part B, as `domain.statutory_events` changes the aggregate's status and update day."""
    if isinstance(event, HandlingDecided):
        row["handling"] = event.mode
        if event.mode == HandlingMode.SCHEDULE_3:
            row["status"] = "recorded"
            row["recorded_at"] = moment(event.occurred_at)
            row["update_from_on"] = day(event.occurred_at)
    elif isinstance(event, ProgressUpdateSent):
        # An update dated before the latest one does not move the next one's day.
        sent = day(event.occurred_at)
        row["update_from_on"] = max(row["update_from_on"] or sent, sent)
    elif isinstance(event, OutcomeNotified):
        row["status"] = "outcome_notified"
        row["outcome_notified_at"] = moment(event.occurred_at)
        row["review_deadline"] = event.review_deadline.isoformat()
    elif isinstance(event, ReviewRequested):
        row["status"] = "under_review"
    elif isinstance(event, ReviewDecided):
        if event.reasonable_and_proportionate:
            row["status"] = "finalised"
            row["finalised_at"] = moment(event.occurred_at)
        else:  # reopened: investigated again, updates due again from the decision
            row["status"] = "recorded"
            row["update_from_on"] = day(event.occurred_at)
    elif isinstance(event, ComplaintWithdrawn):
        row["status"] = "withdrawn"
        row["withdrawn_at"] = moment(event.occurred_at)
