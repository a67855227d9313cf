"""`complaints seed` writes only histories that the API itself would have accepted.

The seeder builds histories through the aggregate at simulated times, so a wrong simulated time
would slip past the rules unseen. Here every seeded history is read back and played again, step
by step, as a client backdating each step would send it: each step names its `occurred_at`,
and the aggregate checks it against the receipt and the real now.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from api.app import build_complaints
from api.cli.seed import SUPERVISOR, seed
from api.settings import Settings
from domain.complaint import Complaint, complaint_id_for
from domain.rules import local_date
from domain.service import Complaints, HistoryEntry
from domain.statutory_values import (
    AddAllegation,
    DecideHandling,
    DecideReview,
    NotifyOutcome,
    RecordIopcDetermination,
    ReferToIopc,
    RequestReview,
    SendProgressUpdate,
    StatutoryChange,
    WithdrawComplaint,
)
from domain.values import (
    Actor,
    AssignInvestigator,
    LodgeComplaint,
    RecordContact,
    RedirectComplaint,
    ResolveComplaint,
)

UNTIL = date(2025, 6, 27)  # a Friday
# Midday on the last day of receipt: that day's complaints are still being worked, so steps
# that would fall after now must not be taken, and some receipts are clamped to now itself.
NOW = datetime(2025, 6, 27, 12, 0, tzinfo=UTC)
CASES = 600
# Received up to five months before now as well, so that Schedule 3 complaints have had the time
# to reach every step of part B: outcomes, reviews, decisions and reopenings.
EARLIER, EARLIER_UNTIL = 1500, date(2025, 1, 31)


def seeded_store(path: Path, cases: int, **settings: Any) -> Complaints:
    url = f"sqlite:///{path}/seed.db"
    complaints = build_complaints(Settings(_env_file=None, database_url=url, **settings))
    seed(complaints, cases=cases, seed_value=7, until=UNTIL, now=NOW, batch=250)
    return complaints


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Complaints]:
    complaints = seeded_store(tmp_path_factory.mktemp("seed"), CASES)
    seed(complaints, cases=EARLIER, seed_value=8, until=EARLIER_UNTIL, now=NOW, batch=250)
    try:
        yield complaints
    finally:
        complaints.close()


def histories(complaints: Complaints) -> list[list[HistoryEntry]]:
    lodged = complaints.recorder.select_notifications(
        start=1, limit=10_000, topics=[Complaint.Lodged.TOPIC]
    )
    return [complaints.history(UUID(str(n.originator_id))) for n in lodged]


def test_every_seeded_step_lies_between_receipt_and_now_in_order(
    seeded: Complaints,
) -> None:
    everything = histories(seeded)
    assert len(everything) == CASES + EARLIER
    for history in everything:
        received, reference = history[0].data["received_at"], history[0].data["reference"]
        assert history[0].type == "ComplaintLodged"
        early = [(e.type, e.occurred_at.isoformat()) for e in history if e.occurred_at < received]
        assert not early, f"{reference} received {received.isoformat()}; before that: {early}"
        late = [(e.type, e.occurred_at.isoformat()) for e in history if e.occurred_at > NOW]
        assert not late, f"{reference}: after now: {late}"
        times = [e.occurred_at for e in history]
        steps = [(e.type, e.occurred_at.isoformat()) for e in history]
        assert times == sorted(times), f"{reference} out of order: {steps}"
    # The mix still has every kind of step, so the checks above are not vacuous.
    types = {entry.type for history in everything for entry in history}
    assert types >= {"InvestigatorAssigned", "ComplainantContacted", "ComplaintResolved"}
    assert "ComplaintRedirected" in types
    assert types >= set(STATUTORY_STEPS), set(STATUTORY_STEPS) - types


def test_seeded_receipts_keep_to_the_earliest_receipt_setting(tmp_path: Path) -> None:
    earliest = date(2025, 6, 23)  # 400 cases at 50 a working day would reach back to the 18th
    complaints = seeded_store(tmp_path, 400, earliest_receipt=earliest)
    try:
        received = [history[0].data["received_at"] for history in histories(complaints)]
    finally:
        complaints.close()
    assert len(received) == 400
    assert min(local_date(moment) for moment in received) >= earliest
    assert max(received) <= NOW


def test_every_seeded_history_passes_the_rules_again(seeded: Complaints) -> None:
    for history in histories(seeded):
        replayed = replay(history)
        stored = seeded.get_complaint(replayed.id)
        assert (replayed.version, replayed.status) == (stored.version, stored.status)


# What a lodging's event holds beyond its command: worked out when it is lodged.
LODGING_DERIVED = (
    "reference",
    "late",
    "sealed_parts",
    "shoulder_number_hash",
    "access_code_hash",
    "access_code",
)


def replay(history: list[HistoryEntry]) -> Complaint:
    """The history's commands again through the aggregate, each step dated explicitly and now
    the real now, as the API takes them: any rule broken raises here."""
    first, *later = history
    lodging = {k: v for k, v in first.data.items() if k not in LODGING_DERIVED}
    complaint = Complaint.lodge(
        reference=first.data["reference"],
        command=LodgeComplaint.model_validate(lodging),
        actor=Actor(**first.actor),
        now=NOW,
    )
    for entry in later:
        step(complaint, entry)
    return complaint


def step(complaint: Complaint, entry: HistoryEntry) -> None:
    actor, data = Actor(**entry.actor), entry.data
    body: dict[str, Any] = {"occurred_at": entry.occurred_at}
    if entry.type in STATUTORY_STEPS:
        command_class, fields = STATUTORY_STEPS[entry.type]
        body |= {k: data[k] for k in fields if k in data}
        statutory = command_class.model_validate(body)
        supervisor = actor.id == SUPERVISOR.id  # as a supervisor's token makes them
        complaint.decide(statutory, actor=actor, supervisor=supervisor, now=NOW)
    elif entry.type == "ComplaintRedirected":
        body |= {k: data[k] for k in ("destination", "force_name", "reason")}
        complaint.redirect_to(RedirectComplaint.model_validate(body), actor=actor, now=NOW)
    elif entry.type == "InvestigatorAssigned":
        body |= {k: data[k] for k in ("investigator_id", "investigator_name", "reason")}
        complaint.assign_investigator(AssignInvestigator.model_validate(body), actor=actor, now=NOW)
    elif entry.type == "ComplainantContacted":
        body |= {k: data[k] for k in ("method", "summary", "wants_recording") if k in data}
        command = RecordContact.model_validate(body)
        complaint.record_contact(command, actor=actor, supervisor=False, now=NOW)
    else:
        assert entry.type == "ComplaintResolved", entry
        body |= {k: data[k] for k in ("outcome", "summary", "learning")}
        command_ = ResolveComplaint.model_validate(body)
        complaint.resolve(command_, actor=actor, supervisor=False, now=NOW)
    # What the event worked out (an allegation's id, the grounds, the review deadline and
    # body) is worked out the same way again.
    replayed = vars(complaint.pending_events[-1])
    assert {key: replayed[key] for key in data} == data, entry


# Each statutory event and the fields of its command (docs/DOMAIN.md part B; the rest of an
# event's data is worked out by the complaint).
STATUTORY_STEPS: dict[str, tuple[type[StatutoryChange], tuple[str, ...]]] = {
    "AllegationAdded": (AddAllegation, ("category", "subcategory", "description", "flags")),
    "HandlingDecided": (DecideHandling, ("mode", "reason")),
    "ReferredToIopc": (ReferToIopc, ("grounds", "iopc_reference")),
    "IopcDetermined": (RecordIopcDetermination, ("mode", "iopc_reference")),
    "ProgressUpdateSent": (SendProgressUpdate, ("method", "summary")),
    "OutcomeNotified": (NotifyOutcome, ("allegations", "actions", "summary", "learning")),
    "ReviewRequested": (RequestReview, ("received_at", "grounds", "late_reason")),
    "ReviewDecided": (DecideReview, ("reasonable_and_proportionate", "recommendations")),
    "ComplaintWithdrawn": (WithdrawComplaint, ("signed_by", "signed_on", "scope")),
}


def test_the_most_recent_complaints_are_still_open(seeded: Complaints) -> None:
    everything = histories(seeded)
    status = {h[0].data["reference"]: status_at_now(seeded, h) for h in everything}
    last_day = [
        h[0].data["reference"] for h in everything if h[0].data["received_at"].date() == UNTIL
    ]
    assert last_day
    assert {status[reference] for reference in last_day} <= {"lodged", "assigned"}
    # Schedule 3 complaints are open at each of its stages, as well as settled.
    assert set(status.values()) >= {"recorded", "outcome_notified", "under_review", "finalised"}


def status_at_now(complaints: Complaints, history: list[HistoryEntry]) -> str:
    complaint = complaints.get_complaint(complaint_id_for(history[0].data["reference"]))
    return complaint.status_at(NOW).value


def test_every_seeded_complaint_is_sealed_and_reads_in_clear(seeded: Complaints) -> None:
    lodged = seeded.recorder.select_notifications(
        start=1, limit=10_000, topics=[Complaint.Lodged.TOPIC]
    )
    assert len(lodged) == CASES + EARLIER
    for notification in lodged:
        stored = json.loads(notification.state)
        assert stored["sealed_parts"] == ["complainant", "subject", "narrative"]
        assert set(stored["complainant"]) == {"$sealed"}
        assert set(stored["description"]) == {"$sealed"}
    complaint = seeded.get_complaint(UUID(str(lodged[0].originator_id)))
    assert complaint.lodged["complainant"]["name"]
