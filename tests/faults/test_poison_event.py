"""A poison event in the log, with `complaints project` running, on each store.

The poison is a `complaints:ComplaintResolved` row written straight into the events table for a
complaint in contact, whose JSON lacks the `learning` key. Only the learning projection reads
that key, so it is the one read model that cannot process it: the case list and timeliness
apply it (a resolution dated `occurred_at`) and go on with the events written after it.

While the poison is there the worker must keep running without spinning and log the error
once; /health/ready (of an API process, here the test's own app) must report the learning read
model as failing at the poison's position, the others as ok, and the whole as "degraded". Then
the row is replaced by the valid event (the same JSON with `learning`) and the worker restarted:
the read models must equal a clean `complaints rebuild` and readiness be "ready" again.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from projections.catalogue import PROJECTIONS
from tests.faults.harness import (
    Rows,
    caught_up,
    cli_env,
    cpu_seconds,
    differences,
    events_table,
    head,
    is_sqlite,
    position_column,
    projector,
    read_model_rows,
    rebuilt_rows,
    sql,
    wait_until,
)
from tests.support import ANALYST, AUDITOR, JWT_SECRET, complaint_in

RESOLVED = "complaints:ComplaintResolved"
STUCK_TIMEOUT = 30.0
IDLE_SECONDS = 3.0
IDLE_CPU = 0.6  # CPU seconds a waiting worker may use in IDLE_SECONDS (a spinning one: ~3)
FAILURE_LINE = "projection learning cannot process the event at position {position}"


@dataclass
class Poisoned:
    """What was observed, with the poison in place and after the fix."""

    url: str
    poison: int = 0  # the poison's position
    before_poison: int = 0  # the position of the event just before it
    head: int = 0  # the head once events were written after the poison
    ready: dict[str, Any] = field(default_factory=dict)
    ready_status: int = 0
    learning_position: str | None = None  # X-Projection-Position of /statistics/learning
    listed: dict[str, str] = field(default_factory=dict)  # the case list: id → status
    after_poison: str = ""  # a complaint lodged after the poison
    poisoned_complaint: str = ""
    cpu: float = 0.0
    alive: bool = False
    log: str = ""
    ready_after_fix: dict[str, Any] = field(default_factory=dict)
    live: Rows = field(default_factory=dict)
    rebuilt: Rows = field(default_factory=dict)


def _originator(url: str, complaint_id: str) -> Any:
    return uuid.UUID(complaint_id).hex if is_sqlite(url) else uuid.UUID(complaint_id)


def _state(url: str, complaint_id: str, version: int) -> dict[str, Any]:
    rows = sql(
        url,
        f"SELECT state FROM {events_table(url)} WHERE originator_id = ? AND originator_version = ?",
        (_originator(url, complaint_id), version),
    )
    state: dict[str, Any] = json.loads(bytes(rows[0][0]))
    return state


def _ready(api: TestClient) -> tuple[int, dict[str, Any]]:
    response = api.get("/health/ready")
    body: dict[str, Any] = response.json()
    return response.status_code, body


def _learning_failing(api: TestClient, poison: int) -> dict[str, Any] | None:
    _, body = _ready(api)
    learning = body.get("read_models", {}).get("learning", {})
    return body if learning.get("stuck_at_position") == poison else None


def _play(url: str, folder: Path, scene: Poisoned) -> None:
    settings = Settings(_env_file=None, database_url=url, projections="external")
    env = cli_env(url, projections="external")
    with TestClient(create_app(settings, jwt_secret=JWT_SECRET)) as api:
        resolved = complaint_in(api, "resolved")[-1]
        in_contact = complaint_in(api, "in_contact")[-1]
        complaint_in(api, "assigned")
        worker = projector(env, folder)
        try:
            wait_until(lambda: caught_up(url), 60, f"no catch-up:\n{worker.log()[-3000:]}")
            valid = _state(url, resolved["complaint_id"], resolved["version"])
            poison = {key: value for key, value in valid.items() if key != "learning"}
            scene.poisoned_complaint = in_contact["complaint_id"]
            scene.before_poison = head(url)
            column = position_column(url)
            scene.poison = int(
                sql(
                    url,
                    f"INSERT INTO {events_table(url)} (originator_id, originator_version, topic, "
                    f"state) VALUES (?, ?, ?, ?) RETURNING {column}",
                    (
                        _originator(url, in_contact["complaint_id"]),
                        in_contact["version"] + 1,
                        RESOLVED,
                        json.dumps(poison).encode(),
                    ),
                )[0][0]
            )
            after = complaint_in(api, "assigned")
            scene.after_poison = after[0]["complaint_id"]
            scene.head = after[-1]["position"]
            body = wait_until(
                lambda: _learning_failing(api, scene.poison),
                STUCK_TIMEOUT,
                f"learning was not reported stuck:\n{worker.log()[-3000:]}",
            )
            # Let the others finish the events after the poison, then look at everything.
            wait_until(
                lambda: all(
                    _ready(api)[1]["read_models"][name]["position"] == scene.head
                    for name in ("case_list", "timeliness")
                ),
                STUCK_TIMEOUT,
                "the other read models did not reach the head",
            )
            started = cpu_seconds(worker.pid)
            time.sleep(IDLE_SECONDS)
            scene.cpu = cpu_seconds(worker.pid) - started
            scene.ready_status, scene.ready = _ready(api)
            assert body["read_models"]["learning"]["status"] == "failing"
            learning = api.get("/statistics/learning", headers=ANALYST)
            scene.learning_position = learning.headers.get("x-projection-position")
            listed = api.get("/complaints", params={"limit": 500}, headers=AUDITOR).json()
            scene.listed = {item["complaint_id"]: item["status"] for item in listed["items"]}
            scene.alive = worker.alive()
        finally:
            worker.stop()
            scene.log = worker.log()

        # The fix: the row holds the valid event (the same JSON, with its `learning`).
        sql(
            url,
            f"UPDATE {events_table(url)} SET state = ? WHERE {position_column(url)} = ?",
            (json.dumps(valid).encode(), scene.poison),
        )
        worker = projector(env, folder)
        try:
            wait_until(lambda: caught_up(url), 60, f"no catch-up:\n{worker.log()[-3000:]}")
            time.sleep(1.0)  # a report would be published right after the batch
            scene.ready_after_fix = _ready(api)[1]
        finally:
            assert worker.stop() == 0, worker.log()[-3000:]
    scene.live = read_model_rows(url)
    scene.rebuilt = rebuilt_rows(url, folder)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def scene(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Poisoned]:
    folder = tmp_path_factory.mktemp(f"poison-{request.param}")
    if request.param == "sqlite":
        scene = Poisoned(f"sqlite:///{folder}/complaints.db")
        _play(scene.url, folder, scene)
        yield scene
        return
    admin: str = request.getfixturevalue("postgres_admin")
    name = f"complaints_faults_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        scene = Poisoned(admin.rsplit("/", 1)[0] + f"/{name}")
        _play(scene.url, folder, scene)
        yield scene
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_worker_keeps_running_without_spinning_and_logs_the_error_once(
    scene: Poisoned,
) -> None:
    assert scene.alive, f"the worker exited:\n{scene.log[-3000:]}"
    assert scene.cpu < IDLE_CPU, f"{scene.cpu:.2f} CPU seconds in {IDLE_SECONDS}s: it spins"
    line = FAILURE_LINE.format(position=scene.poison)
    assert scene.log.count(line) == 1, scene.log[-3000:]
    assert "batch failed" not in scene.log, scene.log[-3000:]


def test_readiness_reports_the_stuck_read_model_and_a_degraded_service(scene: Poisoned) -> None:
    assert scene.ready_status == 200, scene.ready
    assert scene.ready["status"] == "degraded", scene.ready
    learning = scene.ready["read_models"]["learning"]
    assert learning["status"] == "failing", learning
    assert learning["stuck_at_position"] == scene.poison, learning
    assert "learning" in learning["error"], learning  # names what is missing
    assert learning["position"] == scene.before_poison, learning
    assert learning["lag"] == scene.head - scene.before_poison, learning


def test_the_other_read_models_go_on_past_the_poison(scene: Poisoned) -> None:
    models = scene.ready["read_models"]
    for name in ("case_list", "timeliness"):
        assert models[name]["status"] == "ok", models[name]
        assert "stuck_at_position" not in models[name], models[name]
        assert models[name]["position"] == scene.head, models[name]
    assert scene.listed.get(scene.after_poison) == "assigned"
    assert scene.listed.get(scene.poisoned_complaint) == "resolved"
    assert scene.learning_position == str(scene.before_poison)


def test_after_the_fix_the_read_models_equal_a_clean_rebuild(scene: Poisoned) -> None:
    positions: dict[str, int] = dict(scene.live["positions"])
    assert positions == dict.fromkeys(PROJECTIONS, scene.head), positions
    assert differences(scene.live, scene.rebuilt) == {}
    assert scene.live == scene.rebuilt


def test_after_the_fix_and_a_restart_readiness_is_ok_again(scene: Poisoned) -> None:
    assert scene.ready_after_fix["status"] == "ready", scene.ready_after_fix
    for name, model in scene.ready_after_fix["read_models"].items():
        assert (model["status"], model["lag"]) == ("ok", 0), (name, model)
        assert "stuck_at_position" not in model, (name, model)
