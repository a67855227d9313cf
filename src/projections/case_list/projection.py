"""The case list: one row per complaint, what `GET /complaints` filters, orders and shows.

It copies no personal data of the complainant or the subject (docs/DOMAIN.md "Personal data":
read models copy only what their readers must see); investigators' identities are stored for
caseworkers and left out of what analysts get.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from domain.complaint import Complaint
from projections.base import Index, Projection, day, load_rows, moment, unapplied, upsert_rows
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
    "version",
)

OPEN = "status IN ('lodged', 'assigned', 'in_contact')"


class CaseList(Projection):
    name = "case_list"
    tables: ClassVar[dict[str, str]] = {
        "case_list": (
            "complaint_id TEXT PRIMARY KEY, reference TEXT NOT NULL, status TEXT NOT NULL, "
            "subject_kind TEXT NOT NULL, channel TEXT NOT NULL, standing TEXT NOT NULL, "
            "on_behalf_basis TEXT NOT NULL, late INTEGER NOT NULL, lodged_at TEXT NOT NULL, "
            "lodged_on TEXT NOT NULL, investigator_id TEXT, investigator_name TEXT, "
            "assigned_at TEXT, first_contact_at TEXT, resolved_at TEXT, redirected_at TEXT, "
            "outcome TEXT, redirect_destination TEXT, version INTEGER NOT NULL"
        )
    }
    indexes = (
        Index("case_list", "newest", "lodged_at DESC, complaint_id DESC"),
        Index("case_list", "status", "status, lodged_at DESC, complaint_id DESC"),
        Index("case_list", "investigator", "investigator_id, lodged_at DESC, complaint_id DESC"),
        Index("case_list", "open", "investigator_id, lodged_on", where=OPEN),
    )

    def process(self, cursor: Cursor, events: Sequence[Complaint.Event]) -> None:
        table = self.table["case_list"]
        rows = load_rows(cursor, table, COLUMNS, [str(e.originator_id) for e in events])
        for row, event in unapplied(rows, events, _lodged_row):
            _apply(row, event)
        upsert_rows(cursor, table, COLUMNS, list(rows.values()))


def _lodged_row(event: Complaint.Lodged) -> dict[str, Any]:
    on_behalf = event.on_behalf_of
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row |= {
        "complaint_id": str(event.originator_id),
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
