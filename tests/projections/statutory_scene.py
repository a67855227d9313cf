"""A running API over a database of its own, with statutory stories told once per store.

The stories are told through the application service of the running app (`Complaints.act`,
as the command routes call it): hand-made ones whose due days fall on the days the tests move
the clock to, and generated ones through every path of part B (`statutory_plans`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.projections import statutory_model as model
from tests.projections.plans import NOW
from tests.projections.scenes import STORES, database, running_api
from tests.projections.statutory_plans import Story, generate_stories, play_act, story
from tests.support import AUDITOR, SUPERVISOR, MovableClock


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def recorded(received: str, investigator: str, recorded_on: str) -> Story:
    """Recorded under Schedule 3 at noon on `recorded_on`, with one allegation."""
    made = story(at(received)).assign(at(received) + timedelta(hours=1), investigator)
    made.contact(at(received) + timedelta(hours=2)).allege(at(received) + timedelta(hours=3))
    return made.handle(at(f"{recorded_on}T12:00"))


def hand_made() -> dict[str, Story]:
    """Progress updates due (rule 17) and reports due (rule 20) on 15-18 January 2027."""
    return {
        # Updates of inv-u: due 15 January (three ways) and 17 January.
        "recorded": recorded("2026-10-01T09:00", "inv-u", "2026-12-18"),
        "updated": recorded("2026-10-01T09:00", "inv-u", "2026-11-01").update(
            at("2026-12-18T16:00")
        ),
        "reopened": recorded("2026-10-01T09:00", "inv-u", "2026-11-01")
        .notify(at("2026-11-20T10:00"), ["not_upheld"])
        .review(at("2026-11-25T10:00"))
        .decide(at("2026-12-18T10:00"), reasonable=False),
        "recorded_later": recorded("2026-10-02T09:00", "inv-u", "2026-12-20"),
        # Notified 20 December: no update due; open through its deadline, 17 January.
        "notified": recorded("2026-10-02T09:00", "inv-u", "2026-11-01").notify(
            at("2026-12-20T10:00"), ["upheld"], "communication"
        ),
        # Reports of inv-r (updated on 10 January, so none of their updates is overdue).
        "year_old": recorded("2026-01-15T10:00", "inv-r", "2026-02-01").update(
            at("2027-01-10T10:00")
        ),
        "eighteen_months": recorded("2025-07-15T10:00", "inv-r", "2025-08-01").update(
            at("2027-01-10T10:00")
        ),
        "year_tomorrow": recorded("2026-01-16T10:00", "inv-r", "2026-02-01").update(
            at("2027-01-10T10:00")
        ),
        # Over a year old but outside Schedule 3: no report, and part A's limits apply.
        "outside": story(at("2025-12-01T10:00"))
        .assign(at("2025-12-01T11:00"), "inv-r")
        .contact(at("2025-12-02T10:00"))
        .handle(at("2025-12-03T10:00"), "outside_schedule_3"),
        # Part A's statuses that the generated stories may leave out.
        "assigned": story(at("2026-12-01T10:00")).assign(at("2026-12-02T10:00"), "inv-x"),
        "redirected": story(at("2026-12-01T10:00"))
        .assign(at("2026-12-02T10:00"), "inv-x")
        .redirect(at("2026-12-03T10:00"), "mopac"),
    }


@dataclass
class Told:
    client: TestClient
    clock: MovableClock
    url: str
    named: dict[str, Story]
    stories: list[Story]
    position: int

    def folded(self) -> dict[str, model.Folded]:
        folded = {}
        for made in self.stories:
            response = self.client.get(f"/complaints/{made.complaint_id}/history", headers=AUDITOR)
            assert response.status_code == 200, response.text
            folded[made.complaint_id] = model.fold(response.json()["events"])
        return folded

    @contextmanager
    def today(self, day: date) -> Iterator[None]:
        """The app's clock at noon on `day` for the block, then back at NOW."""
        self.clock.now = datetime.combine(day, NOW.timetz())
        try:
            yield
        finally:
            self.clock.now = NOW

    def get(self, path: str, headers: dict[str, str] = SUPERVISOR, **params: str) -> Any:
        params = {"min_position": str(self.position)} | params
        response = self.client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        return response.json()


EARLIEST = datetime(2025, 6, 1, tzinfo=UTC)


def told_fixture() -> Any:
    """A module-scoped fixture: the stories told once per store, the clock at NOW."""

    @pytest.fixture(scope="module", params=STORES)
    def told(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
        with database(request, request.param, tmp_path_factory.mktemp("statutory")) as url:
            clock = MovableClock()
            clock.now = NOW
            with running_api(url, clock) as client:
                named = hand_made()
                stories = [*named.values(), *generate_stories(60, seed=7, earliest=EARLIEST)]
                complaints = client.app.state.complaints  # type: ignore[attr-defined]
                yield Told(client, clock, url, named, stories, play_act(complaints, stories))

    return told
