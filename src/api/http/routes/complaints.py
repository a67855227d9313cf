"""Reading one complaint: replayed from the event store, so always as recorded."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from api.http.auth import Principal, require
from api.http.deps import ComplaintsDep, caller
from api.http.openapi import ETAG, LOCATION
from api.http.permissions import READERS, Moment, Reader, moment_for, sees_personal_data
from api.http.plain_routes import UUID_TEXT, PlainRoute
from api.http.problems import problem_responses
from api.http.responses import json_answer
from api.http.routes.audit import record_access
from api.http.schemas import ComplaintOut, HistoryOut, complaint_out, history_out
from domain.service import Complaints

router = APIRouter(prefix="/complaints", tags=["complaints"])


class FoundOut(BaseModel):
    """The body of a by-reference redirect, for a client that does not follow redirects."""

    model_config = ConfigDict(extra="forbid")
    complaint_id: UUID
    href: str


@router.get(
    "/by-reference/{reference:path}",
    status_code=307,
    response_model=FoundOut,
    responses={
        307: {"description": "The complaint's own address, in Location", "headers": LOCATION},
        **problem_responses(404, 422),
    },
    summary="Find a complaint by its reference (PC/1234/26, raw or percent-encoded)",
)
def find_by_reference(reference: str, _: Reader, complaints: ComplaintsDep) -> JSONResponse:
    complaint_id = complaints.find_by_reference(reference)
    href = f"/complaints/{quote(str(complaint_id))}"
    found = FoundOut(complaint_id=complaint_id, href=href)
    return JSONResponse(found.model_dump(mode="json"), status_code=307, headers={"Location": href})


@router.get(
    "/{complaint_id}",
    response_model=ComplaintOut,
    responses={200: {"headers": ETAG}, **problem_responses(404, 422)},
    summary="One complaint as it stands, or (auditors) as it stood",
)
def get_complaint(
    complaint_id: UUID,
    request: Request,
    principal: Reader,
    complaints: ComplaintsDep,
    as_of_version: Annotated[
        int | None, Query(ge=1, le=1_000_000, description="Auditors: the state after event N")
    ] = None,
    as_of: Annotated[
        AwareDatetime | None, Query(description="Auditors: the state at this recorded instant")
    ] = None,
) -> Response:
    moment = moment_for(principal, as_of_version, as_of)
    return complaint_answer(request, principal, complaints, complaint_id, moment)


async def read_complaint_now(request: Request) -> Response:
    """`get_complaint` with no query, by its plain route (`api.http.plain_routes`)."""
    principal = require(caller(request), *READERS)
    complaint_id = UUID(request.path_params["complaint_id"])
    complaints: Complaints = request.app.state.complaints
    return await run_in_threadpool(
        complaint_answer, request, principal, complaints, complaint_id, Moment()
    )


def complaint_answer(
    request: Request,
    principal: Principal,
    complaints: Complaints,
    complaint_id: UUID,
    moment: Moment,
) -> Response:
    if moment.at is not None:
        complaint = complaints.get_complaint_as_of(complaint_id, moment.at)
    else:
        complaint = complaints.get_complaint(complaint_id, version=moment.version)
    action = "read_complaint" if moment == Moment() else "read_complaint_as_of"
    record_access(request, principal, action, complaint_id)
    answer = complaint_out(
        complaint,
        personal=sees_personal_data(principal, complaint.restricted is not None),
        update_every_days=complaints.update_every_days,
    )
    return json_answer(answer, headers={"ETag": f'"{complaint.version}"'})


PLAIN_ROUTES = [
    PlainRoute(
        "/complaints/{complaint_id}", read_complaint_now, canonical={"complaint_id": UUID_TEXT}
    )
]


@router.get(
    "/{complaint_id}/history",
    response_model=HistoryOut,
    responses=problem_responses(404, 422),
    summary="Every event of a complaint, oldest first",
)
def get_history(
    complaint_id: UUID, request: Request, principal: Reader, complaints: ComplaintsDep
) -> Response:
    # Restricted now means hidden in every past event too: restriction is about use, not time.
    entries, restricted = complaints.read_history(complaint_id)
    personal = sees_personal_data(principal, restricted)
    history = history_out(complaint_id, entries, personal=personal)
    record_access(request, principal, "read_history", complaint_id)
    return json_answer(history)
