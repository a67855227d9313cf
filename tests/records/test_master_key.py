"""The master key (docs/DOMAIN.md part C): rotation, and a wrong or missing key refused.

`complaints keys rotate-master` runs as operators run it, a subprocess; then a fresh
`build_complaints` with only the new key reads every personal field in clear, and the old key
is refused by name (in-process and by the CLI, exit 2, no traceback). An interrupted rotation
is finished by running it again; a key that erasure destroyed stays destroyed through it.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from uuid import UUID

import pytest

from api.app import build_complaints
from api.eventstore.keys import (
    MasterKey,
    MasterKeyError,
    decode_master_key,
    development_key_path,
    new_master_key_text,
)
from api.eventstore.rotation import rewrap_all
from tests.ops_support import cli_env, is_sqlite, raw_sql, run_cli
from tests.records import (
    ERASE,
    RECORDS_MANAGER,
    in_clear,
    key_id,
    key_rows,
    lodge_resolved,
    new_marker,
    read_all,
    settings_for,
    under,
)
from tests.support import MASTER_KEY

COMPLAINTS = 3
ROWS = COMPLAINTS * 3 + 1  # three parts each, and the blind index's key


class CrashError(Exception):
    """Stands for a kill: raised from the progress callback, after a batch has committed."""


def crash(done: int, total: int) -> None:
    raise CrashError


@pytest.fixture
def lodged(database_url: str) -> dict[UUID, str]:
    """Resolved complaints under the tests' master key: id -> the marker in its fields."""
    complaints = build_complaints(settings_for(database_url, MASTER_KEY))
    try:
        markers = [new_marker() for _ in range(COMPLAINTS)]
        return {lodge_resolved(complaints, marker): marker for marker in markers}
    finally:
        complaints.close()


def rotate(
    cwd: Path, env: dict[str, str], new_key: str | None, *extra: str
) -> subprocess.CompletedProcess[str]:
    args = ["keys", "rotate-master", *extra]
    if new_key is not None:
        key_file = cwd / f"new-master-key-{uuid.uuid4().hex[:6]}"
        key_file.write_text(new_key + "\n")
        args += ["--new-key-file", str(key_file)]
    return run_cli(args, env, cwd)


def all_key_rows(database_url: str) -> list[tuple[Any, ...]]:
    return sorted(
        raw_sql(
            database_url,
            "SELECT complaint_id, part, wrapped, master_key_id, destroyed_at FROM complaint_keys",
        ),
        key=lambda row: (row[0], row[1]),
    )


def interrupted_rotation(database_url: str, old: str, new: str, *, batch: int) -> None:
    """`rewrap_all` stopped after its first batch has committed, as a kill would stop it."""
    complaints = build_complaints(settings_for(database_url, old))
    datastore = cast(Any, complaints.recorder).datastore
    dialect = "sqlite" if is_sqlite(database_url) else "postgres"
    keys = [MasterKey(decode_master_key(text)) for text in (old, new)]
    try:
        with pytest.raises(CrashError):
            rewrap_all(datastore, dialect, *keys, batch=batch, progress=crash)
    finally:
        complaints.close()


