"""FastAPI dependencies: the one application service, the caller, and the If-Match header."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.auth import Principal, Role, authenticate, require
from api.problems import ProblemError
from domain.service import Complaints


def get_complaints(request: Request) -> Complaints:
    complaints: Complaints = request.app.state.complaints
    return complaints


# Declares the bearer scheme in the OpenAPI document; the checks are ours (`api.auth`).
_bearer = HTTPBearer(auto_error=False, description="A JWT signed by the server (HS256)")


def get_principal(
    request: Request,
    _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    authorization = request.headers.get("authorization")
    principal = authenticate(authorization, request.app.state.jwt_secret)
    request.state.principal = principal
    return principal


ComplaintsDep = Annotated[Complaints, Depends(get_complaints)]
PrincipalDep = Annotated[Principal, Depends(get_principal)]


def role(*roles: Role) -> Any:
    """A dependency that admits callers holding any of `roles`."""

    def check(principal: PrincipalDep) -> Principal:
        return require(principal, *roles)

    return Depends(check)


_ETAG = re.compile(r'^\s*(?:W/)?"?(\d{1,18})"?\s*$')


def expected_version(
    if_match: Annotated[
        str | None,
        Header(description='The version the command was decided on, as in the ETag: "3".'),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match)
    if match is None:
        raise ProblemError(
            400,
            "invalid-if-match",
            "If-Match is not a version",
            'If-Match takes the ETag of a complaint, for example "3".',
        )
    return int(match.group(1))


ExpectedVersionDep = Annotated[int | None, Depends(expected_version)]
