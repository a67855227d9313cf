"""The `complaints` command as operators run it (docs/API.md "Settings"), as real subprocesses.

`seed` lodges a realistic mix through the application, with a progress bar, the same for the
same seed; `verify` finds an untouched log of a few thousand events valid, like GET /integrity;
a bad setting stops `serve` and `token` with one clear line naming the variable.
"""

from __future__ import annotations

import re
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.cli.commands import cli
from api.settings import Settings
from tests.ops_support import cli_env, event_count, free_port, is_sqlite, raw_sql, run_cli
from tests.support import AUDITOR, JWT_SECRET, SUPERVISOR, head_position, lodge

UNTIL = "2025-06-27"  # long past: every seeded case has gone as far as it will


@pytest.fixture
def second_database_url(
    database_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[str]:
    """Another fresh, empty database of the same kind as `database_url`."""
    if is_sqlite(database_url):
        yield f"sqlite:///{tmp_path}/second.db"
        return
    admin: str = request.getfixturevalue("postgres_admin")
    name = f"complaints_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(database_url: str, cwd: Path, cases: int, seed_value: int = 5) -> str:
    """Runs `complaints seed`; returns its stderr."""
    args = ["seed", "--cases", str(cases), "--seed", str(seed_value), "--until", UNTIL]
    result = run_cli(args, cli_env(database_url), cwd)
    assert result.returncode == 0, result.stderr
    return result.stderr


def app_on(database_url: str) -> TestClient:
    settings = Settings(_env_file=None, database_url=database_url, projections="embedded")
    return TestClient(create_app(settings, jwt_secret=JWT_SECRET))


def statistics(client: TestClient) -> dict[str, Any]:
    wait = {"min_position": head_position(client), "wait_ms": 10_000}
    figures = {}
    for name in ("learning", "timeliness"):
        response = client.get(f"/statistics/{name}", params=wait, headers=SUPERVISOR)
        assert response.status_code == 200, response.text
        figures[name] = response.json()
    return figures


def test_seed_lodges_a_realistic_mix_the_same_for_the_same_seed(
    database_url: str, second_database_url: str, tmp_path: Path
) -> None:
    with ThreadPoolExecutor(2) as pool:
        outputs = list(
            pool.map(lambda url: seed(url, tmp_path, 300), (database_url, second_database_url))
        )
    for stderr in outputs:
        assert "seeding" in stderr
        assert re.search(r"\b300/300\b", stderr), stderr  # the progress bar, finished
        assert "Traceback" not in stderr

    figures = []
    for url in (database_url, second_database_url):
        with app_on(url) as client:
            figures.append(statistics(client))
    learning = figures[0]["learning"]
    assert learning["total"] == 300
    assert sum(learning["subject_kind"].values()) == 300
    assert sum(learning["channel"].values()) == 300
    for dimension in ("subject_kind", "channel", "outcome", "behaviour", "standing"):
        assert len([v for v in learning[dimension].values() if v > 0]) >= 3, learning[dimension]
    assert 0 < sum(learning["outcome"].values()) < 300  # resolved, and some still open or sent
    assert sum(learning["redirect_destination"].values()) > 0
    assert 0 < learning["late"] < 300
    timeliness = figures[0]["timeliness"]
    assert timeliness["lodged_to_resolved"]["count"] > 0
    assert figures[1] == figures[0]  # deterministic


def test_a_seeded_log_of_thousands_of_events_verifies(database_url: str, tmp_path: Path) -> None:
    seed(database_url, tmp_path, 560, seed_value=11)  # over 2,000 events: more than one page
    settings = Settings(_env_file=None, database_url=database_url, projections="external")
    with TestClient(create_app(settings, jwt_secret=JWT_SECRET)) as client:
        lodge(client)  # the API chains on to what `seed` wrote
        events = event_count(database_url)
        assert events > 2000
        whole = client.get("/integrity", headers=AUDITOR).json()
        assert whole["valid"] is True, whole
        assert whole["events_checked"] == events
        assert whole["head_position"] == head_position(client)
        table = "stored_events" if is_sqlite(database_url) else "complaints_events"
        seeded = [str(UUID(str(row[0]))) for row in raw_sql(
            database_url, f"SELECT originator_id FROM {table} WHERE originator_version = 3 LIMIT 5"
        )]  # fmt: skip
        assert len(seeded) == 5
        for complaint_id in seeded:
            verdict = client.get(f"/complaints/{complaint_id}/verify", headers=AUDITOR).json()
            assert verdict["valid"] is True, verdict
            assert verdict["events"] >= 3

    result = run_cli(["verify"], cli_env(database_url), tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"\b{events} events checked, valid\b", result.stdout), result.stdout
    assert "Traceback" not in result.stderr
    one = CliRunner().invoke(
        cli, ["verify", "--complaint", seeded[0]], env={"COMPLAINTS_DATABASE_URL": database_url}
    )
    assert one.exit_code == 0, one.output
    assert re.search(r"\bvalid\b", one.stdout), one.stdout


# (command, variable, bad value, where it is set): `serve` and `token` load the settings first.
BAD_SETTINGS = [
    ("serve", "FIRST_CONTACT_DUE_DAYS", "abc", "environment"),
    ("serve", "DATABASE_URL", "mysql://x", "environment"),
    ("serve", "PROJECTIONS", "sometimes", ".env"),
    ("token", "RESOLUTION_DUE_DAYS", "0", "environment"),
    ("token", "DATABASE_URL", "mysql://x", ".env"),
]
COMMANDS = {
    "serve": ["serve", "--port", str(free_port())],
    "token": ["token", "--sub", "a-1", "--name", "A", "--role", "auditor"],
}


@pytest.fixture(scope="module")
def refusals(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[str, str, subprocess.CompletedProcess[str]]]:
    """Every bad setting under every command, run in parallel: (command, variable, result)."""

    def run(case: tuple[str, str, str, str]) -> tuple[str, str, Any]:
        name, variable, value, where = case
        cwd = tmp_path_factory.mktemp("settings")
        env = cli_env(f"sqlite:///{cwd}/c.db")
        if where == ".env":
            (cwd / ".env").write_text(f"COMPLAINTS_{variable}={value}\n")
            env.pop(f"COMPLAINTS_{variable}", None)
        else:
            env[f"COMPLAINTS_{variable}"] = value
        return name, variable, run_cli(COMMANDS[name], env, cwd, timeout=30)

    with ThreadPoolExecutor(len(BAD_SETTINGS)) as pool:
        return list(pool.map(run, BAD_SETTINGS))


def test_a_bad_setting_stops_the_command_naming_the_variable(
    refusals: list[tuple[str, str, subprocess.CompletedProcess[str]]],
) -> None:
    assert len(refusals) == len(BAD_SETTINGS)
    for name, variable, result in refusals:
        assert result.returncode != 0, (name, variable, result.stdout)
        assert f"COMPLAINTS_{variable}" in result.stderr, (name, result.stderr)
        assert "Traceback" not in result.stderr, result.stderr
        assert result.stdout == "", (name, result.stdout)  # no token, no server


def test_a_bad_setting_is_reported_on_one_line(
    refusals: list[tuple[str, str, subprocess.CompletedProcess[str]]],
) -> None:
    for name, variable, result in refusals:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1, (name, variable, lines)
        assert f"COMPLAINTS_{variable}" in lines[0]
