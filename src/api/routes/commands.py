"""Commands: each route maps a request to one call of the application service.

Every command honours `If-Match` (a stale version is 412) and `Idempotency-Key` (a retry gets
the first answer; see `api.idempotency`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import PersistenceError
from fastapi import APIRouter, Body, Request, status
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from api import openapi
from api.auth import Principal, Role
from api.deps import ComplaintsDep, ExpectedVersionDep, IdempotencyKeyDep, role
from api.idempotency import (
    Claim,
    ClaimLostError,
    Completion,
    IdempotencyKeys,
    Remembered,
    request_hash,
)
from api.problems import PROBLEM_MEDIA_TYPE, ProblemError, domain_problem, problem_responses
from api.schemas import CommandResultOut, command_result_out
from domain.complaint import Complaint
from domain.errors import ConcurrentModificationError, DomainError
from domain.service import Complaints, Recorded
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
Command = Callable[[Completion | None], Recorded]
COMMAND_ERRORS = problem_responses(400, 404, 409, 412, 422)


def _answered(links: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """A command's 200 with its headers and what may follow it, and its problem responses."""
    return {200: {"headers": openapi.ETAG, "links": links}, **COMMAND_ERRORS}


def _actor(principal: Principal) -> Actor:
    return Actor(id=principal.id, name=principal.name)


def _answer(complaint: Complaint, position: int, status_code: int) -> JSONResponse:
    headers = {"ETag": f'"{complaint.version}"'}
    if status_code == status.HTTP_201_CREATED:
        headers["Location"] = f"/complaints/{complaint.id}"
    body = command_result_out(complaint, position).model_dump(mode="json")
    return JSONResponse(body, status_code=status_code, headers=headers)


def _replay(first: Remembered, complaints: Complaints) -> Response:
    if first.status >= 400 or first.complaint_id is None:
        return Response(first.body, status_code=first.status, media_type=PROBLEM_MEDIA_TYPE)
    assert first.version is not None
    assert first.position is not None
    complaint = complaints.get_complaint(UUID(first.complaint_id), version=first.version)
    return _answer(complaint, first.position, first.status)


def _run(
    request: Request,
    principal: Principal,
    body: BaseModel,
    key: str | None,
    status_code: int,
    command: Command,
) -> Response:
    """Runs the command once per Idempotency-Key (or plainly, without one)."""
    complaints: Complaints = request.app.state.complaints
    if key is None:
        recorded = command(None)
        return _answer(recorded.complaint, recorded.position, status_code)
    keys: IdempotencyKeys = request.app.state.idempotency
    fingerprint = request_hash(
        request.method,
        request.url.path,
        [body.model_dump(mode="json"), request.headers.get("if-match")],
    )
    claim = keys.claim(principal.id, key, fingerprint)
    if isinstance(claim, Remembered):
        request.state.replayed = True
        return _replay(claim, complaints)
    return _run_claimed(keys, claim, status_code, command)


def _run_claimed(
    keys: IdempotencyKeys, claim: Claim, status_code: int, command: Command
) -> Response:
    try:
        recorded = command(Completion(claim, status_code))
    except ConcurrentModificationError:
        keys.release(claim)  # a lost race is transient: a retry with this key may succeed
        raise
    except DomainError as error:
        refusal = domain_problem(error)
        keys.remember_refusal(claim, refusal.status_code, bytes(refusal.body).decode())
        return refusal
    except ClaimLostError:
        raise ProblemError(
            409,
            "idempotency-key-in-use",
            "A request with this Idempotency-Key is still running",
            "Another request with this key took over; retry to get its answer.",
            headers={"Retry-After": "1"},
        ) from None
    except (PersistenceError, psycopg.OperationalError, sqlite3.OperationalError):
        # Nothing was recorded. Free the key for the retry without making this answer wait
        # on a store that may be down; if that fails too, the claim goes stale in seconds.
        keys.release_soon(claim)
        raise
    except Exception:
        keys.release(claim)
        raise
    return _answer(recorded.complaint, recorded.position, status_code)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CommandResultOut,
    responses={
        201: {
            "headers": openapi.ETAG | openapi.LOCATION,
            "links": openapi.AFTER_LODGING,
        },
        **problem_responses(400, 409, 422),
    },
    summary="Lodge a complaint",
)
def lodge_complaint(
    body: Annotated[LodgeComplaint, Body(openapi_examples=openapi.LODGING_EXAMPLES)],
    principal: Intake,
    complaints: ComplaintsDep,
    request: Request,
    idempotency_key: IdempotencyKeyDep,
) -> Response:
    return _run(
        request,
        principal,
        body,
        idempotency_key,
        status.HTTP_201_CREATED,
        lambda done: complaints.lodge(body, actor=_actor(principal), record_with=done),
    )


