"""The status page's lock-out is kept in the database: two `complaints serve` processes on one
PostgreSQL database count the same failed tries (docs/API.md, the status page)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.ops_support import cli_env, serving
from tests.support import INTAKE, lodging


@pytest.mark.postgres
def test_two_servers_share_the_count_of_failed_tries(postgres_url: str, tmp_path: Path) -> None:
    env = cli_env(postgres_url, projections="external")
    with serving(env, tmp_path, 2) as (first, second):
        lodged = httpx.post(f"{first.url}/complaints", json=lodging(), headers=INTAKE, timeout=20)
        assert lodged.status_code == 201, lodged.text
        reference, code = lodged.json()["reference"], lodged.json()["access_code"]

        def status(url: str, typed: str) -> httpx.Response:
            return httpx.get(
                f"{url}/status/{reference}", headers={"X-Access-Code": typed}, timeout=20
            )

        right = status(second.url, code)  # the other process opens the code too
        assert right.status_code == 200, right.text
        for server in (first, second):
            for _ in range(5):
                assert status(server.url, "ABCD-EFGH-JKMN").status_code == 404
        for server in (second, first):
            locked = status(server.url, code)
            assert locked.status_code == 429, locked.text
            assert 3500 <= int(locked.headers["retry-after"]) <= 3600
