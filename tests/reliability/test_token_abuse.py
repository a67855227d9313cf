"""Token abuse beyond tests/api/test_tokens.py: algorithm confusion, claim types at the edges,
a 1 MB token, extra dots; on every endpoint, with nothing reaching a handler.

"Nothing reached a handler" is read from the stores themselves: no event (head position), no
access-log row, no idempotency record. And the signature check's timing does not depend on
where a forged signature differs from the right one: PyJWT compares with hmac.compare_digest.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from api.http.auth import authenticate, mint_token
from api.http.problems import ProblemError
from tests.support import (
    AUDITOR,
    ENDPOINTS,
    JWT_SECRET,
    Endpoint,
    assert_problem,
    complaint_in,
    head_position,
)

_ALL = frozenset({"intake", "caseworker", "supervisor", "auditor", "analyst"})
EVERY_ENDPOINT = [
    *ENDPOINTS,
    Endpoint("case-list", "GET", "/complaints", _ALL),
    Endpoint("caseload", "GET", "/caseload", _ALL),
    Endpoint("own-caseload", "GET", "/caseload/sup-9", _ALL),
    Endpoint("learning", "GET", "/statistics/learning", _ALL),
    Endpoint("timeliness", "GET", "/statistics/timeliness", _ALL),
    Endpoint("verify", "GET", "/complaints/{id}/verify", _ALL),
    Endpoint("integrity", "GET", "/integrity", _ALL),
    Endpoint("access-log", "GET", "/complaints/{id}/access-log", _ALL),
    Endpoint("whole-access-log", "GET", "/access-log", _ALL),
]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json(data: dict[str, Any]) -> str:
    return _b64(json.dumps(data).encode())


def _claims(**changes: Any) -> dict[str, Any]:
    """Claims that would be let in everywhere (None removes a claim)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": "sup-9",
        "name": "DI Forged",
        "roles": ["supervisor", "auditor", "analyst"],
        "iat": now,
        "exp": now + 600,
    }
    for key, value in changes.items():
        if value is None:
            claims.pop(key, None)
        else:
            claims[key] = value
    return claims


def _signed(claims: dict[str, Any] | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims or _claims(), JWT_SECRET, algorithm=algorithm)


def _hand_signed(header: dict[str, Any], digest: Callable[..., Any] = hashlib.sha256) -> str:
    """A token whose header says anything, HMAC-signed with the server's own secret."""
    signing_input = f"{_json(header)}.{_json(_claims())}"
    signature = hmac.new(JWT_SECRET.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


GOOD = _signed  # the well-formed token the forgeries start from (built when called)
FORGED: list[Any] = [
    pytest.param(lambda: _bearer(_signed(algorithm="HS512")), id="hs512-same-secret"),
    pytest.param(lambda: _bearer(_signed(algorithm="HS384")), id="hs384-same-secret"),
    pytest.param(
        lambda: _bearer(_hand_signed({"alg": "RS256", "typ": "JWT"})), id="rs256-header-hmac-sig"
    ),
    pytest.param(
        lambda: _bearer(f"{_json({'alg': 'RS256'})}.{_json(_claims())}.{_b64(b'x' * 256)}"),
        id="rs256-header-junk-sig",
    ),
    pytest.param(lambda: _bearer(_hand_signed({"alg": "None"})), id="alg-None-capitalised"),
    pytest.param(lambda: _bearer(_hand_signed({"alg": ""})), id="alg-empty"),
    pytest.param(lambda: _bearer(_hand_signed({"typ": "JWT"})), id="alg-missing"),
    pytest.param(lambda: _bearer(_signed(_claims(exp=None))), id="exp-missing"),
    pytest.param(lambda: _bearer(_signed(_claims(exp="never"))), id="exp-a-string"),
    pytest.param(
        lambda: _bearer(_signed(_claims(exp=int(time.time()) - 10))), id="expired-past-leeway"
    ),
    pytest.param(
        lambda: _bearer(_signed(_claims(nbf=int(time.time()) + 30))), id="nbf-past-leeway"
    ),
    pytest.param(lambda: _bearer(_signed(_claims(roles=[1, 2]))), id="roles-numbers"),
    pytest.param(lambda: _bearer(_signed(_claims(roles={"supervisor": True}))), id="roles-dict"),
    pytest.param(lambda: _bearer(_signed(_claims(roles=None))), id="roles-missing"),
    pytest.param(lambda: _bearer(_signed(_claims(sub=["sup-9"]))), id="sub-a-list"),
    pytest.param(lambda: _bearer(_signed(_claims(sub="sup 9"))), id="sub-with-a-space"),
    pytest.param(lambda: _bearer(_signed(_claims(sub=420042))), id="sub-a-number"),
    pytest.param(lambda: _bearer(_signed(_claims(name=42))), id="name-a-number"),
    pytest.param(lambda: _bearer(_signed(_claims(padding="x" * 1_048_576))), id="1mb-signed-token"),
    pytest.param(lambda: _bearer("e" * 1_048_576), id="1mb-garbage"),
    pytest.param(lambda: _bearer(GOOD() + "."), id="trailing-dot"),
    pytest.param(lambda: _bearer(GOOD() + ".e30"), id="four-segments"),
    pytest.param(lambda: _bearer("." + GOOD()), id="leading-dot"),
    pytest.param(lambda: _bearer(GOOD().replace(".", "..", 1)), id="double-dot"),
    pytest.param(lambda: _bearer("...."), id="only-dots"),
    pytest.param(lambda: _bearer(f"{GOOD()} {GOOD()}"), id="two-tokens"),
]
NO_SUCH_ROLE = [["Supervisor"], ["SUPERVISOR"], [" supervisor"], ["supervisor "], ["admin"]]


def _rows(client: TestClient, table: str) -> int:
    with client.app.state.read_models.store.reading() as cursor:  # type: ignore[attr-defined]
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        return int(cursor.fetchone()[0])


def _footprint(client: TestClient) -> tuple[int, int, int]:
    """What a request that reached a handler leaves behind: events, access-log rows, keys."""
    return (
        head_position(client),
        _rows(client, "access_log"),
        _rows(client, "idempotency_keys"),
    )


def _send_everywhere(
    client: TestClient, headers: dict[str, str], complaint: dict[str, Any], status: int
) -> None:
    for endpoint in EVERY_ENDPOINT:
        sent = headers | {"Idempotency-Key": f"key-{endpoint.name}"}
        response = endpoint.send(client, sent, complaint)
        assert response.status_code == status, f"{endpoint.name}: {response.text[:300]}"
        assert_problem(response, status)


@pytest.mark.filterwarnings(
    "ignore::jwt.warnings.InsecureKeyLengthWarning"
)  # HS384/HS512 forgeries
def test_forged_tokens_reach_no_handler(client: TestClient, subtests: pytest.Subtests) -> None:
    complaint = complaint_in(client, "in_contact")[-1]
    before = _footprint(client)

    for case in FORGED:
        with subtests.test(token=case.id):
            _send_everywhere(client, case.values[0](), complaint, 401)
            assert _footprint(client) == before, "a forged token reached a handler"

    for roles in NO_SUCH_ROLE:
        with subtests.test(roles=roles):
            _send_everywhere(client, _bearer(_signed(_claims(roles=roles))), complaint, 403)
            assert _footprint(client) == before, "a token without a role reached a handler"

    with subtests.test("the control: the footprint sees a read that got through"):
        response = client.get(f"/complaints/{complaint['complaint_id']}", headers=AUDITOR)
        assert response.status_code == 200, response.text
        assert _footprint(client)[1] == before[1] + 1


# ---- timing of the signature check -----------------------------------------------------------


def _forgeries() -> tuple[str, str]:
    """The right token with its signature's first byte, and then its last byte, changed."""
    token = mint_token(JWT_SECRET, sub="aud-1", name="Auditor", roles=["auditor"], ttl=3600)
    header, payload, signature = token.split(".")
    raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))

    def flipped(index: int) -> str:
        changed = bytearray(raw)
        changed[index] ^= 0x01
        return f"Bearer {header}.{payload}.{_b64(bytes(changed))}"

    return flipped(0), flipped(len(raw) - 1)


