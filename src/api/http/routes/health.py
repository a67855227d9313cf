"""Liveness and readiness: no token, no personal data."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ConfigDict

from api.http import openapi
from api.http.observability import ReadModelCollector, render_metrics
from api.http.problems import PROBLEM_BASE, PROBLEM_MEDIA_TYPE
from domain.service import Complaints

router = APIRouter(tags=["operations"])


class EventStoreStatus(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["up", "down"]
    head_position: int | None = None
    error: str | None = None


class Dependencies(BaseModel):
    model_config = ConfigDict(extra="forbid")
    event_store: EventStoreStatus


class ReadModelStatus(BaseModel):
    """`failing` while a projection is stuck on an event, with where, why and since when."""

    model_config = ConfigDict(extra="forbid")
    position: int
    lag: int
    status: Literal["ok", "failing"]
    stuck_at_position: int | None = None
    error: str | None = None
    since: str | None = None


class Readiness(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["ready", "degraded"]
    dependencies: Dependencies
    read_models: dict[str, ReadModelStatus] = {}


class NotReady(BaseModel):
    """Problem details, with the same dependencies as a ready answer."""

    model_config = ConfigDict(extra="forbid")
    type: str
    title: str
    status: Literal[503]
    detail: str
    dependencies: Dependencies
    read_models: dict[str, ReadModelStatus] = {}


@router.get("/health/live", summary="200 while the process runs")
async def live() -> dict[str, str]:
    return {"status": "live"}


@router.get(
    "/health/ready",
    summary="200 when the event store answers; 503 otherwise",
    response_model=Readiness,
    responses={
        503: {
            "description": "A dependency is down",
            "headers": openapi.RETRY_AFTER,
            "model": NotReady,
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/NotReady"}}},
        }
    },
)
def ready(request: Request) -> JSONResponse:
    complaints: Complaints = request.app.state.complaints
    dependencies: dict[str, Any] = {}
    try:
        head = complaints.head_position()
        dependencies["event_store"] = {"status": "up", "head_position": head}
    except Exception as error:  # any failure to answer is "down", never a 500
        dependencies["event_store"] = {"status": "down", "error": type(error).__name__}
        head = None
    body: dict[str, Any] = {"dependencies": dependencies}
    read_models = getattr(request.app.state, "read_models", None)
    if read_models is not None and head is not None:
        body["read_models"] = read_models.status(head)
    if head is None:
        body |= {
            "type": PROBLEM_BASE + "not-ready",
            "title": "Not ready",
            "status": 503,
            "detail": "The event store does not answer.",
        }
        return JSONResponse(
            body, status_code=503, media_type=PROBLEM_MEDIA_TYPE, headers={"Retry-After": "2"}
        )
    failing = any(m.get("status") == "failing" for m in body.get("read_models", {}).values())
    # Still ready: commands and reads of one complaint work; a stuck read model is "degraded".
    return JSONResponse({"status": "degraded" if failing else "ready", **body})


@router.get(
    "/metrics",
    summary="Prometheus figures: requests, commands, events written, read-model positions",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request) -> Response:
    complaints: Complaints = request.app.state.complaints

    def status() -> tuple[int, dict[str, Any]]:
        head = complaints.head_position()
        return head, request.app.state.read_models.status(head)

    shared = request.app.state.settings.prometheus_multiproc_dir is not None
    metrics = render_metrics(ReadModelCollector(status), shared_by_workers=shared)
    return Response(metrics, media_type=CONTENT_TYPE_LATEST)
