"""Records management reads: the retention schedule and subject access (docs/API.md).

The records manager's decisions (retention reviews, erasure, restriction) are commands, in
`commands.py`. Subject access takes what it searches for in a body, never the URL, so that no
searched value lands in the access log or a proxy's log: the log records the search only.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, model_validator

from api.eventstore import blind_index
from api.http.auth import Principal, Role
from api.http.deps import ComplaintsDep, role
from api.http.problems import problem_responses
from api.http.routes.audit import record_access
from api.http.routes.read_models import (
    POSITIONED,
    IsoDate,
    MinPosition,
    WaitMs,
    caught_up,
    request_today,
)
from domain.personal_data import Part
from domain.values import PlausibleDate, ShortText, Status

router = APIRouter(tags=["records management"])
RecordsManager = Annotated[Principal, role(Role.RECORDS_MANAGER)]


class RetentionDueItem(BaseModel):
    complaint_id: UUID
    reference: str
    status: Status
    final_on: date
    due_on: date
    last_review_on: date | None


class RetentionDuePage(BaseModel):
    items: list[RetentionDueItem]
    next_cursor: str | None


@router.get(
    "/retention/due",
    response_model=RetentionDuePage,
    responses={**POSITIONED, **problem_responses(400, 422)},
    summary="Final complaints due for retention review and not erased; no personal data",
)
def retention_due(
    request: Request,
    response: Response,
    _: RecordsManager,
    as_of: IsoDate | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    min_position: MinPosition = None,
    wait_ms: WaitMs = 2000,
) -> RetentionDuePage:
    models = caught_up(request, response, "retention", min_position, wait_ms)
    items, next_cursor = models.retention_due(
        as_of=as_of or request_today(request),
        years=request.app.state.settings.retention_years,
        limit=limit,
        after=cursor,
    )
    return RetentionDuePage(
        items=[RetentionDueItem.model_validate(item) for item in items], next_cursor=next_cursor
    )


class SubjectAccessSearch(BaseModel):
    """One of: an email; a phone number; a name with a date of birth."""

    model_config = ConfigDict(extra="forbid")
    email: ShortText | None = None
    phone: ShortText | None = None
    name: ShortText | None = None
    date_of_birth: PlausibleDate | None = None

    @model_validator(mode="after")
    def _one_way(self) -> SubjectAccessSearch:
        ways = [self.email is not None, self.phone is not None, self.name is not None]
        if sum(ways) != 1:
            raise ValueError("give exactly one of email, phone, or name with date_of_birth")
        if (self.name is None) != (self.date_of_birth is None):
            raise ValueError("a name is searched for with its date_of_birth")
        return self

    def digest(self, index_key: bytes) -> str:
        if self.email is not None:
            return blind_index.email_digest(index_key, self.email)
        if self.phone is not None:
            return blind_index.phone_digest(index_key, self.phone)
        assert self.name is not None
        assert self.date_of_birth is not None
        return blind_index.name_digest(index_key, self.name, self.date_of_birth)


class SubjectAccessItem(BaseModel):
    complaint_id: UUID
    reference: str
    status: Status
    appears_as: Literal["complainant", "on_behalf_of"]


class SubjectAccessResult(BaseModel):
    items: list[SubjectAccessItem]


@router.post(
    "/subject-access",
    response_model=SubjectAccessResult,
    responses=problem_responses(400, 422),
    summary="Every complaint a person appears in, found by keyed hashes (a blind index)",
)
def subject_access(
    search: SubjectAccessSearch,
    request: Request,
    principal: RecordsManager,
    complaints: ComplaintsDep,
) -> SubjectAccessResult:
    keys = request.app.state.keys
    found = keys.subject_entries([search.digest(keys.index_key)])
    items: list[dict[str, Any]] = []
    for complaint_id, appears_as in found:
        complaint = complaints.get_complaint(UUID(complaint_id))
        erased = complaint.erased["parts"] if complaint.erased else []
        if Part.COMPLAINANT.value in erased:  # its entries went with the keys; belt and braces
            continue
        items.append(
            {
                "complaint_id": complaint.id,
                "reference": complaint.reference,
                "status": complaint.status,
                "appears_as": appears_as,
            }
        )
    record_access(request, principal, "subject_access", None)
    return SubjectAccessResult(items=[SubjectAccessItem.model_validate(i) for i in items])
