"""Who may send each command of the statutory process (docs/API.md), on both stores.

Each allowed role succeeds on a fresh complaint in the state the command needs; every other
role gets 403 and nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.test_statutory import (
    DISCRIMINATION,
    RECORD,
    REVIEW,
    RUDENESS,
    UPDATE,
    _notified,
    _outcome,
    _post,
    _prepare,
    _recorded,
    _withdrawal,
)
from tests.support import (
    CASEWORKER,
    ROLE_HEADERS,
    SUPERVISOR,
    assert_problem,
    command,
    nothing_recorded,
)

CASEWORKERS = frozenset({"caseworker", "supervisor"})
SUPERVISORS = frozenset({"supervisor"})


def _in_contact(client: TestClient) -> str:
    return _prepare(client, "in_contact")


def _referred(client: TestClient) -> str:
    complaint_id = _recorded(client, DISCRIMINATION)
    command(client, complaint_id, "iopc-referral", {}, SUPERVISOR)
    return complaint_id


def _under_review(client: TestClient) -> str:
    complaint_id = _notified(client)
    command(client, complaint_id, "review", REVIEW, CASEWORKER)
    return complaint_id


def _recorded_rude(client: TestClient) -> str:
    return _recorded(client, RUDENESS)


CASES: list[
    tuple[str, Callable[[TestClient], str], Callable[[], dict[str, Any]], frozenset[str]]
] = [
    ("allegations", _in_contact, lambda: RUDENESS, CASEWORKERS),
    ("handling", _in_contact, lambda: RECORD, CASEWORKERS),
    ("iopc-referral", _recorded_rude, dict, SUPERVISORS),
    ("iopc-determination", _referred, lambda: {"mode": "local_investigation"}, SUPERVISORS),
    ("updates", _recorded_rude, lambda: UPDATE, CASEWORKERS),
    ("outcome", _recorded_rude, lambda: _outcome("A1"), CASEWORKERS),
    ("review", _notified, lambda: REVIEW, CASEWORKERS),
    (
        "review-decision",
        _under_review,
        lambda: {"reasonable_and_proportionate": True, "recommendations": []},
        SUPERVISORS,
    ),
    ("withdraw", _in_contact, _withdrawal, CASEWORKERS),
]


@pytest.mark.parametrize(("path", "prepare", "body", "allowed"), CASES, ids=[c[0] for c in CASES])
def test_each_role_is_allowed_or_refused(
    client: TestClient,
    path: str,
    prepare: Callable[[TestClient], str],
    body: Callable[[], dict[str, Any]],
    allowed: frozenset[str],
) -> None:
    shared = prepare(client)
    for role, headers in ROLE_HEADERS.items():
        if role in allowed:
            answer = _post(client, prepare(client), path, body(), headers)
            assert answer.status_code == 200, (role, answer.text)
            continue
        with nothing_recorded(client, shared):
            assert_problem(_post(client, shared, path, body(), headers), 403)
