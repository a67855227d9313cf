"""Read models: the case list, caseloads and statistics (eventually consistent).

Each endpoint takes the consistency token (`min_position`, `wait_ms`) and answers with the
position its read model had processed, in `X-Projection-Position`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BeforeValidator

from api.http import openapi
from api.http.auth import Principal, Role
from api.http.csv_export import learning_csv, timeliness_csv, wants_csv
from api.http.deps import role
from api.http.permissions import Caseworker, Lister, case_list_view, check_caseload_reader
from api.http.problems import FieldError, ProblemError, problem_responses
from api.http.read_schemas import (
    CaseListItem,
    CaseListPage,
    Caseload,
    InvestigatorCases,
    LearningStatisticsOut,
    OpenCase,
    TimelinessStatisticsOut,
)
from api.http.responses import json_answer, json_of
from api.http.routes.audit import record_access
from api.read_models import ReadModels
from domain.rules import local_date
from domain.values import Channel, Status, SubjectKind
from projections.case_list.queries import CaseFilter

router = APIRouter(tags=["read models"])


class HandlingFilter(StrEnum):
    """The case list's `handling` filter: the latest decision, or `none` for none yet."""

    OUTSIDE_SCHEDULE_3 = "outside_schedule_3"
    SCHEDULE_3 = "schedule_3"
    NONE = "none"


StatusFilter = Annotated[
    Status | None,
    Query(
        description="The status as judged today: `finalised` includes notified outcomes past "
        "their review deadline with no review requested, which `outcome_notified` leaves out"
    ),
]
HandlingQuery = Annotated[
    HandlingFilter | None,
    Query(
        description="The latest handling decision: `outside_schedule_3` or `schedule_3` "
        "(recorded); `none` for complaints with no decision yet (outside Schedule 3 by default)"
    ),
]


def _iso_date(value: object) -> object:
    # Dates are YYYY-MM-DD (docs/API.md); pydantic alone would also read "0" as 1970-01-01.
    if isinstance(value, str) and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise ValueError("must be a date, YYYY-MM-DD")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
MinPosition = Annotated[
    int | None, Query(ge=0, description="Wait until the read model has processed this position")
]
WaitMs = Annotated[int, Query(ge=0, le=10_000, description="How long to wait, in milliseconds")]
StatisticsReader = Annotated[Principal, role(Role.ANALYST, Role.SUPERVISOR, Role.AUDITOR)]
Supervisor = Annotated[Principal, role(Role.SUPERVISOR)]
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"schema": {"type": "string"}}},
        "headers": openapi.PROJECTION_POSITION,
    }
}
POSITIONED: dict[int | str, dict[str, Any]] = {200: {"headers": openapi.PROJECTION_POSITION}}


def _read_models(request: Request) -> ReadModels:
    models: ReadModels = request.app.state.read_models
    return models


def request_today(request: Request) -> date:
    return local_date(request.app.state.complaints.clock())


def caught_up(
    request: Request, response: Response, projection: str, min_position: int | None, wait: int
) -> ReadModels:
    return positioned(request, response, projection, min_position, wait)[0]


def positioned(
    request: Request, response: Response, projection: str, min_position: int | None, wait: int
) -> tuple[ReadModels, int]:
    """The read models once `projection` has reached `min_position`, and the position it is
    at, which is in `X-Projection-Position` and is what a kept answer is kept for."""
    models = _read_models(request)
    position = models.wait_for(projection, min_position, wait)
    response.headers["X-Projection-Position"] = str(position)
    return models, position


@router.get(
    "/complaints",
    response_model=CaseListPage,
    responses={**POSITIONED, **problem_responses(400, 422)},
    summary="The case list, newest first; anonymised for analysts",
)
def list_complaints(
    request: Request,
    response: Response,
    principal: Lister,
    status: StatusFilter = None,
    investigator_id: Annotated[str | None, Query(max_length=100)] = None,
    subject_kind: SubjectKind | None = None,
    channel: Channel | None = None,
    lodged_from: IsoDate | None = None,
    lodged_to: IsoDate | None = None,
    handling: HandlingQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    min_position: MinPosition = None,
    wait_ms: WaitMs = 2000,
) -> Response:
    view = case_list_view(principal, investigator_id)
    _check_range(lodged_from, lodged_to, ("lodged_from", "lodged_to"))
    models, position = positioned(request, response, "case_list", min_position, wait_ms)
    filters = CaseFilter(
        status=status,
        investigator_id=view.investigator_id,
        subject_kind=subject_kind,
        channel=channel,
        lodged_from=lodged_from,
        lodged_to=lodged_to,
        handling=handling,
    )
    today = request_today(request)

    def page_json() -> bytes:
        rows, next_cursor = models.case_page(
            filters, limit=limit, after=cursor, today=today, at=position
        )
        items = [_case_item(row, view.anonymised) for row in rows]
        return json_of(CaseListPage(items=items, next_cursor=next_cursor))

    key = ("case_page_json", filters, limit, cursor, today, view.anonymised)
    body = models.answers.derived("case_list", key, position, page_json)
    if not view.anonymised:  # investigators' names are personal data too
        record_access(request, view.principal, "read_case_list", None)
    return json_answer(body, response)