def assert_refused_by_the_cli(database_url: str, cwd: Path, env: dict[str, str]) -> None:
    """`complaints verify` stops with the settings' name, exit 2, and no traceback."""
    result = run_cli(["verify"], env, cwd)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "COMPLAINTS_MASTER_KEY" in result.stderr, result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_after_rotation_only_the_new_key_reads_the_personal_data(
    database_url: str, lodged: dict[UUID, str], tmp_path: Path
) -> None:
    before = all_key_rows(database_url)
    assert under(database_url, key_id(MASTER_KEY)) == ROWS
    new = new_master_key_text()

    # Several batches, so the keyset pagination goes from one batch to the next.
    result = rotate(tmp_path, cli_env(database_url), new, "--batch", "3")

    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert f"re-wrapped {ROWS} data keys" in result.stderr, result.stderr
    assert key_id(new) in result.stderr
    assert "COMPLAINTS_MASTER_KEY" in result.stderr
    assert new not in result.stdout + result.stderr  # the operator's own key is not echoed
    after = all_key_rows(database_url)
    assert under(database_url, key_id(new)) == ROWS
    assert all(old[2] != now[2] for old, now in zip(before, after, strict=True))

    ids = list(lodged)
    assert read_all(database_url, new, ids) == {cid: in_clear(m) for cid, m in lodged.items()}
    with pytest.raises(MasterKeyError, match="COMPLAINTS_MASTER_KEY"):
        read_all(database_url, MASTER_KEY, ids)
    assert_refused_by_the_cli(database_url, tmp_path, cli_env(database_url))
    verified = run_cli(["verify"], cli_env(database_url, master_key=new), tmp_path)
    assert verified.returncode == 0, verified.stderr
    assert "valid" in verified.stdout


def test_a_generated_key_is_printed_once_and_is_the_one_that_reads(
    database_url: str, lodged: dict[UUID, str], tmp_path: Path
) -> None:
    result = rotate(tmp_path, cli_env(database_url), None)

    assert result.returncode == 0, result.stderr
    printed = re.findall(r"[A-Za-z0-9+/]{43}=", result.stdout + result.stderr)
    assert len(printed) == 1, result.stdout + result.stderr
    new = printed[0]
    assert new in result.stdout
    assert key_id(new) in result.stderr
    expected = {cid: in_clear(marker) for cid, marker in lodged.items()}
    assert read_all(database_url, new, list(lodged)) == expected


def test_an_interrupted_rotation_is_refused_at_start_and_finished_by_running_it_again(
    database_url: str, lodged: dict[UUID, str], tmp_path: Path
) -> None:
    new = new_master_key_text()
    interrupted_rotation(database_url, MASTER_KEY, new, batch=4)
    assert under(database_url, key_id(new)) == 4
    assert under(database_url, key_id(MASTER_KEY)) == ROWS - 4
    for key in (MASTER_KEY, new):  # half-rotated: neither key may start
        with pytest.raises(MasterKeyError, match="rotate-master"):
            read_all(database_url, key, list(lodged))

    result = rotate(tmp_path, cli_env(database_url), new)

    assert result.returncode == 0, result.stderr
    assert f"re-wrapped {ROWS - 4} data keys" in result.stderr, result.stderr
    expected = {cid: in_clear(marker) for cid, marker in lodged.items()}
    assert read_all(database_url, new, list(lodged)) == expected


def test_rows_under_neither_key_are_named_and_nothing_changes(
    database_url: str, lodged: dict[UUID, str], tmp_path: Path
) -> None:
    before = all_key_rows(database_url)
    stranger = new_master_key_text()  # given as the current key: it wrapped nothing here

    result = rotate(tmp_path, cli_env(database_url, master_key=stranger), new_master_key_text())

    assert result.returncode == 2, result.stdout + result.stderr
    assert "neither" in result.stderr
    assert "COMPLAINTS_MASTER_KEY" in result.stderr
    assert any(str(cid) in result.stderr for cid in lodged), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert all_key_rows(database_url) == before


@pytest.mark.postgres
def test_postgres_without_a_master_key_refuses_to_start(postgres_url: str, tmp_path: Path) -> None:
    with pytest.raises(MasterKeyError, match="COMPLAINTS_MASTER_KEY"):
        build_complaints(settings_for(postgres_url, None))
    env = cli_env(postgres_url)
    del env["COMPLAINTS_MASTER_KEY"]
    assert_refused_by_the_cli(postgres_url, tmp_path, env)


@dataclass(frozen=True)
class DevelopmentStore:
    url: str
    key_file: Path
    complaint_id: UUID
    marker: str

    def reads_in_clear(self, key: str | None = None) -> bool:
        read = read_all(self.url, key, [self.complaint_id])
        return read == {self.complaint_id: in_clear(self.marker)}

    def env(self) -> dict[str, str]:
        env = cli_env(self.url)
        del env["COMPLAINTS_MASTER_KEY"]  # the development key file, then
        return env


