"""`complaints seed` writes the national mix of the statutory process (docs/DOMAIN.md part B).

About a third of complaints recorded under Schedule 3, about 1.8 allegations each in the IOPC's
category mix, referrals (the mandatory ones before any outcome), progress updates about every
28 days, outcomes for every allegation, reviews in time and a few late, decisions that finalise
or reopen, and signed withdrawals. Figures are counted here from the seeded histories, long
after the last receipt, when every case has gone as far as it will.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from api.app import build_complaints
from api.cli.seed import SUPERVISOR, seed
from api.settings import Settings
from domain.service import Complaints, HistoryEntry
from tests.test_seed_rules import histories

UNTIL = date(2025, 6, 27)
LATER = datetime(2027, 6, 30, 12, 0, tzinfo=UTC)  # two years on: every case has settled
CASES = 3000
MANDATORY = {
    "death_or_serious_injury",
    "serious_assault",
    "serious_sexual_offence",
    "serious_corruption",
    "discrimination",
}
LONDON = ZoneInfo("Europe/London")


@pytest.fixture(scope="module")
def settled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[list[HistoryEntry]]]:
    url = f"sqlite:///{tmp_path_factory.mktemp('mix')}/seed.db"
    complaints: Complaints = build_complaints(Settings(_env_file=None, database_url=url))
    try:
        seed(complaints, cases=CASES, seed_value=3, until=UNTIL, now=LATER)
        yield histories(complaints)
    finally:
        complaints.close()


def of_type(history: list[HistoryEntry], *types: str) -> list[HistoryEntry]:
    return [entry for entry in history if entry.type in types]


def recorded(everything: list[list[HistoryEntry]]) -> list[list[HistoryEntry]]:
    """The complaints whose last handling decision recorded them under Schedule 3."""
    return [
        history
        for history in everything
        if (modes := [e.data["mode"] for e in of_type(history, "HandlingDecided")])
        and modes[-1] == "schedule_3"
    ]


def day(moment: datetime) -> date:
    return moment.astimezone(LONDON).date()


def test_a_third_are_recorded_with_about_1_8_allegations_in_the_national_mix(
    settled: list[list[HistoryEntry]],
) -> None:
    assert len(settled) == CASES
    schedule_3 = recorded(settled)
    assert 0.25 <= len(schedule_3) / CASES <= 0.42, len(schedule_3)
    allegations = [e for history in schedule_3 for e in of_type(history, "AllegationAdded")]
    assert 1.5 <= len(allegations) / len(schedule_3) <= 2.1
    # Allegations only where recorded; `A1`, `A2`, ... within each complaint.
    assert sum(len(of_type(h, "AllegationAdded")) for h in settled) == len(allegations)
    for history in schedule_3:
        ids = [e.data["allegation_id"] for e in of_type(history, "AllegationAdded")]
        assert ids == [f"A{n}" for n in range(1, len(ids) + 1)]

    share = {
        k: n / len(allegations) for k, n in Counter(e.data["category"] for e in allegations).items()
    }
    assert share["delivery_of_duties_and_service"] == pytest.approx(0.53, abs=0.04)
    assert share["police_powers_policies_and_procedures"] == pytest.approx(0.21, abs=0.03)
    assert share["individual_behaviours"] == pytest.approx(0.13, abs=0.03)
    assert share["discriminatory_behaviour"] == pytest.approx(0.03, abs=0.015)
    assert len(share) == 11  # the rest spread over every other category
    named = ("delivery_of_duties_and_service", "police_powers_policies_and_procedures")
    rest = 1 - sum(share[k] for k in (*named, "individual_behaviours", "discriminatory_behaviour"))
    assert rest == pytest.approx(0.10, abs=0.04)


def test_the_handling_decisions_take_each_route(settled: list[list[HistoryEntry]]) -> None:
    routes = Counter(
        tuple(e.data["mode"] for e in of_type(history, "HandlingDecided")) for history in settled
    )
    assert routes[()] > 0  # no decision: outside Schedule 3 by default
    assert routes[("outside_schedule_3",)] > 0
    assert routes[("outside_schedule_3", "schedule_3")] > 0  # recorded later
    assert routes[("schedule_3",)] > routes[("outside_schedule_3", "schedule_3")]
    assert set(routes) == {
        (),
        ("outside_schedule_3",),
        ("schedule_3",),
        ("outside_schedule_3", "schedule_3"),
    }
    asked = [h for h in settled if any(e.data.get("wants_recording") for e in h)]
    assert asked
    assert all(h in recorded(settled) for h in asked)
    assert len(asked) < len(recorded(settled))  # some recorded without being asked
    # Recorded ones end by an outcome (or withdrawal); the others are resolved as before.
    assert not any(of_type(history, "ComplaintResolved") for history in recorded(settled))
    assert any(of_type(history, "ComplaintResolved") for history in settled)


def test_flagged_allegations_are_referred_and_determined_before_the_outcome(
    settled: list[list[HistoryEntry]],
) -> None:
    grounds: Counter[str] = Counter()
    for history in recorded(settled):
        flags = {f for e in of_type(history, "AllegationAdded") for f in e.data["flags"]}
        types = [e.type for e in history]
        referrals = of_type(history, "ReferredToIopc")
        if referrals:
            grounds["voluntary" if referrals[0].data["grounds"] == ["voluntary"] else "flags"] += 1
            assert set(referrals[0].data["grounds"]) <= flags | {"voluntary"}
        if "OutcomeNotified" not in types:
            continue
        first_outcome = types.index("OutcomeNotified")
        if flags & MANDATORY:
            assert "ReferredToIopc" in types[:first_outcome], types
        if referrals:
            assert "IopcDetermined" in types[:first_outcome], types
    assert grounds["flags"] >= 10
    assert grounds["voluntary"] >= 10


def test_progress_updates_go_out_about_every_28_days_while_recorded(
    settled: list[list[HistoryEntry]],
) -> None:
    gaps = []
    for history in recorded(settled):
        since: date | None = None
        for entry in history:
            if entry.type == "HandlingDecided" and entry.data["mode"] == "schedule_3":
                since = day(entry.occurred_at)
            elif entry.type == "ReviewDecided" and not entry.data["reasonable_and_proportionate"]:
                since = day(entry.occurred_at)  # reopened: due again from then
            elif entry.type == "ProgressUpdateSent":
                assert since is not None, "an update while not recorded"
                gaps.append((day(entry.occurred_at) - since).days)
                since = day(entry.occurred_at)
            elif entry.type in ("OutcomeNotified", "ComplaintWithdrawn"):
                since = None
    assert len(gaps) > 500
    assert 24 <= statistics.median(gaps) <= 30
    assert sum(gap <= 32 for gap in gaps) / len(gaps) >= 0.95


def test_outcomes_reviews_and_withdrawals(settled: list[list[HistoryEntry]]) -> None:
    outcomes: Counter[str] = Counter()
    reviews: Counter[str] = Counter()
    decisions: Counter[str] = Counter()
    for history in recorded(settled):
        allegation_ids = [e.data["allegation_id"] for e in of_type(history, "AllegationAdded")]
        for notified in of_type(history, "OutcomeNotified"):
            assert [a["allegation_id"] for a in notified.data["allegations"]] == allegation_ids
            outcomes.update(a["outcome"] for a in notified.data["allegations"])
        deadline = None  # of the outcome last notified before the request
        for entry in of_type(history, "OutcomeNotified", "ReviewRequested"):
            if entry.type == "OutcomeNotified":
                deadline = entry.data["review_deadline"]
                continue
            assert deadline is not None
            late = day(entry.data["received_at"]) > deadline
            reviews["late" if late else "in_time"] += 1
            assert (entry.data.get("late_reason") is not None) is late
            assert entry.actor["id"] == SUPERVISOR.id or not late
        types = [e.type for e in history]
        for n, entry in enumerate(history):
            if entry.type == "ReviewDecided":
                fair = entry.data["reasonable_and_proportionate"]
                decisions["finalised" if fair else "reopened"] += 1
                decisions["notified_again"] += not fair and "OutcomeNotified" in types[n:]
    assert set(outcomes) == {"upheld", "not_upheld", "unable_to_determine", "no_further_action"}
    assert reviews["in_time"] >= 5 * reviews["late"] > 0
    assert decisions["finalised"] > decisions["reopened"] > 0
    assert decisions["notified_again"] > 0

    withdrawn = [h for h in settled if of_type(h, "ComplaintWithdrawn")]
    assert len(withdrawn) >= 10
    assert any(h in recorded(settled) for h in withdrawn)
    for history in withdrawn:
        [entry] = of_type(history, "ComplaintWithdrawn")
        assert entry is history[-1]  # nothing after it
        assert entry.data["signed_by"] in ("complainant", "solicitor", "agent")
        assert day(history[0].data["received_at"]) <= entry.data["signed_on"]
        assert entry.data["signed_on"] <= day(entry.occurred_at)
