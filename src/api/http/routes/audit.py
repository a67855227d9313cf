"""For auditors: hash-chain verification and the access log."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from api.http.auth import Principal, Role
from api.http.deps import ComplaintsDep, role
from api.http.problems import problem_responses
from api.integrity.access_log import AccessLog
from api.integrity.verification import check_complaint, check_log

router = APIRouter(tags=["audit"])
Auditor = Annotated[Principal, role(Role.AUDITOR)]


class ComplaintVerification(BaseModel):
    complaint_id: UUID
    events: int
    valid: bool
    head_hash: str | None
    first_invalid_version: int | None


class LogVerification(BaseModel):
    events_checked: int
    valid: bool
    head_position: int
    head_hash: str | None
    first_invalid_position: int | None


class AccessActor(BaseModel):
    id: str
    name: str
    roles: list[str]


class AccessEntryOut(BaseModel):
    at: str
    actor: AccessActor
    action: str
    path: str
    complaint_id: UUID | None


class AccessLogPage(BaseModel):
    complaint_id: UUID | None
    entries: list[AccessEntryOut]
    next_cursor: str | None


def access_log(request: Request) -> AccessLog:
    log: AccessLog = request.app.state.access_log
    return log


def record_access(
    request: Request, principal: Principal, action: str, complaint_id: UUID | None
) -> None:
    """Writes the access-log entry for a personal-data read, before the response is sent."""
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    access_log(request).record(principal, action, path, complaint_id)


@router.get(
    "/complaints/{complaint_id}/verify",
    response_model=ComplaintVerification,
    responses=problem_responses(404, 422),
    summary="Recompute a complaint's hash chain from its stored events",
)
def verify_complaint(
    complaint_id: UUID, _: Auditor, complaints: ComplaintsDep
) -> ComplaintVerification:
    verdict = check_complaint(complaints, complaint_id)
    return ComplaintVerification(
        complaint_id=complaint_id,
        events=verdict.events,
        valid=verdict.valid,
        head_hash=verdict.head_hash,
        first_invalid_version=verdict.first_invalid_version,
    )


@router.get(
    "/integrity",
    response_model=LogVerification,
    responses=problem_responses(),
    summary="Verify the whole log, streaming, in constant memory",
)
def verify_log(_: Auditor, complaints: ComplaintsDep) -> LogVerification:
    verifier = check_log(complaints)
    return LogVerification(
        events_checked=verifier.events_checked,
        valid=verifier.valid,
        head_position=verifier.head_position,
        head_hash=verifier.head_hash.hex() if verifier.head_hash else None,
        first_invalid_position=verifier.first_invalid_position,
    )


def _page(
    request: Request, complaint_id: UUID | None, limit: int, cursor: str | None
) -> AccessLogPage:
    entries, next_cursor = access_log(request).page(complaint_id, cursor=cursor, limit=limit)
    return AccessLogPage(
        complaint_id=complaint_id,
        entries=[AccessEntryOut.model_validate(entry, from_attributes=True) for entry in entries],
        next_cursor=next_cursor,
    )


Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=512)]


@router.get(
    "/complaints/{complaint_id}/access-log",
    response_model=AccessLogPage,
    responses=problem_responses(400, 422),
    summary="Who has read this complaint's personal data, oldest first",
)
def complaint_access_log(
    complaint_id: UUID,
    request: Request,
    principal: Auditor,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> AccessLogPage:
    page = _page(request, complaint_id, limit, cursor)
    record_access(request, principal, "read_access_log", complaint_id)
    return page


@router.get(
    "/access-log",
    response_model=AccessLogPage,
    responses=problem_responses(400, 422),
    summary="Every personal-data read, oldest first (caseload reads included)",
)
def whole_access_log(
    request: Request, principal: Auditor, limit: Limit = 50, cursor: Cursor = None
) -> AccessLogPage:
    page = _page(request, None, limit, cursor)
    record_access(request, principal, "read_access_log", None)
    return page
