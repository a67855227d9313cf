"""No personal value in clear at rest (docs/DOMAIN.md part C): not in a file of the database,
not in its WAL, not in a row of any table, not in a log line; and none left after erasure.

A real `complaints serve` (stdout and stderr captured) takes a complaint with a marker in
every personal field that can hold one through its life over HTTP, each command with an
Idempotency-Key (that table is a side channel), plus a refused command carrying a marker and
a subject-access search for the marked email (the access log records searches).
After a checkpoint, every file of the test database's own directory and of pg_wal (or the
SQLite file, its -wal, -shm and everything beside it) is searched for the marker's bytes.
A control string (the investigator's name: staff are kept in clear) is written the same way
and must be found, so the search is known to reach the data. PostgreSQL columns are made
uncompressed first (STORAGE EXTERNAL): a compressed value would hide a marker from a byte
search. The row dump reads every table through SQL, which sees through any storage; the
lines PostgreSQL itself logged meanwhile (/var/log/postgresql, where readable) are searched too.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient

from domain.rules import local_date
from tests.ops_support import COMPLAINTS, cli_env, free_port, is_sqlite, raw_sql
from tests.records import ERASE, RECORDS_MANAGER, key_rows, lodging_with, new_marker
from tests.support import CASEWORKER, INTAKE, auth

MARKER = new_marker()  # in every personal field (see tests.records)
CONTROL = "ctl" + uuid.uuid4().hex[:12]  # the investigator's name, stored in clear by design
NEEDLES = [MARKER.encode(), MARKER.upper().encode()]  # shoulder numbers are upper-cased
SUPERVISOR = auth("sup-1", "supervisor", name=f"DI {CONTROL}")
RECORDS = auth("rm-1", "records_manager", name="Records Officer")
ASSIGN = {"investigator_id": "cw-1", "investigator_name": f"DS {CONTROL}"}
CONTACT = {"method": "phone", "summary": f"Talked it through. {MARKER}con"}
RESOLVE = {
    "outcome": "apology_given",
    "summary": f"Apologised. {MARKER}res",
    "learning": [{"theme": "communication", "note": f"Be patient. {MARKER}lrn"}],
}
POSTGRES_AREAS = ("pg_wal", "pg_notify")  # besides base/<oid>: the WAL, NOTIFY's queue
START_TIMEOUT = 30.0


def keyed(headers: dict[str, str]) -> dict[str, str]:
    return headers | {"Idempotency-Key": uuid.uuid4().hex}


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def through_its_life(client: httpx.Client | TestClient) -> tuple[str, int]:
    """Lodged, assigned, contacted, resolved, then a refused contact: (id, last position)."""
    lodged = ok(client.post("/complaints", json=lodging_with(MARKER), headers=keyed(INTAKE)), 201)
    path = f"/complaints/{lodged['complaint_id']}"
    position = ok(client.post(f"{path}/assign", json=ASSIGN, headers=keyed(SUPERVISOR)))["position"]
    for step, body in (("contacts", CONTACT), ("resolve", RESOLVE)):
        position = ok(client.post(f"{path}/{step}", json=body, headers=keyed(CASEWORKER)))[
            "position"
        ]
    late = {"method": "phone", "summary": f"Too late. {MARKER}ref"}
    refused = client.post(f"{path}/contacts", json=late, headers=keyed(CASEWORKER))
    assert 400 <= refused.status_code < 500, refused.text  # a refusal the key table keeps
    return str(lodged["complaint_id"]), int(position)


# Schedule 3 (docs/DOMAIN.md part B): every free-text field its events add is personal too.
STATUTORY_STEPS: list[tuple[str, dict[str, Any], dict[str, str]]] = [
    (
        "contacts",
        {
            "method": "phone",
            "summary": f"Views sought. {MARKER}vws",
            "wants_recording": True,
            "desired_outcome": f"An apology. {MARKER}dso",
        },
        CASEWORKER,
    ),
    (
        "allegations",
        {"category": "individual_behaviours", "description": f"Swore. {MARKER}alg"},
        CASEWORKER,
    ),
    ("handling", {"mode": "schedule_3", "reason": "Asked for."}, CASEWORKER),
    ("updates", {"method": "letter", "summary": f"Progress. {MARKER}upd"}, CASEWORKER),
    (
        "outcome",
        {
            "allegations": [{"allegation_id": "A1", "outcome": "upheld"}],
            "summary": f"Upheld. {MARKER}out",
            "learning": [{"theme": "communication", "note": f"Tone. {MARKER}oln"}],
        },
        CASEWORKER,
    ),
    ("review", {"grounds": f"Unfair. {MARKER}grd"}, CASEWORKER),
    (
        "review-decision",
        {"reasonable_and_proportionate": False, "recommendations": [f"Redo. {MARKER}rec"]},
        SUPERVISOR,
    ),
]
STATUTORY_FIELDS = [
    "desired_outcome", "allegations.0.description", "updates.0.summary", "outcome.summary",
    "outcome.learning.0.note", "review.grounds", "review.recommendations.0",
    "reviews.0.grounds", "reviews.0.recommendations.0", "withdrawal.scope",
]  # fmt: skip


def through_schedule_3(client: httpx.Client | TestClient) -> tuple[str, int]:
    """Recorded, updated, notified, reviewed, reopened, then withdrawn: (id, last position)."""
    lodged = ok(client.post("/complaints", json=lodging_with(MARKER), headers=keyed(INTAKE)), 201)
    path = f"/complaints/{lodged['complaint_id']}"
    ok(client.post(f"{path}/assign", json=ASSIGN, headers=keyed(SUPERVISOR)))
    for step, body, headers in STATUTORY_STEPS:
        ok(client.post(f"{path}/{step}", json=body, headers=keyed(headers)))
    today = local_date(datetime.now(UTC)).isoformat()
    withdrawal = {"signed_by": "agent", "signed_on": today, "scope": f"All. {MARKER}scp"}
    withdrawn = ok(client.post(f"{path}/withdraw", json=withdrawal, headers=keyed(CASEWORKER)))
    assert withdrawn["status"] == "withdrawn"
    assert all(MARKER in str(dig(withdrawn, field)) for field in STATUTORY_FIELDS), withdrawn
    return str(lodged["complaint_id"]), int(withdrawn["position"])


def search_by_email(client: httpx.Client, *complaint_ids: str) -> None:
    """A subject-access search with the marked email: the access log records the search."""
    email = {"email": f"{MARKER}cem@example.org"}
    found = ok(client.post("/subject-access", json=email, headers=RECORDS))
    assert sorted(item["complaint_id"] for item in found["items"]) == sorted(complaint_ids)


def assert_reads_in_clear(client: httpx.Client | TestClient, complaint_id: str) -> None:
    body = ok(client.get(f"/complaints/{complaint_id}", headers=CASEWORKER))
    assert body["complainant"]["name"] == f"Ms {MARKER}cna"
    assert body["subject"]["shoulder_number"] == f"{MARKER}sh"
    assert body["on_behalf_of"]["consent_reference"] == f"{MARKER}obc"
    assert body["description"] == f"He shouted at me. {MARKER}des"
    assert body["resolution"]["learning"][0]["note"] == f"Be patient. {MARKER}lrn"


def dig(body: Any, path: str) -> Any:
    """The value at a dotted path; None where a parent is None (an erased object)."""
    for step in path.split("."):
        if body is None:
            return None
        body = body[int(step)] if isinstance(body, list) else body[step]
    return body


def catch_up(client: httpx.Client | TestClient, position: int) -> None:
    """Waits until the read models have applied `position` (they are written from it)."""
    wait = {"min_position": position, "wait_ms": 10_000}
    ok(client.get("/complaints", params=wait, headers=SUPERVISOR))


# ---- the store, as bytes ---------------------------------------------------------------------


def table_rows(database_url: str) -> dict[str, list[bytes]]:
    """Every row of every table, each value as bytes (text in UTF-8, bytea/BLOB as stored)."""
    if is_sqlite(database_url):
        listed = "SELECT '', name FROM sqlite_master WHERE type = 'table'"
    else:
        listed = (
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
    dump = {}
    for schema, table in raw_sql(database_url, listed):
        quoted = f'"{schema}"."{table}"' if schema else f'"{table}"'
        rows = raw_sql(database_url, f"SELECT * FROM {quoted}")
        dump[f"{schema}.{table}"] = [b"\x1f".join(_as_bytes(v) for v in row) for row in rows]
    return dump


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode("utf-8")


def tables_holding(rows: dict[str, list[bytes]], needles: list[bytes]) -> list[str]:
    return sorted(t for t, values in rows.items() if any(n in v for v in values for n in needles))


def files_holding(paths: list[Path], needles: list[bytes]) -> list[str]:
    found = []
    for path in paths:
        try:
            data = path.read_bytes()
        except FileNotFoundError:  # a WAL segment recycled while we looked
            continue
        if any(needle in data for needle in needles):
            found.append(str(path))
    return found


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def database_files(database_url: str) -> list[Path]:
    """Checkpoints, then lists every file the store keeps its data in."""
    if is_sqlite(database_url):
        database = Path(database_url.removeprefix("sqlite:///"))
        with closing(sqlite3.connect(database, timeout=10)) as lite:
            busy = lite.execute("PRAGMA wal_checkpoint(FULL)").fetchone()[0]
        assert busy == 0, "the checkpoint could not finish"
        return files_under(database.parent)
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("CHECKPOINT")
        row = connection.execute(
            "SELECT current_setting('data_directory'), oid FROM pg_database "
            "WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    data, oid = Path(row[0]), row[1]
    if not data.is_dir():
        pytest.skip(f"the PostgreSQL data directory {data} is not on this machine")
    if not os.access(data, os.R_OK | os.X_OK):
        pytest.skip(
            f"the PostgreSQL data directory {data} (mode {oct(data.stat().st_mode & 0o777)}, "
            f"owner uid {data.stat().st_uid}) is not readable by uid {os.getuid()}: run the "
            "tests as root or as the server's user"
        )
    folders = [data / "base" / str(oid), *(data / area for area in POSTGRES_AREAS)]
    return [path for folder in folders for path in files_under(folder)]


def uncompressed_columns(database_url: str) -> None:
    """Every PostgreSQL column that could be compressed stored as is (STORAGE EXTERNAL)."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        connection.execute("SET lock_timeout = '10s'")
        columns = connection.execute(
            "SELECT c.relname, a.attname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND "
            "c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attstorage IN ('x', 'm')"
        ).fetchall()
        for table, column in columns:
            connection.execute(
                f'ALTER TABLE "{table}" ALTER COLUMN "{column}" SET STORAGE EXTERNAL'
            )
    assert columns, "no column to make uncompressed: the tables are not there"


