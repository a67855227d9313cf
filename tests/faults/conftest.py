"""Fixtures of the fault tests: a private PostgreSQL cluster that the tests stop and start."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import REQUIRE_POSTGRES
from tests.faults.cluster import PrivateCluster, find_bindir


@pytest.fixture(scope="module")
def private_cluster() -> Iterator[PrivateCluster]:
    """A cluster of our own (never the shared server), with an empty database `complaints`;
    stopped and removed afterwards whatever happens."""
    bindir = find_bindir()
    if bindir is None:
        message = "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin"
        if REQUIRE_POSTGRES:
            pytest.fail(message)
        pytest.skip(message)
    cluster = PrivateCluster(bindir)
    try:
        cluster.create()
        yield cluster
    finally:
        cluster.destroy()
