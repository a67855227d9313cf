"""`authenticate` remembers tokens it has verified, yet a token is never good past its time.

A caller sends the same token with every request, so a verified one is remembered (keyed by the
token and the key that checked it); each use still checks `nbf` and `exp` against the clock,
and a token refused once is never remembered.
"""

from __future__ import annotations

import time

import jwt
import pytest

from api.http import auth
from api.http.problems import ProblemError

SECRET = "a-secret-long-enough-for-hs256-tokens-here"
OTHER = "another-secret-long-enough-for-hs256-tokens"


def bearer(secret: str = SECRET, **claims: object) -> str:
    now = int(time.time())
    body = {"sub": "cw-1", "name": "DC One", "roles": ["caseworker"], "nbf": now, "exp": now + 60}
    return "Bearer " + jwt.encode({**body, **claims}, secret, algorithm="HS256")


@pytest.fixture(autouse=True)
def forget() -> None:
    auth._VERIFIED.clear()


def test_a_verified_token_is_not_checked_again_while_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    token = bearer()
    first = auth.authenticate(token, SECRET)
    monkeypatch.setattr(auth, "_claims", lambda *_: pytest.fail("checked again"))
    assert auth.authenticate(token, SECRET) is first


def test_a_remembered_token_is_checked_again_once_it_expires(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    token = bearer()
    auth.authenticate(token, SECRET)
    checked: list[str] = []

    def expired(token: str, secret: str) -> dict[str, object]:
        checked.append(token)
        raise auth._unauthorized("The token has expired.")

    monkeypatch.setattr(auth, "_claims", expired)
    assert auth.authenticate(token, SECRET).id == "cw-1"  # still valid: remembered
    later = time.time() + 60 + auth.LEEWAY + 1
    monkeypatch.setattr(time, "time", lambda: later)
    with pytest.raises(ProblemError) as refused:
        auth.authenticate(token, SECRET)  # past its exp: checked in full, and refused
    assert refused.value.status == 401
    assert len(checked) == 1


def test_a_token_is_remembered_only_for_the_key_that_checked_it() -> None:
    token = bearer()
    auth.authenticate(token, SECRET)
    with pytest.raises(ProblemError):
        auth.authenticate(token, OTHER)


def test_a_refused_token_is_not_remembered() -> None:
    forged = bearer(OTHER)
    for _ in range(2):
        with pytest.raises(ProblemError):
            auth.authenticate(forged, SECRET)
    assert auth._VERIFIED == {}


def test_the_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(auth, "_VERIFIED_MAX", 3)
    for n in range(10):
        auth.authenticate(bearer(sub=f"cw-{n}"), SECRET)
    assert len(auth._VERIFIED) <= 3