# ---- a real server ---------------------------------------------------------------------------


@contextmanager
def server(database_url: str, folder: Path) -> Iterator[tuple[httpx.Client, Path, Path]]:
    """`complaints serve` with embedded projections; yields a client and its two log files."""
    folder.mkdir()
    port = free_port()
    out, err = folder / "stdout.log", folder / "stderr.log"
    env = cli_env(database_url, projections="embedded")
    args = [COMPLAINTS, "serve", "--host", "127.0.0.1", "--port", str(port)]
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(args, env=env, cwd=folder, stdout=stdout, stderr=stderr)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_ready(client, process, err)
            yield client, out, err
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def wait_ready(client: httpx.Client, process: subprocess.Popen[bytes], err: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert process.poll() is None, err.read_text(errors="replace")
        try:
            if client.get("/health/ready").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"serve was not ready in {START_TIMEOUT}s: {err.read_text()}")


def server_log_since(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as log:
            log.seek(offset)
            return log.read()
    except OSError:
        return b""


def test_no_personal_value_in_any_file_row_or_log_line(database_url: str, tmp_path: Path) -> None:
    server_logs = sorted(Path("/var/log/postgresql").glob("*.log"))
    offsets = {path: path.stat().st_size for path in server_logs if os.access(path, os.R_OK)}
    with server(database_url, tmp_path / "logs") as (client, out, err):
        if not is_sqlite(database_url):
            uncompressed_columns(database_url)
        complaint_id, _ = through_its_life(client)
        recorded_id, position = through_schedule_3(client)
        search_by_email(client, complaint_id, recorded_id)
        catch_up(client, position)
        assert_reads_in_clear(client, complaint_id)

        files = database_files(database_url)
        rows = table_rows(database_url)

        assert_reads_in_clear(client, complaint_id)  # still, after the checkpoint
    logged = out.read_bytes() + err.read_bytes()
    postgres_logged = b"".join(server_log_since(p, at) for p, at in offsets.items())

    assert files_holding(files, [CONTROL.encode()]), "the search does not reach the data"
    assert files_holding(files, NEEDLES) == []
    if not is_sqlite(database_url):
        wal = [p for p in files if "pg_wal" in p.parts]
        assert files_holding(wal, [CONTROL.encode()]), "the WAL search does not reach our writes"
    assert tables_holding(rows, [CONTROL.encode()]), "the row dump does not reach the data"
    assert tables_holding(rows, NEEDLES) == []
    assert b'"route":"/complaints/{complaint_id}/resolve","status":200' in logged, logged
    assert all(needle not in logged for needle in NEEDLES), "a marker was logged"
    assert all(needle not in postgres_logged for needle in NEEDLES), "PostgreSQL logged one"


def test_after_erasure_no_row_holds_a_marker_and_the_keys_are_gone(
    client: TestClient, database_url: str
) -> None:
    complaint_id, _ = through_its_life(client)
    assert_reads_in_clear(client, complaint_id)
    complaints = client.app.state.complaints  # type: ignore[attr-defined]

    erased = complaints.act(UUID(complaint_id), ERASE, actor=RECORDS_MANAGER)
    catch_up(client, erased.position)

    rows = table_rows(database_url)
    assert tables_holding(rows, [CONTROL.encode()]), "the row dump does not reach the data"
    assert tables_holding(rows, NEEDLES) == []
    keys = key_rows(database_url, UUID(complaint_id))
    assert sorted(keys) == ["complainant", "narrative", "subject"]
    assert all(wrapped is None for wrapped, _, _ in keys.values()), keys
    in_index = "SELECT count(*) FROM subject_index WHERE complaint_id = ?"
    assert raw_sql(database_url, in_index, (str(UUID(complaint_id)),)) == [(0,)]
    response = client.get(f"/complaints/{complaint_id}", headers=CASEWORKER)
    body = ok(response)
    assert MARKER not in response.text
    assert body["erased"] is not None
    fields = ["complainant.name", "complainant.email", "complainant.address",
              "on_behalf_of.name", "on_behalf_of.consent_reference", "channel_detail",
              "subject.name", "subject.shoulder_number", "subject.description", "description",
              "location", "contacts.0.summary", "resolution.summary",
              "resolution.learning.0.note"]  # fmt: skip
    personal = {field: dig(body, field) for field in fields}
    assert personal == dict.fromkeys(fields), body
    assert body["subject"]["kind"] == "officer"  # what is not personal stays


def test_after_erasure_no_statutory_value_is_left(client: TestClient, database_url: str) -> None:
    # Given a complaint taken through Schedule 3 with a marker in every free-text field
    complaint_id, _ = through_schedule_3(client)
    complaints = client.app.state.complaints  # type: ignore[attr-defined]

    # When its personal data is erased
    erased = complaints.act(UUID(complaint_id), ERASE, actor=RECORDS_MANAGER)
    catch_up(client, erased.position)

    # Then no row holds a marker, and the fields read as null, in the complaint and its history
    assert tables_holding(table_rows(database_url), NEEDLES) == []
    response = client.get(f"/complaints/{complaint_id}", headers=CASEWORKER)
    body = ok(response)
    assert MARKER not in response.text
    assert {field: dig(body, field) for field in STATUTORY_FIELDS} == dict.fromkeys(
        STATUTORY_FIELDS
    )
    assert body["allegations"][0]["category"] == "individual_behaviours"  # not personal
    history = client.get(f"/complaints/{complaint_id}/history", headers=CASEWORKER)
    assert history.status_code == 200
    assert MARKER not in history.text