@pytest.fixture
def development(sqlite_url: str) -> DevelopmentStore:
    """An SQLite store started without a master key, with one resolved complaint."""
    settings = settings_for(sqlite_url, None)
    path = development_key_path(settings.sqlite_path)
    assert not path.exists()
    marker = new_marker()
    complaints = build_complaints(settings)
    try:
        complaint_id = lodge_resolved(complaints, marker)
    finally:
        complaints.close()
    return DevelopmentStore(sqlite_url, path, complaint_id, marker)


def test_sqlite_without_a_key_makes_the_development_key_once_and_reuses_it(
    development: DevelopmentStore,
) -> None:
    first = development.key_file.read_text()
    assert stat.S_IMODE(os.stat(development.key_file).st_mode) == 0o600
    decode_master_key(first)

    assert development.reads_in_clear()  # a second start: the same key
    assert development.key_file.read_text() == first
    with pytest.raises(MasterKeyError, match="COMPLAINTS_MASTER_KEY"):
        development.reads_in_clear(MASTER_KEY)  # the file's key is the one in use


def test_rotation_replaces_the_development_key_file(
    development: DevelopmentStore, tmp_path: Path
) -> None:
    path = development.key_file
    old = path.read_text().strip()

    result = rotate(tmp_path, development.env(), None)

    assert result.returncode == 0, result.stderr
    new = path.read_text().strip()
    assert new != old
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in path.parent.glob(path.name + "*")) == [path.name]
    assert new not in result.stdout + result.stderr  # it is in the file, not in the output
    assert under(development.url, key_id(new)) == 4
    assert development.reads_in_clear()
    with pytest.raises(MasterKeyError, match="COMPLAINTS_MASTER_KEY"):
        development.reads_in_clear(old)


def test_an_interrupted_rotation_of_the_development_key_finishes_with_the_staged_key(
    development: DevelopmentStore, tmp_path: Path
) -> None:
    path = development.key_file
    staged = new_master_key_text()
    # What a run killed after its first batch leaves: the new key staged, some rows moved.
    path.with_name(path.name + ".new").write_text(staged + "\n")
    interrupted_rotation(development.url, path.read_text(), staged, batch=2)

    result = rotate(tmp_path, development.env(), None)

    assert result.returncode == 0, result.stderr
    assert "re-wrapped 2 data keys" in result.stderr, result.stderr
    assert path.read_text().strip() == staged
    assert not path.with_name(path.name + ".new").exists()
    assert development.reads_in_clear()


def test_a_destroyed_key_stays_destroyed_through_rotation(
    database_url: str, lodged: dict[UUID, str], tmp_path: Path
) -> None:
    erased_id, *kept = lodged
    complaints = build_complaints(settings_for(database_url, MASTER_KEY))
    try:
        complaints.act(erased_id, ERASE, actor=RECORDS_MANAGER)
    finally:
        complaints.close()
    destroyed = key_rows(database_url, erased_id)
    assert sorted(destroyed) == ["complainant", "narrative", "subject"]
    assert all(w is None and k is None and d for w, k, d in destroyed.values()), destroyed
    new = new_master_key_text()

    result = rotate(tmp_path, cli_env(database_url), new)

    assert result.returncode == 0, result.stderr
    assert f"re-wrapped {ROWS - 3} data keys" in result.stderr, result.stderr
    assert key_rows(database_url, erased_id) == destroyed
    read = read_all(database_url, new, list(lodged))
    assert read[erased_id] == dict.fromkeys(in_clear(""), None)
    assert {cid: read[cid] for cid in kept} == {cid: in_clear(lodged[cid]) for cid in kept}
    verified = run_cli(["verify"], cli_env(database_url, master_key=new), tmp_path)
    assert verified.returncode == 0, verified.stderr