def _median_ns(authorization: str, repetitions: int) -> float:
    samples = []
    for _ in range(repetitions):
        started = time.perf_counter_ns()
        try:
            authenticate(authorization, JWT_SECRET)
        except ProblemError:
            pass
        else:  # pragma: no cover - a forgery let in is a failure of its own
            raise AssertionError("a forged signature was accepted")
        samples.append(time.perf_counter_ns() - started)
    return statistics.median(samples)


def _late_over_early(rounds: int = 30, repetitions: int = 200) -> float:
    """Median verification time of last-byte over first-byte forgeries, rounds interleaved."""
    early, late = _forgeries()
    early_medians: list[float] = []
    late_medians: list[float] = []
    for round_number in range(rounds):
        pair = [(early, early_medians), (late, late_medians)]
        for authorization, medians in pair if round_number % 2 else reversed(pair):
            medians.append(_median_ns(authorization, repetitions))
    return float(statistics.median(late_medians) / statistics.median(early_medians))


def test_the_signature_is_compared_with_hmac_compare_digest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    early, _ = _forgeries()
    with pytest.raises(ProblemError):
        authenticate(early, JWT_SECRET)
    assert len(calls) == 1, calls
    forged, expected = calls[0]
    assert len(forged) == len(expected) == 32
    assert forged != expected


@pytest.mark.alone
def test_verification_time_does_not_depend_on_where_the_signature_differs() -> None:
    # Measured: the two medians agree within 0.5% here; 10% is generous. A shared machine can
    # still disturb one measurement, so it gets three: a real leak is outside every time.
    ratios = []
    for _ in range(3):
        ratios.append(_late_over_early())
        if 0.9 < ratios[-1] < 1.1:
            break
    assert 0.9 < ratios[-1] < 1.1, f"last-byte forgeries take {ratios}x as long as first-byte ones"


@pytest.mark.alone
def test_the_timing_measurement_can_see_an_early_exit_comparison(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The control: a comparison that stops at the first differing byte (and does a little
    # work per equal byte) is what the measurement above must catch.
    def leaky(a: bytes, b: bytes) -> bool:
        for x, y in zip(a, b, strict=False):
            if x != y:
                return False
            sum(range(40))
        return len(a) == len(b)

    monkeypatch.setattr(hmac, "compare_digest", leaky)
    assert _late_over_early(rounds=10) > 1.1
