"""Commands: each route maps a request to one call of the application service.

Every command honours `If-Match` (a stale version is 412) and `Idempotency-Key` (a retry gets
the first answer; see `api.eventstore.keyed_commands`). The four commands on an existing
complaint are one shape, built by `_command_route`; only their body, role and links differ.
"""

# No `from __future__ import annotations` here: the routes built by `_command_route` take their
# parameter types from its arguments, and FastAPI reads them from the signature as objects.

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Request, status
from fastapi.openapi.models import Example
from fastapi.responses import Response
from pydantic import BaseModel

from api.eventstore.idempotency import Completion, request_hash
from api.eventstore.keyed_commands import Answer, KeyedCommands, KeyedRequest, Refused
from api.http import openapi
from api.http.auth import Principal, Role
from api.http.deps import ComplaintsDep, ExpectedVersionDep, IdempotencyKeyDep, role
from api.http.permissions import sees_personal_data
from api.http.problems import PROBLEM_MEDIA_TYPE, domain_problem, problem_responses
from api.http.responses import json_answer
from api.http.schemas import CommandResultOut, LodgedOut, command_result_out, complaint_fields
from domain.errors import DomainError
from domain.service import Recorded
from domain.statutory_values import (
    AddAllegation,
    DecideHandling,
    DecideReview,
    NotifyOutcome,
    RecordIopcDetermination,
    ReferToIopc,
    RequestReview,
    SendProgressUpdate,
    WithdrawComplaint,
)
from domain.values import (
    Actor,
    AssignInvestigator,
    ErasePersonalData,
    LiftRestriction,
    LodgeComplaint,
    RecordContact,
    RedirectComplaint,
    ResolveComplaint,
    RestrictProcessing,
    ReviewRetention,
)

router = APIRouter(prefix="/complaints", tags=["commands"])

COMMAND_ERRORS = problem_responses(400, 404, 409, 412, 422)


def _actor(principal: Principal) -> Actor:
    return Actor(id=principal.id, name=principal.name)


def _worded(error: DomainError) -> Refused:
    problem = domain_problem(error)
    return Refused(problem.status_code, bytes(problem.body).decode())


def _keyed(
    request: Request, principal: Principal, body: BaseModel, key: str | None
) -> KeyedRequest | None:
    if key is None:
        return None
    fingerprint = request_hash(
        request.app.state.keys.derived_key("request-fingerprint"),
        request.method,
        request.url.path,
        [body.model_dump(mode="json"), request.headers.get("if-match")],
    )
    return KeyedRequest(principal.id, key, fingerprint)


def _respond(
    request: Request,
    principal: Principal,
    answer: Answer,
    status_code: int,
    *,
    with_access_code: bool = False,
) -> Response:
    if answer.replayed:
        request.state.replayed = True
    outcome = answer.outcome
    if isinstance(outcome, Refused):
        return Response(outcome.body, status_code=outcome.status, media_type=PROBLEM_MEDIA_TYPE)
    complaint = outcome.complaint
    headers = {"ETag": f'"{complaint.version}"'}
    if status_code == status.HTTP_201_CREATED:
        headers["Location"] = f"/complaints/{complaint.id}"
    personal = sees_personal_data(principal, complaint.restricted is not None)
    result: CommandResultOut
    if with_access_code:
        # Only the lodging's answer (first or replayed) shows the code: the complaint replayed
        # at its lodging version opens the same sealed code, and null once it is erased.
        result = LodgedOut.model_validate(
            {
                **complaint_fields(
                    complaint,
                    personal=personal,
                    update_every_days=request.app.state.complaints.update_every_days,
                ),
                "position": outcome.position,
                "access_code": complaint.access_code if personal else None,
            }
        )
    else:
        result = command_result_out(
            complaint,
            outcome.position,
            personal=personal,
            update_every_days=request.app.state.complaints.update_every_days,
        )
    return json_answer(result, status_code=status_code, headers=headers)


