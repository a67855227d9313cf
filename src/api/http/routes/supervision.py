"""For supervisors: early warning of officers and staff named in many complaints (docs/API.md).

The read model counts people by the keyed hash of their shoulder number, erased complaints
included. The number itself is shown only from the latest counted complaint that is neither
restricted nor has its subject erased, decrypted through the application service; `null` if
there is none. Every read is recorded in the access log.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from api.http.problems import problem_responses
from api.http.routes.audit import record_access
from api.http.routes.read_models import (
    POSITIONED,
    MinPosition,
    Supervisor,
    WaitMs,
    caught_up,
    request_today,
)
from domain.complaint import Complaint
from domain.personal_data import Part
from domain.service import Complaints
from projections.early_warning import months_before

router = APIRouter(tags=["supervision"])
Months = Annotated[
    int,
    Query(ge=1, le=120, description="Complaints received since today less this many months"),
]
Threshold = Annotated[
    int, Query(ge=1, le=1000, description="The fewest complaints that list a person")
]


class EarlyWarningItem(BaseModel):
    shoulder_number: str | None
    complaints: int
    references: list[str]
    latest_received_on: date


class EarlyWarningList(BaseModel):
    items: list[EarlyWarningItem]


@router.get(
    "/early-warning",
    response_model=EarlyWarningList,
    responses={**POSITIONED, **problem_responses(422)},
    summary="Officers and staff named in at least `threshold` complaints in the last months",
)
def early_warning(
    request: Request,
    response: Response,
    principal: Supervisor,
    months: Months = 12,
    threshold: Threshold = 3,
    min_position: MinPosition = None,
    wait_ms: WaitMs = 2000,
) -> EarlyWarningList:
    models = caught_up(request, response, "early_warning", min_position, wait_ms)
    since = months_before(request_today(request), months)
    found = models.early_warnings(since=since, threshold=threshold)
    complaints: Complaints = request.app.state.complaints
    items = [_item(complaints, person) for person in found]
    record_access(request, principal, "read_early_warning", None)
    return EarlyWarningList(items=items)


def _item(complaints: Complaints, person: dict[str, Any]) -> EarlyWarningItem:
    return EarlyWarningItem(
        shoulder_number=_shown_number(complaints, person["candidates"]),
        complaints=person["complaints"],
        references=person["references"],
        latest_received_on=person["latest_received_on"],
    )


def _shown_number(complaints: Complaints, candidates: list[str]) -> str | None:
    """The number as written in the newest candidate still visible when read now: the read
    model may lag a restriction or an erasure, the complaint itself does not."""
    for complaint_id in candidates:
        complaint = complaints.get_complaint(UUID(complaint_id))
        number = complaint.lodged["subject"].get("shoulder_number")
        if _visible(complaint) and isinstance(number, str):
            return number
    return None


def _visible(complaint: Complaint) -> bool:
    erased = complaint.erased["parts"] if complaint.erased else []
    return complaint.restricted is None and Part.SUBJECT.value not in erased
