"""On PostgreSQL, the statements run per request are plain SQL text, rendered once: psycopg
renders a composed statement's identifiers at every execution (a libpq escape each)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from api.app import create_app
from api.settings import Settings
from tests.support import AUDITOR, CASEWORKER, JWT_SECRET, SUPERVISOR, command, lodge


@pytest.mark.postgres
def test_a_command_and_a_read_render_no_identifier(
    postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The read models are a worker's here (projections external): only the requests' own
    # statements run.
    settings = Settings(_env_file=None, database_url=postgres_url, projections="external")  # type: ignore[call-arg]
    with TestClient(create_app(settings, jwt_secret=JWT_SECRET)) as client:
        complaint_id = lodge(client)["complaint_id"]
        assign = {"investigator_id": "cw-1", "investigator_name": "DS Ada"}
        command(client, complaint_id, "assign", assign, SUPERVISOR)
        rendered: list[sql.Identifier] = []
        as_bytes = sql.Identifier.as_bytes

        def counted(self: sql.Identifier, context: Any = None) -> bytes:
            rendered.append(self)
            return as_bytes(self, context)

        monkeypatch.setattr(sql.Identifier, "as_bytes", counted)
        contact = {"method": "phone", "summary": "Called back."}
        command(client, complaint_id, "contacts", contact, CASEWORKER)
        assert client.get(f"/complaints/{complaint_id}", headers=AUDITOR).status_code == 200
        # What a projection worker or a rebuild reads the log with, all day long.
        log = client.app.state.complaints.recorder.select_notifications(  # type: ignore[attr-defined]
            start=None, limit=10
        )
        assert [n.originator_version for n in log] == [1, 2, 3]
    assert rendered == []
