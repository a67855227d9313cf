"""A new user's first minutes: `complaints serve` with nothing set, in a folder with nothing in it.

Every other test runs in a prepared folder with the settings given, which is how a fresh clone's
`make run` could crash (its `./var` did not exist yet) without a test noticing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.cli.commands import this_command
from tests.ops_support import START_TIMEOUT, Server

TOKEN_LINE = re.compile(r"^\s*(COMPLAINTS_JWT_SECRET=\S+ .* token .*)$", re.MULTILINE)


def a_new_shell() -> dict[str, str]:
    """What a new terminal has: no COMPLAINTS_ setting, and no virtualenv on the PATH."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/root"),
        "LANG": "C.UTF-8",
    }


def wait_ready(server: Server, timeout: float = START_TIMEOUT) -> httpx.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"serve exited {server.process.returncode}: {server.log()}")
        try:
            response = httpx.get(f"{server.url}/health/ready", timeout=2)
            if response.status_code == 200:
                return response
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"/health/ready never answered 200: {server.log()}")


@pytest.fixture(scope="module")
def first_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    folder = tmp_path_factory.mktemp("fresh-clone")
    server = Server(a_new_shell(), folder)
    try:
        yield server, folder
    finally:
        server.stop()


def test_serve_with_default_settings_becomes_ready_in_an_empty_folder(
    first_run: tuple[Server, Path],
) -> None:
    # Given an empty folder and no settings at all, when `complaints serve` starts there
    server, folder = first_run
    # then it becomes ready, with its SQLite database created under ./var
    ready = wait_ready(server)
    assert ready.json()["status"] == "ready", ready.text
    assert (folder / "var" / "complaints.db").is_file()


def test_the_printed_token_command_runs_as_it_is_in_a_new_shell(
    first_run: tuple[Server, Path],
) -> None:
    # Given the server started with no secret, so that it printed one and a token command
    server, folder = first_run
    wait_ready(server)
    printed = TOKEN_LINE.search(server.log())
    assert printed, server.log()
    # when that line is pasted, as printed, into a new shell in the same folder
    minted = subprocess.run(
        ["bash", "-c", printed.group(1)],
        env=a_new_shell(),
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    # then it prints a token that the running server accepts
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    response = httpx.get(
        f"{server.url}/complaints", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("argv0", "printed"),
    [
        (".venv/bin/complaints", ".venv/bin/complaints"),  # as `make run` starts it
        ("/opt/app/.venv/bin/complaints", "/opt/app/.venv/bin/complaints"),
        ("my dir/.venv/bin/complaints", "'my dir/.venv/bin/complaints'"),
    ],
)
def test_the_token_command_names_the_executable_as_it_was_started(
    monkeypatch: pytest.MonkeyPatch, argv0: str, printed: str
) -> None:
    monkeypatch.setattr(sys, "argv", [argv0, "serve"])
    assert this_command() == printed


def test_a_bare_command_name_is_resolved_to_its_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    executable = tmp_path / "complaints"
    executable.write_text("#!/bin/sh\n")
    executable.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sys, "argv", ["complaints", "serve"])
    assert this_command() == str(executable)
