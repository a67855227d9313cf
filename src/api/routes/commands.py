"""Commands: each route maps a request to one call of the application service."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Response, status

from api.auth import Principal, Role
from api.deps import ComplaintsDep, ExpectedVersionDep, role
from api.problems import problem_responses
from api.schemas import CommandResultOut, command_result_out
from domain.service import Recorded
from domain.values import (
    Actor,
    AssignInvestigator,
    LodgeComplaint,
    RecordContact,
    RedirectComplaint,
    ResolveComplaint,
)

router = APIRouter(prefix="/complaints", tags=["commands"])

Intake = Annotated[Principal, role(Role.INTAKE)]
Caseworker = Annotated[Principal, role(Role.CASEWORKER)]
Supervisor = Annotated[Principal, role(Role.SUPERVISOR)]


def _actor(principal: Principal) -> Actor:
    return Actor(id=principal.id, name=principal.name)


def _answer(response: Response, recorded: Recorded) -> CommandResultOut:
    response.headers["ETag"] = f'"{recorded.complaint.version}"'
    return command_result_out(recorded.complaint, recorded.position)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CommandResultOut,
    responses=problem_responses(400, 409, 422),
    summary="Lodge a complaint",
)
def lodge_complaint(
    body: LodgeComplaint, principal: Intake, complaints: ComplaintsDep, response: Response
) -> CommandResultOut:
    recorded = complaints.lodge(body, actor=_actor(principal))
    response.headers["Location"] = f"/complaints/{recorded.complaint.id}"
    return _answer(response, recorded)


@router.post(
    "/{complaint_id}/redirect",
    response_model=CommandResultOut,
    responses=problem_responses(400, 404, 409, 412, 422),
    summary="Redirect a complaint that is not the force's to handle",
)
def redirect_complaint(
    complaint_id: UUID,
    body: RedirectComplaint,
    principal: Caseworker,
    complaints: ComplaintsDep,
    version: ExpectedVersionDep,
    response: Response,
) -> CommandResultOut:
    recorded = complaints.redirect(
        complaint_id, body, actor=_actor(principal), expected_version=version
    )
    return _answer(response, recorded)


@router.post(
    "/{complaint_id}/assign",
    response_model=CommandResultOut,
    responses=problem_responses(400, 404, 409, 412, 422),
    summary="Assign or reassign an investigating officer",
)
def assign_investigator(
    complaint_id: UUID,
    body: AssignInvestigator,
    principal: Supervisor,
    complaints: ComplaintsDep,
    version: ExpectedVersionDep,
    response: Response,
) -> CommandResultOut:
    recorded = complaints.assign(
        complaint_id, body, actor=_actor(principal), expected_version=version
    )
    return _answer(response, recorded)


@router.post(
    "/{complaint_id}/contacts",
    response_model=CommandResultOut,
    responses=problem_responses(400, 404, 409, 412, 422),
    summary="Record contact with the complainant",
)
def record_contact(
    complaint_id: UUID,
    body: RecordContact,
    principal: Caseworker,
    complaints: ComplaintsDep,
    version: ExpectedVersionDep,
    response: Response,
) -> CommandResultOut:
    recorded = complaints.record_contact(
        complaint_id,
        body,
        actor=_actor(principal),
        supervisor=principal.has(Role.SUPERVISOR),
        expected_version=version,
    )
    return _answer(response, recorded)


@router.post(
    "/{complaint_id}/resolve",
    response_model=CommandResultOut,
    responses=problem_responses(400, 404, 409, 412, 422),
    summary="Resolve a complaint with the complainant",
)
def resolve_complaint(
    complaint_id: UUID,
    body: ResolveComplaint,
    principal: Caseworker,
    complaints: ComplaintsDep,
    version: ExpectedVersionDep,
    response: Response,
) -> CommandResultOut:
    recorded = complaints.resolve(
        complaint_id,
        body,
        actor=_actor(principal),
        supervisor=principal.has(Role.SUPERVISOR),
        expected_version=version,
    )
    return _answer(response, recorded)