@router.post(
    "/{complaint_id}/redirect",
    response_model=CommandResultOut,
    responses=_answered(openapi.AFTER_THE_END),
    summary="Redirect a complaint that is not the force's to handle",
)
def redirect_complaint(
    complaint_id: UUID,
    body: Annotated[RedirectComplaint, Body(openapi_examples=openapi.REDIRECT_EXAMPLES)],
    principal: Caseworker,
    complaints: ComplaintsDep,
    version: ExpectedVersionDep,
    request: Request,
    idempotency_key: IdempotencyKeyDep,
) -> Response:
    def command(done: Completion | None) -> Recorded:
        return complaints.redirect(
            complaint_id,
            body,
            actor=_actor(principal),
            expected_version=version,
            record_with=done,
        )

    return _run(request, principal, body, idempotency_key, status.HTTP_200_OK, command)


@router.post(
    "/{complaint_id}/assign",
    response_model=CommandResultOut,
    responses=_answered(openapi.AFTER_ASSIGNMENT),
    summary="Assign or reassign an investigating officer",
)
def assign_investigator(
    complaint_id: UUID,
    body: Annotated[AssignInvestigator, Body(openapi_examples=openapi.ASSIGNMENT_EXAMPLES)],
    principal: Supervisor,
    complaints: ComplaintsDep,
    version: ExpectedVersionDep,
    request: Request,
    idempotency_key: IdempotencyKeyDep,
) -> Response:
    def command(done: Completion | None) -> Recorded:
        return complaints.assign(
            complaint_id,
            body,
            actor=_actor(principal),
            expected_version=version,
            record_with=done,
        )

    return _run(request, principal, body, idempotency_key, status.HTTP_200_OK, command)


@router.post(
    "/{complaint_id}/contacts",
    response_model=CommandResultOut,
    responses=_answered(openapi.AFTER_CONTACT),
    summary="Record contact with the complainant",
)
def record_contact(
    complaint_id: UUID,
    body: Annotated[RecordContact, Body(openapi_examples=openapi.CONTACT_EXAMPLES)],
    principal: Caseworker,
    complaints: ComplaintsDep,
    version: ExpectedVersionDep,
    request: Request,
    idempotency_key: IdempotencyKeyDep,
) -> Response:
    def command(done: Completion | None) -> Recorded:
        return complaints.record_contact(
            complaint_id,
            body,
            actor=_actor(principal),
            supervisor=principal.has(Role.SUPERVISOR),
            expected_version=version,
            record_with=done,
        )

    return _run(request, principal, body, idempotency_key, status.HTTP_200_OK, command)


@router.post(
    "/{complaint_id}/resolve",
    response_model=CommandResultOut,
    responses=_answered(openapi.AFTER_THE_END),
    summary="Resolve a complaint with the complainant",
)
def resolve_complaint(
    complaint_id: UUID,
    body: Annotated[ResolveComplaint, Body(openapi_examples=openapi.RESOLUTION_EXAMPLES)],
    principal: Caseworker,
    complaints: ComplaintsDep,
    version: ExpectedVersionDep,
    request: Request,
    idempotency_key: IdempotencyKeyDep,
) -> Response:
    def command(done: Completion | None) -> Recorded:
        return complaints.resolve(
            complaint_id,
            body,
            actor=_actor(principal),
            supervisor=principal.has(Role.SUPERVISOR),
            expected_version=version,
            record_with=done,
        )

    return _run(request, principal, body, idempotency_key, status.HTTP_200_OK, command)