def _keyed_commands(request: Request) -> KeyedCommands:
    return KeyedCommands(request.app.state.complaints, request.app.state.idempotency)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=LodgedOut,
    responses={
        201: {"headers": openapi.ETAG | openapi.LOCATION, "links": openapi.AFTER_LODGING},
        **problem_responses(400, 409, 422),
    },
    summary="Lodge a complaint",
)
def lodge_complaint(
    body: Annotated[LodgeComplaint, Body(openapi_examples=openapi.LODGING_EXAMPLES)],
    principal: Annotated[Principal, role(Role.INTAKE)],
    complaints: ComplaintsDep,
    request: Request,
    idempotency_key: IdempotencyKeyDep,
) -> Response:
    def lodge(done: Completion | None) -> Recorded:
        return complaints.lodge(body, actor=_actor(principal), record_with=done)

    keyed = _keyed(request, principal, body, idempotency_key)
    answer = _keyed_commands(request).run(keyed, status.HTTP_201_CREATED, lodge, _worded)
    return _respond(request, principal, answer, status.HTTP_201_CREATED, with_access_code=True)


def _command_route(
    name: str,
    command: type[BaseModel],
    allowed: Role,
    summary: str,
    examples: dict[str, Example],
    links: dict[str, Any],
) -> None:
    """POST /complaints/{id}/<name>: the complaint decides on `command`, sent by `allowed`."""

    def endpoint(
        complaint_id: UUID,
        body: Annotated[command, Body(openapi_examples=examples)],  # type: ignore[valid-type]
        principal: Annotated[Principal, role(allowed)],
        complaints: ComplaintsDep,
        version: ExpectedVersionDep,
        request: Request,
        idempotency_key: IdempotencyKeyDep,
    ) -> Response:
        def act(done: Completion | None) -> Recorded:
            return complaints.act(
                complaint_id,
                body,
                actor=_actor(principal),
                supervisor=principal.has(Role.SUPERVISOR),
                expected_version=version,
                record_with=done,
            )

        keyed = _keyed(request, principal, body, idempotency_key)
        answer = _keyed_commands(request).run(keyed, status.HTTP_200_OK, act, _worded)
        return _respond(request, principal, answer, status.HTTP_200_OK)

    # The function's name is the OpenAPI operationId's stem, which generated clients rely on.
    endpoint.__name__ = endpoint.__qualname__ = _OPERATION_NAMES[name]
    router.post(
        f"/{{complaint_id}}/{name}",
        response_model=CommandResultOut,
        responses={200: {"headers": openapi.ETAG, "links": links}, **COMMAND_ERRORS},
        summary=summary,
    )(endpoint)


_OPERATION_NAMES = {
    "redirect": "redirect_complaint",
    "assign": "assign_investigator",
    "contacts": "record_contact",
    "resolve": "resolve_complaint",
    "retention-reviews": "review_retention",
    "erase": "erase_personal_data",
    "restrict": "restrict_processing",
    "lift-restriction": "lift_restriction",
    "allegations": "add_allegation",
    "handling": "decide_handling",
    "iopc-referral": "refer_to_iopc",
    "iopc-determination": "record_iopc_determination",
    "updates": "send_progress_update",
    "outcome": "notify_outcome",
    "review": "request_review",
    "review-decision": "decide_review",
    "withdraw": "withdraw_complaint",
}

_command_route(
    "redirect",
    RedirectComplaint,
    Role.CASEWORKER,
    "Redirect a complaint that is not the force's to handle",
    openapi.REDIRECT_EXAMPLES,
    openapi.AFTER_THE_END,
)
_command_route(
    "assign",
    AssignInvestigator,
    Role.SUPERVISOR,
    "Assign or reassign an investigating officer",
    openapi.ASSIGNMENT_EXAMPLES,
    openapi.AFTER_ASSIGNMENT,
)
_command_route(
    "contacts",
    RecordContact,
    Role.CASEWORKER,
    "Record contact with the complainant",
    openapi.CONTACT_EXAMPLES,
    openapi.AFTER_CONTACT,
)
_command_route(
    "resolve",
    ResolveComplaint,
    Role.CASEWORKER,
    "Resolve a complaint with the complainant",
    openapi.RESOLUTION_EXAMPLES,
    openapi.AFTER_THE_END,
)

