"""Helpers for tests: tokens, a clock that tests move, and valid request bodies."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

from api.auth import mint_token

JWT_SECRET = "test-secret-that-is-long-enough-for-hs256"


def auth(sub: str, *roles: str, name: str | None = None, ttl: int = 600) -> dict[str, str]:
    """Authorization header for a caller with these roles."""
    token = mint_token(
        JWT_SECRET, sub=sub, name=name or f"Officer {sub}", roles=list(roles), ttl=ttl
    )
    return {"Authorization": f"Bearer {token}"}


INTAKE = auth("intake-1", "intake")
CASEWORKER = auth("cw-1", "caseworker")
SUPERVISOR = auth("sup-1", "supervisor", name="DI Grace Hopper")
AUDITOR = auth("aud-1", "auditor")
ANALYST = auth("ana-1", "analyst")


class MovableClock:
    """Now, unless a test has moved it; tests that need a fixed instant set `now`."""

    def __init__(self) -> None:
        self.now: datetime | None = None

    def __call__(self) -> datetime:
        return self.now or datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        self.now = self() + delta


VALID_LODGING: dict[str, Any] = {
    "channel": "online",
    "complainant": {"name": "Sam Jones", "email": "sam@example.org", "phone": "07700 900123"},
    "standing": "experienced",
    "subject": {"kind": "officer", "shoulder_number": "1234AB"},
    "behaviours": ["rude_or_aggressive"],
    "incident_date": "2026-11-01",
    "location": "Oxford Street",
    "description": "The officer shouted at me while I asked for directions.",
}


def lodging(**changes: Any) -> dict[str, Any]:
    """A valid LodgeComplaint body with top-level fields replaced (None removes a field)."""
    body = copy.deepcopy(VALID_LODGING)
    for key, value in changes.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = value
    return body
