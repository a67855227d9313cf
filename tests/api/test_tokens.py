"""Bearer tokens (docs/ROLES.md): missing or invalid → 401, no role → 403.

Tokens are forged with PyJWT. Every case is sent to every endpoint, against a real complaint so
that a refusal cannot hide behind a 404, and must record nothing.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.support import (
    ENDPOINTS,
    JWT_SECRET,
    assert_problem,
    complaint_in,
    history_of,
    nothing_recorded,
)

WRONG_KEY = "a-different-secret-just-as-long-as-the-real-one"


def _claims(**changes: Any) -> dict[str, Any]:
    """Valid claims for an auditor and a supervisor (None removes a claim)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "sup-9",
        "name": "DI Forged",
        "roles": ["supervisor", "auditor"],
        "iat": now,
        "exp": now + 600,
    }
    for key, value in changes.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def _signed(claims: dict[str, Any], key: str = JWT_SECRET) -> str:
    return jwt.encode(claims, key, algorithm="HS256")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _alg_none() -> str:
    return f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}."


def _tampered() -> str:
    """A genuine token whose payload was changed after signing (roles raised)."""
    header, _, signature = _signed(_claims(roles=["intake"])).split(".")
    return f"{header}.{_b64(_claims())}.{signature}"


def _huge() -> str:
    """A correctly signed token of about 100 KB."""
    return _signed(_claims(padding="x" * 100_000))


UNAUTHENTICATED: list[Any] = [
    pytest.param(lambda: {}, id="missing-header"),
    pytest.param(lambda: {"Authorization": ""}, id="empty-header"),
    pytest.param(lambda: {"Authorization": "Bearer"}, id="bearer-without-token"),
    pytest.param(lambda: {"Authorization": "Bearer    "}, id="bearer-with-blanks"),
    pytest.param(lambda: {"Authorization": "Basic xyz"}, id="basic-scheme"),
    pytest.param(
        lambda: {"Authorization": "Basic " + base64.b64encode(b"sup-9:secret").decode()},
        id="basic-credentials",
    ),
    pytest.param(lambda: {"Authorization": _signed(_claims())}, id="token-without-scheme"),
    pytest.param(lambda: _bearer("garbage"), id="garbage"),
    pytest.param(lambda: _bearer("a.b.c"), id="three-garbage-segments"),
    pytest.param(
        lambda: _bearer(_signed(_claims(), key=WRONG_KEY)),
        id="wrong-key",
    ),
    pytest.param(lambda: _bearer(_tampered()), id="tampered-payload"),
    pytest.param(lambda: _bearer(_alg_none()), id="alg-none"),
    pytest.param(
        lambda: _bearer(_signed(_claims(exp=int(time.time()) - 3600))), id="expired-an-hour-ago"
    ),
    pytest.param(
        lambda: _bearer(_signed(_claims(nbf=int(time.time()) + 3600))), id="nbf-in-an-hour"
    ),
    pytest.param(lambda: _bearer(_signed(_claims(roles="supervisor"))), id="roles-a-string"),
    pytest.param(lambda: _bearer(_signed(_claims(sub=None))), id="sub-missing"),
    pytest.param(lambda: _bearer(_signed(_claims(sub=""))), id="sub-empty"),
    pytest.param(lambda: _bearer(_signed(_claims(sub=42))), id="sub-a-number"),
    pytest.param(lambda: _bearer(_huge()), id="100kb-token"),
]


def test_tokens_are_checked_on_every_endpoint(
    client: TestClient, subtests: pytest.Subtests
) -> None:
    complaint = complaint_in(client, "in_contact")[-1]

    for case in UNAUTHENTICATED:
        headers = case.values[0]()
        with subtests.test(token=case.id), nothing_recorded(client):
            for endpoint in ENDPOINTS:
                response = endpoint.send(client, headers, complaint)
                assert response.status_code == 401, f"{endpoint.name}: {response.text}"
                assert_problem(response, 401)
                challenge = response.headers["www-authenticate"]
                assert challenge.lower().startswith("bearer"), endpoint.name

    for roles in (["superuser"], [], ["root", "admin"]):
        headers = _bearer(_signed(_claims(roles=roles)))
        with subtests.test(f"valid token, no known role: {roles}"), nothing_recorded(client):
            for endpoint in ENDPOINTS:
                response = endpoint.send(client, headers, complaint)
                assert response.status_code == 403, f"{endpoint.name}: {response.text}"
                assert_problem(response, 403)

    assert history_of(client, complaint["complaint_id"])[-1]["version"] == complaint["version"]

    with subtests.test("the control: the same claims, well signed, are let in"):
        response = client.get(
            f"/complaints/{complaint['complaint_id']}/history",
            headers={"Authorization": f"bearer {_signed(_claims())}"},  # the scheme is case-blind
        )
        assert response.status_code == 200, response.text
        assert [event["version"] for event in response.json()["events"]] == [1, 2, 3]
