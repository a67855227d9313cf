"""A complaint's recorded status after each of its events, event by event.

For readers that follow the log one event at a time (the change feed) rather than replaying a
whole aggregate; it agrees with the events' `apply` methods, which a test checks. The passing
of a notified outcome into `finalised` is no event: `Complaint.status_at` derives it.
"""

from __future__ import annotations

from typing import Any

from domain.complaint import Complaint
from domain.statutory_events import (
    ComplaintWithdrawn,
    HandlingDecided,
    OutcomeNotified,
    ReviewDecided,
    ReviewRequested,
)
from domain.statutory_values import HandlingMode
from domain.values import Status

_STATUS_AFTER: dict[type, Status] = {
    Complaint.Lodged: Status.LODGED,
    Complaint.Resolved: Status.RESOLVED,
    Complaint.Redirected: Status.REDIRECTED,
    OutcomeNotified: Status.OUTCOME_NOTIFIED,
    ReviewRequested: Status.UNDER_REVIEW,
    ComplaintWithdrawn: Status.WITHDRAWN,
}
# A recorded complaint stays recorded through contacts (docs/DOMAIN.md part B).
_BECOME_IN_CONTACT = (Status.ASSIGNED, Status.IN_CONTACT)


def status_after(status: Status | None, event: Any) -> Status | None:
    """The status after `event`, given the status before it (None before the lodging)."""
    if isinstance(event, Complaint.InvestigatorAssigned):
        return Status.ASSIGNED if status is Status.LODGED else status
    if isinstance(event, Complaint.ComplainantContacted):
        return Status.IN_CONTACT if status in _BECOME_IN_CONTACT else status
    if isinstance(event, HandlingDecided):
        return Status.RECORDED if event.mode == HandlingMode.SCHEDULE_3 else status
    if isinstance(event, ReviewDecided):
        return Status.FINALISED if event.reasonable_and_proportionate else Status.RECORDED
    return _STATUS_AFTER.get(type(event), status)  # records events change nothing
