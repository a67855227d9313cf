"""FastAPI dependencies: the one application service, the caller, and the If-Match header.

Each is `async def` though none awaits: they only read the request and check a signature, and
FastAPI runs a plain `def` dependency in its thread pool, a hand-off to another thread and back
for each one, five a command, which cost a sixth of a command's time under load (py-spy).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import WithJsonSchema

from api.http.auth import Principal, Role, authenticate, require
from api.http.openapi import IDEMPOTENCY_KEY_PATTERN, IF_MATCH_PATTERN
from api.http.problems import ProblemError
from domain.service import Complaints


async def get_complaints(request: Request) -> Complaints:
    complaints: Complaints = request.app.state.complaints
    return complaints


# Declares the bearer scheme in the OpenAPI document; the checks are ours (`api.http.auth`).
_bearer = HTTPBearer(auto_error=False, description="A JWT signed by the server (HS256)")


async def get_principal(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    return caller(request)


def caller(request: Request) -> Principal:
    """Who sent the request, from its bearer token; kept on the request for the access line."""
    principal = authenticate(request.headers.get("authorization"), request.app.state.jwt_secret)
    request.state.principal = principal
    return principal


ComplaintsDep = Annotated[Complaints, Depends(get_complaints)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def role(*roles: Role) -> Any:
    """A dependency that admits callers holding any of `roles`."""

    async def check(principal: PrincipalDep) -> Principal:
        return require(principal, *roles)

    return Depends(check)


_IF_MATCH = re.compile(IF_MATCH_PATTERN)
_VERSION = re.compile(r"[0-9]+")


async def expected_version(
    if_match: Annotated[
        str | None,
        WithJsonSchema({"type": "string", "pattern": IF_MATCH_PATTERN}),  # a header is never null
        Header(
            description='The version the command was decided on, as in the ETag: "3".',
        ),
    ] = None,
) -> int | None:
    if if_match is None:
        return None
    if _IF_MATCH.fullmatch(if_match) is None:
        raise ProblemError(
            400,
            "invalid-if-match",
            "If-Match is not a version",
            'If-Match takes the ETag of a complaint, for example "3".',
        )
    version = _VERSION.search(if_match)
    return None if version is None else int(version.group())  # no version: "*", any will do


ExpectedVersionDep = Annotated[int | None, Depends(expected_version)]


_IDEMPOTENCY_KEY = re.compile(IDEMPOTENCY_KEY_PATTERN)


async def idempotency_key(
    key: Annotated[
        str | None,
        WithJsonSchema({"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN}),
        Header(
            alias="Idempotency-Key",
            description="Repeat a request with the same key to get its first answer, safely: "
            "1 to 200 printable ASCII characters, for example a UUID.",
        ),
    ] = None,
) -> str | None:
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        raise ProblemError(
            400,
            "invalid-idempotency-key",
            "Idempotency-Key is not valid",
            "An Idempotency-Key is 1 to 200 printable ASCII characters, for example a UUID.",
        )
    return key


IdempotencyKeyDep = Annotated[str | None, Depends(idempotency_key)]
