"""A database whose read models were built by an earlier release (`projections.schema`).

Part B added columns to the case list, learning and timeliness tables. A database set up
before them (and before schemas were recorded) must be rebuilt from the log at set-up, not
crash on the first batch; a model already current must be left as it is.
"""

from __future__ import annotations

from datetime import date, timedelta

from projections.case_list.queries import received_by_for_report
from projections.catalogue import PROJECTIONS
from projections.rebuild import rebuild
from projections.schema import fingerprint
from tests.projections.scenes import running_api
from tests.projections.statutory_model import plus_months
from tests.projections.tables import (
    clean_build,
    dump,
    execute,
    head,
    read_store,
    runner_for,
    select_all,
    service,
)
from tests.support import CASEWORKER, MovableClock

# The tables as the release before part B declared them.
PART_A_TABLES = {
    "case_list": (
        "complaint_id TEXT PRIMARY KEY, reference TEXT NOT NULL, status TEXT NOT NULL, "
        "subject_kind TEXT NOT NULL, channel TEXT NOT NULL, standing TEXT NOT NULL, "
        "on_behalf_basis TEXT NOT NULL, late INTEGER NOT NULL, lodged_at TEXT NOT NULL, "
        "lodged_on TEXT NOT NULL, investigator_id TEXT, investigator_name TEXT, "
        "assigned_at TEXT, first_contact_at TEXT, resolved_at TEXT, redirected_at TEXT, "
        "outcome TEXT, redirect_destination TEXT, version INTEGER NOT NULL"
    ),
    "learning_complaints": (
        "complaint_id TEXT PRIMARY KEY, lodged_on TEXT NOT NULL, version INTEGER NOT NULL"
    ),
    "timeliness_complaints": (
        "complaint_id TEXT PRIMARY KEY, lodged_on TEXT NOT NULL, assigned_on TEXT, "
        "first_contact_on TEXT, resolved_on TEXT, version INTEGER NOT NULL"
    ),
}


def build_as_part_a_did(url: str) -> int:
    """The read-model tables of the release before part B, marked caught up with the log,
    with no schema recorded (that release recorded none). Returns the head."""
    at = head(url)
    store = read_store(url)
    try:
        with store.schema_transaction() as cursor:
            for projection_class in PROJECTIONS.values():
                projection = projection_class()
                for statement in projection.create_statements():
                    table = statement.split()[5] if statement.startswith("CREATE TABLE") else ""
                    if table in PART_A_TABLES:
                        statement = f"CREATE TABLE {table} ({PART_A_TABLES[table]})"
                    elif "case_list_" in statement and (
                        "handling" in statement or "review_deadline" in statement
                    ):
                        continue  # an index of part B's columns
                    cursor.execute(statement)
                cursor.execute(
                    "INSERT INTO projection_tracking (projection, position) VALUES (?, ?)",
                    (projection.name, at),
                )
            cursor.execute(
                "INSERT INTO case_list VALUES ('junk', 'PC/1/26', 'lodged', 'officer', 'online', "
                "'experienced', 'none', 0, 'x', 'x', NULL, NULL, NULL, NULL, NULL, NULL, NULL, "
                "NULL, 1)"
            )
            cursor.execute("DELETE FROM projection_schema")
    finally:
        store.close()
    return at


def test_models_built_before_part_b_are_rebuilt_from_the_log_at_set_up(histories: str) -> None:
    at = build_as_part_a_did(histories)

    with runner_for(histories) as runner:
        # Set up: every model unknown to this release starts again from the beginning.
        assert runner.store.positions() == {}
        runner.catch_up()
        assert runner.failures == {}
    rows = dump(histories)
    assert rows == clean_build(histories)
    assert rows["positions"] == sorted((name, at) for name in PROJECTIONS)
    assert "junk" not in {row[0] for row in rows["case_list"]}
    recorded = dict(select_all(histories, ["projection_schema"])["projection_schema"])
    assert recorded == {name: fingerprint(cls()) for name, cls in PROJECTIONS.items()}


def test_a_current_model_is_left_as_it_is_and_a_changed_one_alone_is_rebuilt(
    histories: str,
) -> None:
    with runner_for(histories) as runner:
        runner.catch_up()
    built = dump(histories)
    with runner_for(histories) as runner:
        assert runner.store.positions() == {name: head(histories) for name in PROJECTIONS}
    assert dump(histories) == built

    # A release that changed the learning model only (its fingerprint differs).
    changed = "UPDATE projection_schema SET fingerprint = 'x' WHERE projection = 'learning'"
    execute(histories, changed)
    with runner_for(histories) as runner:
        positions = runner.store.positions()
        assert "learning" not in positions
        assert len(positions) == len(PROJECTIONS) - 1
        runner.catch_up()
    assert dump(histories) == built


def test_a_rebuild_leaves_the_models_current_for_the_next_set_up(histories: str) -> None:
    at = build_as_part_a_did(histories)
    store = read_store(histories)
    try:
        with service(histories) as complaints:
            rebuild(complaints, store, list(PROJECTIONS.values()))
    finally:
        store.close()
    rebuilt = dump(histories)
    with runner_for(histories) as runner:
        assert runner.store.positions() == dict.fromkeys(PROJECTIONS, at)
    assert dump(histories) == rebuilt == clean_build(histories)


def test_the_api_starts_on_a_database_of_the_previous_release(histories: str) -> None:
    at = build_as_part_a_did(histories)
    with running_api(histories, MovableClock()) as client:
        response = client.get(
            "/complaints",
            params={"min_position": str(at), "wait_ms": "10000", "limit": "500"},
            headers=CASEWORKER,
        )
    assert response.status_code == 200, response.text
    assert len(response.json()["items"]) == 300


def test_statistics_counted_before_the_all_time_grain_are_rebuilt_at_set_up(
    histories: str,
) -> None:
    # As the release before it left them: no all-time rows, its fingerprints recorded.
    with runner_for(histories) as runner:
        runner.catch_up()
    built = dump(histories)
    for name in ("learning", "timeliness"):
        execute(histories, f"DELETE FROM {name}_counts WHERE grain = 'a'")
        previous = type("Previous", (PROJECTIONS[name],), {"schema_version": 1})()
        execute(
            histories,
            f"UPDATE projection_schema SET fingerprint = '{fingerprint(previous)}' "
            f"WHERE projection = '{name}'",
        )
    assert dump(histories) != built

    with runner_for(histories) as runner:
        assert set(runner.store.positions()) == set(PROJECTIONS) - {"learning", "timeliness"}
        runner.catch_up()
    assert dump(histories) == built


def test_the_last_day_of_receipt_due_a_twelve_month_report_is_exact() -> None:
    # Against brute force, across month ends and 29 February (due on the 28th a year on).
    days = [date(2027, 1, 1) + timedelta(days=n) for n in range(800)]
    for today in days:
        candidates = [d for d in _days_before(today) if plus_months(d, 12) <= today]
        assert received_by_for_report(today) == max(candidates).isoformat(), today
    assert received_by_for_report(date(2029, 2, 28)) == "2028-02-29"
    assert received_by_for_report(date(2029, 2, 27)) == "2028-02-27"


def _days_before(today: date) -> list[date]:
    return [today - timedelta(days=n) for n in range(360, 372)]
