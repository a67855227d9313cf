"""Fixtures for the projection tests: databases holding histories played through the service."""

from __future__ import annotations

import pytest

from tests.projections.plans import EARLIEST, generate, play_service
from tests.projections.tables import service


@pytest.fixture
def histories(database_url: str) -> str:
    """A database (on each store) holding 300 varied histories, about 900 events, and no read
    model built yet."""
    with service(database_url) as complaints:
        play_service(complaints, generate(300, seed=11, earliest=EARLIEST), chunk=40)
    return database_url
