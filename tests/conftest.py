"""Shared fixtures: a real PostgreSQL database per test, an SQLite file per test, API clients.

PostgreSQL tests use the server on 127.0.0.1:5432 (or COMPLAINTS_TEST_POSTGRES_URL). Each test
gets its own database, dropped afterwards. When the server cannot be reached the tests skip,
except where COMPLAINTS_REQUIRE_POSTGRES=1 (as `.ci/run` sets), where they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.support import JWT_SECRET, MASTER_KEY, MovableClock

# Every Settings a test builds reads it; a test of a missing key passes master_key=None.
os.environ["COMPLAINTS_MASTER_KEY"] = MASTER_KEY

ADMIN_URL = os.environ.get(
    "COMPLAINTS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("COMPLAINTS_REQUIRE_POSTGRES") == "1"


@pytest.fixture(scope="session")
def postgres_admin() -> str:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3) as connection:
            connection.execute("SELECT 1")
    except psycopg.Error as error:
        message = f"PostgreSQL is not reachable at {ADMIN_URL}: {error}"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    return ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin: str) -> Iterator[str]:
    name = f"complaints_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_admin, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(postgres_admin)
    yield urlunsplit(parts._replace(path=f"/{name}"))
    with psycopg.connect(postgres_admin, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: os.PathLike[str]) -> str:
    return f"sqlite:///{tmp_path}/complaints.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on each store."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return url


@pytest.fixture
def settings(database_url: str) -> Settings:
    # Embedded projections on both stores, so that read models follow the commands in tests.
    return Settings(_env_file=None, database_url=database_url, projections="embedded")  # type: ignore[call-arg]


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock()


@pytest.fixture
def client(settings: Settings, clock: MovableClock) -> Iterator[TestClient]:
    app = create_app(settings, jwt_secret=JWT_SECRET, clock=clock)
    with TestClient(app) as test_client:
        yield test_client
