"""The hot read routes give their validated answer as JSON themselves (`api.http.responses`):
FastAPI does not validate it again, which for a sync route is a second hand-off to the thread
pool, and the answer is still what the route's response model documents, headers and all."""

from __future__ import annotations

from typing import Any

import fastapi.routing
import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.http.read_schemas import (
    CaseListPage,
    Caseload,
    InvestigatorCases,
    LearningStatisticsOut,
    TimelinessStatisticsOut,
)
from api.http.schemas import ComplaintOut, HistoryOut
from tests.support import ANALYST, AUDITOR, SUPERVISOR, command, lodge


@pytest.fixture
def validated_again(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths whose answers went through FastAPI's own response validation."""
    seen: list[str] = []
    original = fastapi.routing.serialize_response

    async def counting(**kwargs: Any) -> Any:
        seen.append(str(kwargs.get("endpoint_ctx")))
        return await original(**kwargs)

    monkeypatch.setattr(fastapi.routing, "serialize_response", counting)
    return seen


def test_the_read_routes_answer_once_validated_with_their_headers(
    client: TestClient, validated_again: list[str]
) -> None:
    lodged = lodge(client)
    complaint_id = lodged["complaint_id"]
    assign = {"investigator_id": "inv-1", "investigator_name": "DS Ada"}
    command(client, complaint_id, "assign", assign, SUPERVISOR)
    position = str(lodged["position"] + 1)
    routes: list[tuple[str, dict[str, str], type[BaseModel]]] = [
        (f"/complaints/{complaint_id}", AUDITOR, ComplaintOut),
        (f"/complaints/{complaint_id}/history", AUDITOR, HistoryOut),
        ("/complaints", SUPERVISOR, CaseListPage),
        ("/caseload", SUPERVISOR, Caseload),
        ("/caseload/inv-1", SUPERVISOR, InvestigatorCases),
        ("/statistics/learning", ANALYST, LearningStatisticsOut),
        ("/statistics/timeliness", ANALYST, TimelinessStatisticsOut),
    ]
    for path, headers, model in routes:
        params = {} if "/complaints/" in path else {"min_position": position}
        answer = client.get(path, params=params, headers=headers)
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["content-type"] == "application/json", path
        assert model.model_validate_json(answer.content).model_dump(mode="json", by_alias=True) == (
            answer.json()
        ), path
        if path.endswith(complaint_id):
            assert answer.headers["ETag"] == '"2"'
        elif "/complaints/" not in path:
            assert int(answer.headers["X-Projection-Position"]) >= int(position), path
    assert validated_again == []
