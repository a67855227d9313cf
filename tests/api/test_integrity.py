"""Tamper evidence (docs/API.md "Audit"), on SQLite and PostgreSQL.

Stored rows are edited directly in the database: a payload byte changed, an event deleted from
the middle of a complaint or at its end, two versions swapped, an event re-signed on a wrong
previous hash, a payload altered and re-signed on the right one, a type changed. Each must be
found by GET /complaints/{id}/verify, GET /integrity and `complaints verify` (run in-process),
exactly where it was made; putting the rows back makes everything valid again. A row altered
into nonsense (an id that is no UUID, a version that is no number) is reported, not a crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli.commands import cli
from api.settings import Settings
from domain.integrity import event_hash
from tests.ops_support import is_sqlite, raw_sql
from tests.support import (
    ANALYST,
    ASSIGN_CASEWORKER,
    AUDITOR,
    CASEWORKER,
    CONTACT,
    INTAKE,
    JWT_SECRET,
    RESOLVE,
    SUPERVISOR,
    assert_problem,
    command,
    lodge,
)

COLUMNS = "originator_id, originator_version, topic, state, event_hash, log_hash"


class Store:
    """The event table of one database, addressed by (complaint, version) and position."""

    def __init__(self, database_url: str) -> None:
        self.url = database_url
        sqlite = is_sqlite(database_url)
        self.table = "stored_events" if sqlite else "complaints_events"
        self.position = "rowid" if sqlite else "notification_id"
        self.sqlite = sqlite

    def key(self, complaint_id: str) -> Any:
        return UUID(complaint_id).hex if self.sqlite else UUID(complaint_id)

    def sql(self, statement: str, *params: Any) -> list[tuple[Any, ...]]:
        return raw_sql(self.url, statement.format(t=self.table, p=self.position), params)

    def row(self, complaint_id: str, version: int) -> tuple[Any, ...]:
        rows = self.sql(
            f"SELECT {{p}}, {COLUMNS} FROM {{t}} "
            "WHERE originator_id = ? AND originator_version = ?",
            self.key(complaint_id),
            version,
        )
        assert len(rows) == 1, rows
        return rows[0]

    def snapshot(self) -> list[tuple[Any, ...]]:
        return self.sql(f"SELECT {{p}}, {COLUMNS} FROM {{t}} ORDER BY {{p}}")

    def restore(self, rows: list[tuple[Any, ...]]) -> None:
        self.sql("DELETE FROM {t}")
        for row in rows:
            self.sql(f"INSERT INTO {{t}} ({{p}}, {COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)", *row)


@dataclass(frozen=True)
class Log:
    """Three complaints whose events interleave in the log (positions 1 to 8)."""

    a: str
    b: str
    c: str

    def ids(self) -> list[str]:
        return [self.a, self.b, self.c]


def interleaved(client: TestClient) -> Log:
    a, b = lodge(client)["complaint_id"], lodge(client)["complaint_id"]  # 1, 2
    for path, body, headers in (
        ("assign", ASSIGN_CASEWORKER, SUPERVISOR),  # 3, 4
        ("contacts", CONTACT, CASEWORKER),  # 5, 6
    ):
        command(client, a, path, body, headers)
        command(client, b, path, body, headers)
    command(client, a, "resolve", RESOLVE, CASEWORKER)  # 7: A's last event
    return Log(a, b, lodge(client)["complaint_id"])  # 8


def _altered(state: bytes) -> bytes:
    changed = state.replace(b"cw-1", b"cw-7", 1)  # one byte of the investigator's id
    assert changed != state
    return changed


# Each tampering: what it does to complaint A, and where it must be found:
# (A's first invalid version or None, the log's first invalid position, events left in A).
Tamper = Callable[[Store, Log], None]


def change_a_byte(store: Store, log: Log) -> None:
    position, _, _, _, state, _, _ = store.row(log.a, 2)
    store.sql("UPDATE {t} SET state = ? WHERE {p} = ?", _altered(bytes(state)), position)


def delete_in_the_middle(store: Store, log: Log) -> None:
    store.sql("DELETE FROM {t} WHERE {p} = ?", store.row(log.a, 2)[0])


def delete_the_last(store: Store, log: Log) -> None:
    store.sql("DELETE FROM {t} WHERE {p} = ?", store.row(log.a, 4)[0])


def swap_versions(store: Store, log: Log) -> None:
    second, third = store.row(log.a, 2)[0], store.row(log.a, 3)[0]
    for position, version in ((second, -2), (third, 2), (second, 3)):
        store.sql("UPDATE {t} SET originator_version = ? WHERE {p} = ?", version, position)


def resign_on_a_wrong_hash(store: Store, log: Log) -> None:
    position, _, _, topic, state, _, _ = store.row(log.a, 2)
    forged = event_hash(bytes(32), UUID(log.a), 2, topic, bytes(state))
    store.sql("UPDATE {t} SET event_hash = ? WHERE {p} = ?", forged, position)


def alter_and_resign(store: Store, log: Log) -> None:
    previous = bytes(store.row(log.a, 1)[5])
    position, _, _, topic, state, _, _ = store.row(log.a, 2)
    altered = _altered(bytes(state))
    forged = event_hash(previous, UUID(log.a), 2, topic, altered)
    store.sql("UPDATE {t} SET state = ?, event_hash = ? WHERE {p} = ?", altered, forged, position)


def change_the_type(store: Store, log: Log) -> None:
    position = store.row(log.a, 3)[0]
    store.sql("UPDATE {t} SET topic = ? WHERE {p} = ?", "complaints:ComplaintResolved", position)


# name -> (tampering, A's first invalid versions accepted, first invalid position, A's events)
# Positions: 1 A1, 2 B1, 3 A2, 4 B2, 5 A3, 6 B3, 7 A4, 8 C1.
CASES: dict[str, tuple[Tamper, set[int | None], int, int]] = {
    "a byte of a payload": (change_a_byte, {2}, 3, 4),
    "an event in the middle": (delete_in_the_middle, {3}, 4, 3),
    # A's own chain cannot tell that its last event is gone; the log chain breaks at C1.
    "the last event of a complaint": (delete_the_last, {None}, 8, 3),
    "two versions swapped": (swap_versions, {2}, 3, 4),
    "re-signed on a wrong previous hash": (resign_on_a_wrong_hash, {2}, 3, 4),
    # Consistent in itself, so A's chain breaks at the link to version 3.
    "altered and re-signed": (alter_and_resign, {2, 3}, 3, 4),
    "the type changed": (change_the_type, {3}, 5, 4),
}


def verify_cli(database_url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(
        cli, ["verify", *args], env={"COMPLAINTS_DATABASE_URL": database_url}
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stdout


def check_valid(client: TestClient, settings: Settings, log: Log, events: int) -> None:
    for complaint_id in log.ids():
        verdict = client.get(f"/complaints/{complaint_id}/verify", headers=AUDITOR).json()
        assert verdict["valid"] is True, verdict
        assert verdict["first_invalid_version"] is None
        assert re.fullmatch(r"[0-9a-f]{64}", verdict["head_hash"])
    whole = client.get("/integrity", headers=AUDITOR).json()
    assert whole["valid"] is True, whole
    assert whole["events_checked"] == events
    assert whole["head_position"] == events
    assert whole["first_invalid_position"] is None
    assert re.fullmatch(r"[0-9a-f]{64}", whole["head_hash"])
    status, output = verify_cli(settings.database_url)
    assert status == 0, output
    assert f"{events} events checked" in output
    status, output = verify_cli(settings.database_url, "--complaint", log.a)
    assert status == 0, output


def test_every_kind_of_tampering_is_found_where_it_was_made(
    client: TestClient, settings: Settings, subtests: pytest.Subtests
) -> None:
    log = interleaved(client)
    store = Store(settings.database_url)
    untouched = store.snapshot()
    assert len(untouched) == 8
    assert [store.row(log.a, v)[0] for v in (1, 2, 3, 4)] == [1, 3, 5, 7]
    check_valid(client, settings, log, 8)

    for name, (tamper, versions, position, events) in CASES.items():
        with subtests.test(tampering=name):
            tamper(store, log)
            try:
                verdict = client.get(f"/complaints/{log.a}/verify", headers=AUDITOR).json()
                assert verdict["events"] == events, verdict
                assert verdict["first_invalid_version"] in versions, verdict
                assert verdict["valid"] is (versions == {None}), verdict
                for other in (log.b, log.c):
                    verdict = client.get(f"/complaints/{other}/verify", headers=AUDITOR).json()
                    assert verdict["valid"] is True, verdict

                whole = client.get("/integrity", headers=AUDITOR).json()
                assert whole["valid"] is False, whole
                assert whole["first_invalid_position"] == position, whole
                assert whole["events_checked"] == len(store.snapshot())

                status, output = verify_cli(settings.database_url)
                assert status == 1, output
                assert re.search(rf"invalid position:? {position}\b", output), output
                status, output = verify_cli(settings.database_url, "--complaint", log.a)
                if versions != {None}:
                    assert status == 1, output
                    assert re.search(
                        rf"invalid version:? ({'|'.join(map(str, versions))})\b", output
                    )
            finally:
                store.restore(untouched)
            check_valid(client, settings, log, 8)


def test_only_auditors_verify(client: TestClient) -> None:
    complaint_id = lodge(client)["complaint_id"]
    for path in (f"/complaints/{complaint_id}/verify", "/integrity"):
        for headers in (INTAKE, CASEWORKER, SUPERVISOR, ANALYST):
            assert_problem(client.get(path, headers=headers), 403)
        assert_problem(client.get(path), 401)
        assert client.get(path, headers=AUDITOR).status_code == 200
    unknown = "/complaints/00000000-0000-4000-8000-000000000000/verify"
    assert_problem(client.get(unknown, headers=AUDITOR), 404)
    assert_problem(client.get("/complaints/not-a-uuid/verify", headers=AUDITOR), 422)


def test_an_empty_log_is_valid(client: TestClient) -> None:
    whole = client.get("/integrity", headers=AUDITOR).json()
    assert whole == {
        "events_checked": 0,
        "valid": True,
        "head_position": 0,
        "head_hash": None,
        "first_invalid_position": None,
    }


@pytest.mark.parametrize(
    ("column", "value"),
    [("originator_id", "not-a-uuid"), ("originator_version", None), ("originator_version", "two")],
)
def test_a_row_altered_beyond_its_types_is_reported_not_a_crash(
    sqlite_url: str, column: str, value: str | None
) -> None:
    # SQLite only: PostgreSQL's column types forbid such rows.
    settings = Settings(_env_file=None, database_url=sqlite_url, projections="external")
    app = create_app(settings, jwt_secret=JWT_SECRET)
    with TestClient(app, raise_server_exceptions=False) as client:
        log = interleaved(client)
        Store(sqlite_url).sql(f"UPDATE {{t}} SET {column} = ? WHERE {{p}} = 3", value)  # A2
        verdict = client.get(f"/complaints/{log.a}/verify", headers=AUDITOR)
        assert verdict.status_code == 200, verdict.text
        assert verdict.json()["valid"] is False
        whole = client.get("/integrity", headers=AUDITOR)
        assert whole.status_code == 200, whole.text
        assert whole.json()["first_invalid_position"] == 3
    status, output = verify_cli(sqlite_url)
    assert status == 1, output
    assert re.search(r"invalid position:? 3\b", output), output
