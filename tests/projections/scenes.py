"""A running API over a database of its own, with a burst of plans played through HTTP.

The `client` fixture of tests/conftest.py is per test; read-model tests that only read share one
burst per module and store instead (`scene_fixture`), built the same way: embedded projections,
the app's clock fixed at `NOW`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from tests.projections.model import Case, case_of
from tests.projections.plans import NOW, Plan, complaint, generate, play_http
from tests.support import JWT_SECRET, MovableClock

STORES = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def database(request: pytest.FixtureRequest, kind: str, folder: Path) -> Iterator[str]:
    """The URL of an empty database of this kind, dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite:///{folder}/complaints.db"
        return
    admin: str = request.getfixturevalue("postgres_admin")
    name = f"complaints_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(urlsplit(admin)._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def running_api(url: str, clock: MovableClock) -> Iterator[TestClient]:
    """The app as tests/conftest.py's `client` runs it, except that a server error is answered
    500 (as a real server would) rather than raised into the test."""
    settings = Settings(_env_file=None, database_url=url, projections="embedded")  # type: ignore[call-arg]
    app = create_app(settings, jwt_secret=JWT_SECRET, clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@dataclass
class Api:
    client: TestClient
    clock: MovableClock
    url: str


def api_fixture() -> Any:
    """A module-scoped fixture: the API over a fresh database, once per store, clock at NOW."""

    @pytest.fixture(scope="module", params=STORES)
    def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
        with database(request, request.param, tmp_path_factory.mktemp("api")) as url:
            clock = MovableClock()
            clock.now = NOW
            with running_api(url, clock) as client:
                yield Api(client, clock, url)

    return api


@dataclass
class Scene(Api):
    plans: list[Plan]
    position: int  # the position of the last event the burst wrote

    @property
    def cases(self) -> list[Case]:
        return [case_of(plan) for plan in self.plans]

    @contextmanager
    def today(self, day: date) -> Iterator[None]:
        """Moves the app's clock to noon on `day` for the block, then back to `NOW`."""
        self.clock.now = datetime.combine(day, NOW.timetz())
        try:
            yield
        finally:
            self.clock.now = NOW


def scene_fixture(make_plans: Callable[[], list[Plan]]) -> Any:
    """A module-scoped fixture: one scene per store, the plans played once through HTTP."""

    @pytest.fixture(scope="module", params=STORES)
    def scene(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
        with database(request, request.param, tmp_path_factory.mktemp("scene")) as url:
            clock = MovableClock()
            clock.now = NOW
            with running_api(url, clock) as client:
                plans = make_plans()
                position = play_http(client, plans)
                yield Scene(client, clock, url, plans, position)

    return scene


def burst_plans() -> list[Plan]:
    """About forty complaints: the awkward cases by hand, the rest generated."""
    plans = [
        # Received before Christmas 2026, progressed across the weekend and three bank holidays.
        complaint("2026-12-23T10:00:00Z")
        .assign("2026-12-29T09:00:00Z", "inv-a")
        .contact("2027-01-04T10:00:00Z")
        .resolve("2027-01-08T15:00:00Z", "apology_given", ("communication", "Listen.")),
        # Easter 2026: Good Friday 3 April and Easter Monday 6 April.
        complaint("2026-04-02T11:00:00Z", kind="staff", channel="letter")
        .assign("2026-04-07T09:00:00Z", "inv-b")
        .contact("2026-04-08T09:00:00Z", "letter")
        .resolve("2026-04-20T09:00:00Z", "explanation_given"),
        # A contact recorded later but dated before the first one recorded.
        complaint("2026-11-02T09:00:00Z", kind="volunteer", standing="witnessed")
        .assign("2026-11-03T09:00:00Z", "inv-b")
        .contact("2026-11-10T10:00:00Z")
        .contact("2026-11-04T10:00:00Z", "email"),
        # Reassigned, still awaiting contact, first contact overdue (due Wednesday 13 January).
        complaint("2027-01-06T10:00:00Z", kind="contractor")
        .assign("2027-01-06T15:00:00Z", "inv-a")
        .assign("2027-01-07T10:00:00Z", "inv-c", reason="Workload."),
        # Assigned, then redirected: no longer anyone's open case.
        complaint("2026-12-01T10:00:00Z")
        .assign("2026-12-02T10:00:00Z", "inv-d")
        .redirect("2026-12-03T10:00:00Z", "iopc"),
        complaint("2026-11-16T10:00:00Z", kind="commissioner", behaviours=()).redirect(
            "2026-11-17T10:00:00Z", "mopac"
        ),
        complaint("2026-11-18T10:00:00Z", kind="other_force", channel="iopc").redirect(
            "2026-11-19T10:00:00Z", "iopc"
        ),
        complaint("2026-10-12T10:00:00Z", kind="other_force", behaviours=()).redirect(
            "2026-10-13T10:00:00Z", "other_force", force="Kent Police"
        ),
        # 23:30 UTC on 30 September is 00:30 on 1 October in London: lodged in October.
        complaint("2026-09-30T23:30:00Z", kind="police_station", behaviours=())
        .assign("2026-10-01T08:00:00Z", "inv-c")
        .contact("2026-10-02T08:00:00Z")
        .resolve("2026-10-05T08:00:00Z", "service_acceptable", ("record_keeping", "Log it.")),
        # Received on a Saturday: counted from Monday, first contact due Friday 15 January.
        complaint("2027-01-09T10:00:00Z").assign("2027-01-11T09:00:00Z", "inv-d"),
        # Received on Friday 8 January: first contact also due Friday 15 January.
        complaint("2027-01-08T10:00:00Z", kind="staff").assign("2027-01-08T14:00:00Z", "inv-a"),
        complaint("2027-01-14T16:00:00Z", kind="force_general", behaviours=()),
        complaint("2026-12-10T10:00:00Z", kind="case_handling", channel="letter", behaviours=()),
        complaint("2026-11-24T10:00:00Z", channel="representative")
        .assign("2026-11-24T15:00:00Z", "inv-b")
        .contact("2026-11-25T15:00:00Z")
        .resolve(
            "2026-12-15T15:00:00Z",
            "practice_requiring_improvement",
            ("communication", "One."),
            ("communication", "The same theme again."),
            ("training", "Two."),
        ),
        complaint("2026-11-25T12:00:00Z", incident="2024-06-01", late=True),
        complaint(
            "2026-12-07T12:00:00Z",
            channel="partner_organisation",
            standing="adversely_affected",
            behaviours=("causing_distress", "causing_danger_or_risk"),
            on_behalf={
                "name": "Alex Jones",
                "date_of_birth": "2015-03-01",
                "basis": "parent_or_guardian_of_child_under_16",
            },
        ).assign("2026-12-08T12:00:00Z", "inv-c"),
        complaint(
            "2026-10-20T12:00:00Z",
            kind="case_handling",
            behaviours=("causing_inconvenience",),
            on_behalf={"name": "Pat", "basis": "written_consent", "consent_reference": "WC-9"},
        ),
    ]
    # Generated complaints keep off the days of the ones above, so that a one-day range finds
    # exactly one hand-made complaint.
    taken = {case_of(plan).lodged_on for plan in plans}
    start = datetime.fromisoformat("2026-10-01T00:00:00+00:00")
    extra = [
        p for p in generate(60, seed=2027, earliest=start) if case_of(p).lodged_on not in taken
    ]
    return plans + extra[:24]
