"""Problem details (RFC 9457) for every 4xx and 5xx, and the one place errors are mapped.

Domain errors map by class: a complaint's content (rules 1-6) → 422 with `errors`, the case's
state (rules 7-11) → 409, the wrong investigator → 403, a lost race → 409, a stale If-Match →
412. The store being unreachable is 503 with Retry-After, never a 500.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.eventstore.idempotency import KeyInUseError, KeyReusedError
from api.eventstore.outages import STORE_OUTAGES
from api.http import openapi
from api.http.validation_messages import in_our_words, is_json
from api.read_models import ProjectionBehindError
from domain.errors import (
    ActorNotAllowedError,
    CaseStateError,
    ComplaintContentError,
    ComplaintNotFoundError,
    ConcurrentModificationError,
    DomainError,
    VersionMismatchError,
)
from projections.case_list.queries import InvalidCursorError

PROBLEM_BASE = "https://complaints.example/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
log = logging.getLogger("complaints.api")


class FieldError(BaseModel):
    field: str
    message: str
    type: str | None = Field(
        default=None,
        description="The problem type of the rule this field breaks; given only when a request "
        "breaks several rules at once, each item naming its own.",
    )


class Problem(BaseModel):
    """The body of every error response (RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None


class ProblemError(Exception):
    """Raised by the HTTP layer for a refusal that is not a domain rule (auth, bad headers)."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        errors: list[FieldError] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = headers or {}
        self.errors = errors


_DESCRIPTIONS = {
    400: "Malformed request (a header or cursor that cannot be read)",
    401: "Missing, malformed, forged or expired token",
    403: "The token's roles do not allow this",
    404: "No such complaint",
    409: "Refused by the complaint's state (rules 7-11) or a concurrent change",
    412: "If-Match names a version that is no longer current",
    413: "The body is too large",
    414: "The query string is too long",
    422: "The request breaks a rule about its content; `errors` names the fields",
    431: "The request's headers are too large",
    503: "The store or a read model is not available yet; see Retry-After",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses an endpoint can give."""
    return {
        status: {
            "model": Problem,
            "description": _DESCRIPTIONS[status],
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": _HEADERS[status]} if status in _HEADERS else {}),
        }
        # The size limits (api.http.limits) answer before any route, so every route may.
        for status in (401, 403, 413, 414, 431, 503, *statuses)
    }


# Every 503 says when to retry; a 409 does when the same Idempotency-Key is still running.
_HEADERS = {
    409: openapi.OPTIONAL_RETRY_AFTER,
    503: openapi.RETRY_AFTER | openapi.OPTIONAL_PROJECTION_POSITION,
}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    *,
    errors: list[FieldError] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + slug,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors is not None:
        body["errors"] = [error.model_dump(exclude_none=True) for error in errors]
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


_HTTP_PROBLEMS = {
    400: ("malformed-request", "The request cannot be read"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("body-too-large", "The body is too large"),
}


def _status_for(error: DomainError) -> int:
    if isinstance(error, ComplaintContentError):
        return 422
    if isinstance(error, ActorNotAllowedError):
        return 403
    if isinstance(error, ComplaintNotFoundError):
        return 404
    if isinstance(error, VersionMismatchError):
        return 412
    if isinstance(error, CaseStateError | ConcurrentModificationError):
        return 409
    return 400


def _field_name(location: tuple[Any, ...], kind: str) -> str:
    if kind == "json_invalid":
        return "body"
    parts = [str(part) for part in location if part not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def domain_problem(error: DomainError) -> JSONResponse:
    errors = [
        FieldError(
            field=f.field,
            message=f.message,
            type=PROBLEM_BASE + f.rule if f.rule else None,
        )
        for f in error.fields
    ]
    return problem_response(
        _status_for(error), error.rule, error.title, error.detail, errors=errors or None
    )


def _unavailable() -> JSONResponse:
    return problem_response(
        503,
        "store-unavailable",
        "The database is unavailable",
        "The database did not answer in time; nothing was recorded. Retry shortly.",
        headers={"Retry-After": "2"},
    )


async def _domain_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, DomainError)
    return domain_problem(error)


async def _problem_error(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProblemError)
    return problem_response(
        error.status,
        error.slug,
        error.title,
        error.detail,
        errors=error.errors,
        headers=error.headers,
    )


async def _validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    sent_json = is_json(request.headers.get("content-type"))
    errors = [
        FieldError(
            field=_field_name(tuple(item.get("loc", ())), str(item.get("type", ""))),
            message=in_our_words(item, sent_json=sent_json),
        )
        for item in error.errors()
    ]
    return problem_response(
        422,
        "validation-error",
        "The request is not valid",
        "; ".join(
            e.message if e.message[:1].isupper() else f"{e.field}: {e.message}" for e in errors[:5]
        )
        or "Invalid request.",
        errors=errors,
    )


def index_methods(routers: Iterable[APIRouter]) -> list[tuple[re.Pattern[str], set[str]]]:
    """Each path's pattern with the methods served there, for the Allow header of a 405."""
    return [
        (route.path_regex, set(route.methods or ()))
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
    ]


def _allowed_methods(request: Request) -> str:
    """Every method served at this path: Starlette's 405 names only the first route matching
    the path, though another router may serve other methods there (GET and POST /complaints)."""
    index: list[tuple[re.Pattern[str], set[str]]] = getattr(request.app.state, "methods", [])
    methods = {m for pattern, served in index if pattern.match(request.url.path) for m in served}
    return ", ".join(sorted(methods))


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    slug, title = _HTTP_PROBLEMS.get(error.status_code, ("http-error", str(error.detail)))
    headers = dict(error.headers or {})
    # Kept by no cache on the way, like every answer under /status: a reference that no route
    # can match (a newline in it, an extra segment) is refused here, not by the status page.
    headers.setdefault("Cache-Control", "no-store")
    detail = str(error.detail)
    if error.status_code == 405:
        # Starlette's own Allow stands for the routes outside our routers (the docs pages).
        # (sorted: Starlette joins a set, so its order changes from one process to the next)
        theirs = ", ".join(sorted(m.strip() for m in headers.get("Allow", "").split(",")))
        headers["Allow"] = _allowed_methods(request) or theirs
        detail = f"{request.method} is not served here; this path serves {headers['Allow']}."
    return problem_response(error.status_code, slug, title, detail, headers=headers)


async def _database_unavailable(_: Request, error: Exception) -> JSONResponse:
    if isinstance(error, PersistenceError) and not isinstance(
        error, OperationalError | InterfaceError
    ):  # a fault of ours rather than an outage: keep the evidence
        log.error("event store refused a statement", exc_info=error)
    else:
        log.warning("database unavailable: %s", type(error).__name__)
    return _unavailable()


async def _invalid_cursor(_: Request, error: Exception) -> JSONResponse:
    return problem_response(400, "invalid-cursor", "The cursor is not valid", str(error))


async def _projection_behind(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ProjectionBehindError)
    return problem_response(
        503,
        "projection-behind",
        "The read model has not caught up yet",
        f"The {error.projection} read model is at position {error.position}, "
        f"not yet {error.wanted}.",
        headers={"Retry-After": "1", "X-Projection-Position": str(error.position)},
    )


async def _key_in_use(_: Request, error: Exception) -> JSONResponse:
    return problem_response(
        409,
        "idempotency-key-in-use",
        "A request with this Idempotency-Key is still running",
        str(error),
        headers={"Retry-After": "1"},
    )


async def _key_reused(_: Request, error: Exception) -> JSONResponse:
    return problem_response(
        422, "idempotency-key-reused", "Idempotency-Key reused with another request", str(error)
    )


async def _unexpected(_: Request, error: Exception) -> JSONResponse:
    log.error("unexpected error", exc_info=error)
    return problem_response(
        500, "internal-error", "Internal error", "The server failed to handle the request."
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain_error)
    app.add_exception_handler(ProblemError, _problem_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(InvalidCursorError, _invalid_cursor)
    app.add_exception_handler(ProjectionBehindError, _projection_behind)
    app.add_exception_handler(KeyInUseError, _key_in_use)
    app.add_exception_handler(KeyReusedError, _key_reused)
    for outage in STORE_OUTAGES:
        app.add_exception_handler(outage, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected)