# Records management (docs/API.md): the records manager's decisions, after a complaint is final.
_command_route(
    "retention-reviews",
    ReviewRetention,
    Role.RECORDS_MANAGER,
    "Record a retention review: keep it, with a reason and the next review date",
    openapi.RETENTION_EXAMPLES,
    openapi.AFTER_THE_END,
)
_command_route(
    "erase",
    ErasePersonalData,
    Role.RECORDS_MANAGER,
    "Erase personal data by destroying its keys (crypto-shredding)",
    openapi.ERASURE_EXAMPLES,
    openapi.AFTER_THE_END,
)
_command_route(
    "restrict",
    RestrictProcessing,
    Role.RECORDS_MANAGER,
    "Restrict processing: keep it as evidence, its personal data hidden from ordinary use",
    openapi.RESTRICTION_EXAMPLES,
    openapi.AFTER_THE_END,
)
_command_route(
    "lift-restriction",
    LiftRestriction,
    Role.RECORDS_MANAGER,
    "Lift a restriction of processing",
    openapi.LIFT_EXAMPLES,
    openapi.AFTER_THE_END,
)

# The statutory process (docs/API.md "The statutory process"; Schedule 3). The assigned
# investigator's commands are open to caseworkers here; the complaint refuses any other (403).
for _name, _command, _role, _summary, _examples, _links in (
    (
        "allegations",
        AddAllegation,
        Role.CASEWORKER,
        "Add an allegation, in the IOPC's categories",
        openapi.ALLEGATION_EXAMPLES,
        openapi.WHILE_RECORDED,
    ),
    (
        "handling",
        DecideHandling,
        Role.CASEWORKER,
        "Decide the handling: record it under Schedule 3, or handle it outside",
        openapi.HANDLING_EXAMPLES,
        openapi.WHILE_RECORDED,
    ),
    (
        "iopc-referral",
        ReferToIopc,
        Role.SUPERVISOR,
        "Refer the complaint to the IOPC",
        openapi.REFERRAL_EXAMPLES,
        openapi.AFTER_REFERRAL,
    ),
    (
        "iopc-determination",
        RecordIopcDetermination,
        Role.SUPERVISOR,
        "Record the IOPC's determination of the mode of investigation",
        openapi.DETERMINATION_EXAMPLES,
        openapi.WHILE_RECORDED,
    ),
    (
        "updates",
        SendProgressUpdate,
        Role.CASEWORKER,
        "Record a progress update sent to the complainant",
        openapi.UPDATE_EXAMPLES,
        openapi.WHILE_RECORDED,
    ),
    (
        "outcome",
        NotifyOutcome,
        Role.CASEWORKER,
        "Notify the outcome: one per allegation, the actions taken and the learning",
        openapi.OUTCOME_EXAMPLES,
        openapi.AFTER_OUTCOME,
    ),
    (
        "review",
        RequestReview,
        Role.CASEWORKER,
        "Record the complainant's request for a review of the outcome",
        openapi.REVIEW_EXAMPLES,
        openapi.AFTER_REVIEW_REQUEST,
    ),
    (
        "review-decision",
        DecideReview,
        Role.SUPERVISOR,
        "Record the review body's decision: finalised, or reopened",
        openapi.REVIEW_DECISION_EXAMPLES,
        openapi.AFTER_REVIEW,
    ),
    (
        "withdraw",
        WithdrawComplaint,
        Role.CASEWORKER,
        "Withdraw the complaint, on the complainant's signed request",
        openapi.WITHDRAWAL_EXAMPLES,
        openapi.AFTER_THE_END,
    ),
):
    _command_route(_name, _command, _role, _summary, _examples, _links)
