"""`status_after` (the change feed's view, event by event) agrees with the aggregate's replay."""

from __future__ import annotations

from datetime import timedelta

from domain.complaint import Complaint
from domain.statuses import status_after
from domain.statutory_values import (
    AddAllegation,
    ComplaintChange,
    DecideHandling,
    DecideReview,
    NotifyOutcome,
    RecordIopcDetermination,
    ReferToIopc,
    RequestReview,
    SendProgressUpdate,
    WithdrawComplaint,
)
from domain.values import AssignInvestigator, RecordContact, Status
from tests.unit.domain.builders import INVESTIGATOR, NOW, SUPERVISOR, lodge_command

OUTCOME = NotifyOutcome.model_validate(
    {"allegations": [{"allegation_id": "A1", "outcome": "upheld"}], "summary": "Upheld."}
)
STEPS: list[ComplaintChange] = [
    AssignInvestigator(investigator_id="inv-0042", investigator_name="DS Ada Lovelace"),
    RecordContact.model_validate({"method": "phone", "summary": "Hi.", "wants_recording": True}),
    AddAllegation.model_validate(
        {"category": "other", "description": "Pushed.", "flags": ["serious_assault"]}
    ),
    DecideHandling.model_validate({"mode": "schedule_3", "reason": "Asked."}),
    RecordContact.model_validate({"method": "email", "summary": "Again."}),
    ReferToIopc(),
    RecordIopcDetermination.model_validate({"mode": "local_investigation"}),
    SendProgressUpdate.model_validate({"method": "letter", "summary": "Progress."}),
    OUTCOME,
    RequestReview(grounds="Unfair."),
    DecideReview(reasonable_and_proportionate=False),
    OUTCOME,
    RequestReview(grounds="Still unfair."),
    DecideReview(reasonable_and_proportionate=True),
]


def _statuses_by_replay(complaint: Complaint) -> list[Status]:
    events = complaint.collect_events()
    replayed: Complaint | None = None
    statuses = []
    for event in events:
        replayed = event.mutate(replayed)
        assert replayed is not None
        statuses.append(replayed.status)
    return statuses


def _folded(complaint: Complaint) -> list[Status | None]:
    status: Status | None = None
    statuses = []
    for event in complaint.collect_events():
        status = status_after(status, event)
        statuses.append(status)
    return statuses


def _worked(steps: list[ComplaintChange]) -> Complaint:
    complaint = Complaint.lodge(
        reference="PC/9/26", command=lodge_command(), actor=SUPERVISOR, now=NOW
    )
    for step in steps:
        complaint.decide(step, actor=INVESTIGATOR, supervisor=True, now=NOW)
    return complaint


WITHDRAWAL = WithdrawComplaint.model_validate(
    {"signed_by": "agent", "signed_on": (NOW - timedelta(hours=1)).date(), "scope": "All."}
)


def test_the_feed_status_follows_every_statutory_event_as_replay_does() -> None:
    full = _statuses_by_replay(_worked(STEPS))
    assert _folded(_worked(STEPS)) == full
    assert full[4:6] == [Status.RECORDED, Status.RECORDED]  # decided, then contacted again
    assert full[-1] is Status.FINALISED
    withdrawn = _statuses_by_replay(_worked([*STEPS[:4], WITHDRAWAL]))
    assert _folded(_worked([*STEPS[:4], WITHDRAWAL])) == withdrawn
    assert withdrawn[-1] is Status.WITHDRAWN
