"""Bearer tokens (JWT, HS256) and roles.

A token must be signed with the server's key, carry `sub`, `name`, `roles` (a list) and `exp`,
and be valid now (`exp`, and `nbf` when present). Anything else is 401; a valid token without the
role the endpoint needs is 403. Roles nest: supervisor ⊃ caseworker ⊃ intake.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

from api.http.problems import ProblemError

ALGORITHM = "HS256"
# A real token is a few hundred bytes; refusing big ones early bounds an attacker's effort.
MAX_TOKEN_BYTES = 8192


class Role(StrEnum):
    INTAKE = "intake"
    CASEWORKER = "caseworker"
    SUPERVISOR = "supervisor"
    AUDITOR = "auditor"
    ANALYST = "analyst"
    RECORDS_MANAGER = "records_manager"


# What each role may act as, beyond itself (docs/API.md: "everything intake may, plus ...").
_IMPLIED = {
    Role.CASEWORKER: {Role.INTAKE},
    Role.SUPERVISOR: {Role.CASEWORKER, Role.INTAKE},
}


@dataclass(frozen=True)
class Principal:
    id: str
    name: str
    roles: frozenset[Role]

    def has(self, role: Role) -> bool:
        return role in self.roles

    def has_any(self, *roles: Role) -> bool:
        return any(role in self.roles for role in roles)


def _unauthorized(detail: str) -> ProblemError:
    return ProblemError(
        401,
        "unauthorized",
        "Authentication required",
        detail,
        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
    )


def mint_token(secret: str, *, sub: str, name: str, roles: list[str], ttl: int) -> str:
    now = int(time.time())
    claims = {"sub": sub, "name": name, "roles": roles, "iat": now, "nbf": now, "exp": now + ttl}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def _claims(token: str, secret: str) -> dict[str, Any]:
    try:
        return jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            options={"require": ["exp", "sub"], "verify_signature": True},
            leeway=LEEWAY,
        )
    except jwt.ExpiredSignatureError:
        raise _unauthorized("The token has expired.") from None
    except jwt.ImmatureSignatureError:
        raise _unauthorized("The token is not valid yet.") from None
    except jwt.InvalidTokenError:
        raise _unauthorized("The token is malformed or not signed by this server.") from None


# Tokens already verified, with their validity: a caller sends the same token with every
# request, and checking its signature again each time was a twelfth of a command's time.
# Keyed by the token itself (its signature included) and the key it was checked with; only
# valid tokens enter, and each use still checks `nbf` and `exp` against the clock.
_VERIFIED: dict[tuple[str, str], tuple[Principal, float, float]] = {}
_VERIFIED_MAX = 4096
LEEWAY = 5


def authenticate(authorization: str | None, secret: str) -> Principal:
    if authorization:
        known = _VERIFIED.get((authorization, secret))
        if known is not None and known[1] - LEEWAY <= time.time() < known[2] + LEEWAY:
            return known[0]
    principal, claims = _authenticate(authorization, secret)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()  # rare (thousands of callers): forget them all rather than track age
    nbf = claims.get("nbf")
    not_before = float(nbf) if isinstance(nbf, int | float) else float("-inf")
    _VERIFIED[(authorization or "", secret)] = (principal, not_before, float(claims["exp"]))
    return principal


def _authenticate(authorization: str | None, secret: str) -> tuple[Principal, dict[str, Any]]:
    if not authorization:
        raise _unauthorized("Send Authorization: Bearer <token>.")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("Send Authorization: Bearer <token>.")
    if len(token) > MAX_TOKEN_BYTES:
        raise _unauthorized("The token is too large.")
    claims = _claims(token, secret)
    sub, name, roles = claims.get("sub"), claims.get("name", claims.get("sub")), claims.get("roles")
    if (
        not isinstance(sub, str)
        or not sub.strip()
        or len(sub) > 100
        or any(c.isspace() for c in sub)
    ):
        raise _unauthorized("The token's `sub` must be a short identifier.")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise _unauthorized("The token's `name` must be a short display name.")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise _unauthorized("The token's `roles` must be a list of role names.")
    granted: set[Role] = set()
    for role_name in roles:
        if role_name in Role.__members__.values():
            role = Role(role_name)
            granted |= {role, *_IMPLIED.get(role, set())}
    return Principal(id=sub, name=name.strip(), roles=frozenset(granted)), claims


def require(principal: Principal, *roles: Role) -> Principal:
    if not principal.has_any(*roles):
        needed = " or ".join(role.value for role in roles)
        raise ProblemError(
            403, "forbidden", "Not allowed for your role", f"This needs the role {needed}."
        )
    return principal