def _case_item(row: dict[str, Any], anonymised: bool) -> CaseListItem:
    investigator = None
    if row["investigator_id"] is not None and not anonymised:
        investigator = {"id": row["investigator_id"], "name": row["investigator_name"]}
    fields = {key: value for key, value in row.items() if not key.startswith("investigator_")}
    return CaseListItem.model_validate(
        fields | {"late": bool(row["late"]), "investigator": investigator}
    )


@router.get(
    "/caseload",
    response_model=Caseload,
    responses={**POSITIONED, **problem_responses(422)},
    summary="Every investigator's open cases, with what is awaiting contact or overdue today",
    description="Judged on today's date: first contacts and resolutions (outside Schedule 3) "
    "past their limits, progress updates overdue and twelve-month reports due for recorded "
    "complaints. A notified outcome past its review deadline is finalised, no longer open.",
)
def get_caseload(
    request: Request,
    response: Response,
    principal: Supervisor,
    min_position: MinPosition = None,
    wait_ms: WaitMs = 2000,
) -> Response:
    models, position = positioned(request, response, "case_list", min_position, wait_ms)
    today = request_today(request)

    def caseload_json() -> bytes:
        return json_of(Caseload.model_validate(models.caseload(today, at=position)))

    body = models.answers.derived("case_list", ("caseload_json", today), position, caseload_json)
    record_access(request, principal, "read_caseload", None)
    return json_answer(body, response)


@router.get(
    "/caseload/{investigator_id}",
    response_model=InvestigatorCases,
    responses={**POSITIONED, **problem_responses(422)},
    summary="One investigator's open cases with their ages and due dates",
    description="Each case as judged today, with its next progress update and reports due "
    "while recorded under Schedule 3.",
)
def get_investigator_caseload(
    investigator_id: str,
    request: Request,
    response: Response,
    principal: Caseworker,
    min_position: MinPosition = None,
    wait_ms: WaitMs = 2000,
) -> Response:
    check_caseload_reader(principal, investigator_id)
    models, position = positioned(request, response, "case_list", min_position, wait_ms)
    today = request_today(request)

    def cases_json() -> bytes:
        cases = models.cases_of(investigator_id, today, at=position)
        shown = [{field: case[field] for field in OpenCase.model_fields} for case in cases]
        answer = {"investigator_id": investigator_id, "cases": shown}
        return json_of(InvestigatorCases.model_validate(answer))

    key = ("cases_of_json", investigator_id, today)
    body = models.answers.derived("case_list", key, position, cases_json)
    record_access(request, principal, "read_caseload", None)
    return json_answer(body, response)


def _check_range(
    lodged_from: date | None, lodged_to: date | None, names: tuple[str, str] = ("from", "to")
) -> None:
    first, last = names
    if lodged_from is not None and lodged_to is not None and lodged_from > lodged_to:
        raise ProblemError(
            422,
            "validation-error",
            "The request is not valid",
            f"`{first}` is after `{last}`.",
            errors=[
                FieldError(field=first, message=f"is after `{last}`"),
                FieldError(field=last, message=f"is before `{first}`"),
            ],
        )


From = Annotated[IsoDate | None, Query(alias="from", description="First lodged date")]
To = Annotated[IsoDate | None, Query(alias="to", description="Last lodged date")]


def _statistics_route(
    name: Literal["learning", "timeliness"],
    model: type[LearningStatisticsOut] | type[TimelinessStatisticsOut],
    as_csv: Callable[[dict[str, Any]], str],
    summary: str,
) -> None:
    """GET /statistics/<name>: the figures of a range of lodged dates, as JSON or CSV."""

    def endpoint(
        request: Request,
        response: Response,
        _: StatisticsReader,
        lodged_from: From = None,
        lodged_to: To = None,
        min_position: MinPosition = None,
        wait_ms: WaitMs = 2000,
    ) -> Response:
        _check_range(lodged_from, lodged_to)
        models, position = positioned(request, response, name, min_position, wait_ms)
        period = (lodged_from, lodged_to)
        if wants_csv(request):  # Accept: text/csv
            figures = models.statistics(name, period, at=position)
            headers = dict(response.headers)
            return PlainTextResponse(as_csv(figures), media_type="text/csv", headers=headers)

        def figures_json() -> bytes:
            figures = models.statistics(name, period, at=position)
            return json_of(model.model_validate({"from": lodged_from, "to": lodged_to, **figures}))

        body = models.answers.derived(name, ("statistics_json", period), position, figures_json)
        return json_answer(body, response)

    # The function's name is the OpenAPI operationId's stem, which generated clients rely on.
    endpoint.__name__ = endpoint.__qualname__ = f"{name}_statistics"
    router.get(
        f"/statistics/{name}",
        response_model=model,
        responses={**CSV_RESPONSE, **problem_responses(422)},
        summary=summary,
    )(endpoint)


_statistics_route(
    "learning",
    LearningStatisticsOut,
    learning_csv,
    "Complaints counted by category, by lodged date",
)
_statistics_route(
    "timeliness",
    TimelinessStatisticsOut,
    timeliness_csv,
    "Time from lodging to assignment, first contact and resolution",
)
