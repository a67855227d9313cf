"""The learning statistics of a seeded database are those of its histories, on each store.

`complaints seed` writes thousands of complaints through every path of parts A and B; the API
then catches its read models up, and `GET /statistics/learning` must equal what is counted here,
in plain Python, from each complaint's history (`Complaints.history`): part B's dimensions
(`handling`, one `allegation_category` per allegation, `allegation_outcome`, `iopc_referred`,
`review_result`) and part A's alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from api.app import build_complaints
from api.cli.seed import seed
from api.settings import Settings
from domain.complaint import Complaint
from domain.service import HistoryEntry
from tests.projections.scenes import STORES, database, running_api
from tests.support import ANALYST, MovableClock

UNTIL = date(2025, 6, 27)
# Five months after the last receipt: most have settled, the latest are still open.
SEEDED_AT = datetime(2025, 11, 28, 12, 0, tzinfo=UTC)
CASES = 1500
LONDON = ZoneInfo("Europe/London")
MANDATORY = {
    "death_or_serious_injury",
    "serious_assault",
    "serious_sexual_offence",
    "serious_corruption",
    "discrimination",
}
PART_B = ("handling", "allegation_category", "allegation_outcome", "iopc_referred", "review_result")


@dataclass
class Seeded:
    client: TestClient
    position: int
    histories: list[list[HistoryEntry]]

    def learning(self, **period: str) -> dict[str, Any]:
        params = {"min_position": str(self.position), "wait_ms": "10000"} | period
        response = self.client.get("/statistics/learning", params=params, headers=ANALYST)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module", params=STORES)
def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    with database(request, request.param, tmp_path_factory.mktemp("seeded")) as url:
        complaints = build_complaints(Settings(_env_file=None, database_url=url))
        try:
            position = seed(complaints, cases=CASES, seed_value=9, until=UNTIL, now=SEEDED_AT)
        finally:
            complaints.close()
        clock = MovableClock()
        clock.now = SEEDED_AT
        with running_api(url, clock) as client:
            yield Seeded(client, position, _histories(client))


def _histories(client: TestClient) -> list[list[HistoryEntry]]:
    complaints = client.app.state.complaints  # type: ignore[attr-defined]
    lodged = complaints.recorder.select_notifications(
        start=1, limit=100_000, topics=[Complaint.Lodged.TOPIC]
    )
    return [complaints.history(UUID(str(n.originator_id))) for n in lodged]


def london_day(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def count(histories: list[list[HistoryEntry]], lo: date | None, hi: date | None) -> dict[str, Any]:
    """The learning figures of the complaints received from `lo` to `hi`, from their events."""
    figures: dict[str, Counter[str]] = {}
    total = late = 0
    for history in histories:
        received = london_day(history[0].data["received_at"])
        if (lo and received < lo) or (hi and received > hi):
            continue
        total += 1
        late += bool(history[0].data["late"])
        for dimension, value in _values(history):
            figures.setdefault(dimension, Counter())[value] += 1
    return {"total": total, "late": late} | {name: dict(c) for name, c in figures.items()}


def _values(history: list[HistoryEntry]) -> Iterator[tuple[str, str]]:
    """Each (dimension, value) the complaint counts once under."""
    lodged = history[0].data
    yield "subject_kind", lodged["subject"]["kind"]
    yield "standing", lodged["standing"]
    yield "channel", lodged["channel"]
    yield "on_behalf_basis", (lodged["on_behalf_of"] or {}).get("basis", "none")
    yield "month", london_day(lodged["received_at"]).isoformat()[:7]
    yield from (("behaviour", b) for b in set(lodged["behaviours"]))
    handling, notified, themes = None, None, set()
    for entry in history[1:]:
        data = entry.data
        if entry.type == "ComplaintRedirected":
            yield "redirect_destination", data["destination"]
        elif entry.type == "ComplaintResolved":
            yield "outcome", data["outcome"]
            themes = {point["theme"] for point in data["learning"]}
        elif entry.type == "HandlingDecided":
            handling = data["mode"]  # the last decision: recorded after handled outside
        elif entry.type == "AllegationAdded":
            yield "allegation_category", data["category"]
        elif entry.type == "ReferredToIopc":
            yield "iopc_referred", "mandatory" if MANDATORY & set(data["grounds"]) else "voluntary"
        elif entry.type == "OutcomeNotified":  # a reopened complaint's last outcome counts
            notified = [a["outcome"] for a in data["allegations"]]
            themes = {point["theme"] for point in data["learning"]}
        elif entry.type == "ReviewDecided":
            fair = data["reasonable_and_proportionate"]
            yield "review_result", ("" if fair else "not_") + "reasonable_and_proportionate"
    if handling:
        yield "handling", handling
    yield from (("allegation_outcome", outcome) for outcome in notified or [])
    yield from (("learning_theme", theme) for theme in themes)


def _nonzero(counts: dict[str, int]) -> dict[str, int]:
    return {value: n for value, n in counts.items() if n}


@pytest.mark.parametrize(
    ("lo", "hi"), [(None, None), ("2025-06-02", "2025-06-13")], ids=["everything", "two-weeks"]
)
def test_the_learning_statistics_of_a_seeded_log_are_those_of_its_histories(
    seeded: Seeded, lo: str | None, hi: str | None
) -> None:
    period = {key: value for key, value in (("from", lo), ("to", hi)) if value}
    body = seeded.learning(**period)
    expected = count(
        seeded.histories,
        date.fromisoformat(lo) if lo else None,
        date.fromisoformat(hi) if hi else None,
    )
    assert (body["total"], body["late"]) == (expected.pop("total"), expected.pop("late"))
    assert set(PART_B) <= set(expected)  # every part-B dimension has figures to compare
    for dimension in set(expected) | set(PART_B):
        assert _nonzero(body[dimension]) == expected.get(dimension, {}), dimension


def test_the_seeded_log_moves_every_part_b_figure(seeded: Seeded) -> None:
    # Guards the comparison above: each kind of count must be there to be compared.
    expected = count(seeded.histories, None, None)
    assert expected["total"] == CASES
    assert set(expected["handling"]) == {"outside_schedule_3", "schedule_3"}
    assert set(expected["iopc_referred"]) == {"mandatory", "voluntary"}
    assert set(expected["review_result"]) == {
        "reasonable_and_proportionate",
        "not_reasonable_and_proportionate",
    }
    assert len(expected["allegation_category"]) >= 8
    assert len(expected["allegation_outcome"]) == 4
