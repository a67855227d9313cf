"""PostgreSQL restarted under load (docs/API.md "Concurrency and retries", "Operations").

A private cluster serves `complaints serve --workers 2` and `complaints project`. Eight clients
lodge complaints and then assign them and record contact, each command with its own
Idempotency-Key, retried with the same key on 503, 409 idempotency-key-in-use, 5xx or a
connection error. Meanwhile the cluster is stopped (`pg_ctl stop -m fast`) while a lock holds
up the commands' writes, left down for 6.5 seconds and started again. The scenario runs once
(a module fixture); each test checks one property of what was observed.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from projections.catalogue import PROJECTIONS
from tests.faults.cluster import PrivateCluster
from tests.faults.harness import (
    START_TIMEOUT,
    Process,
    Server,
    cli_env,
    projector,
    sql,
    wait_until,
)
from tests.faults.load import Attempt, Command, is_unavailable, send, try_once
from tests.support import ANALYST, AUDITOR, CONTACT, auth, lodging

pytestmark = pytest.mark.postgres

CLIENTS = 8
REQUEST_TIMEOUT = 20.0  # the client gives up on one request after this long
SLOW = 15.0  # no answer, of any kind, may take longer than this
DATABASE_TIMEOUT = 2  # COMPLAINTS_DATABASE_TIMEOUT of the server
COMMAND_BOUND = 60.0  # one command's retries stop after this long (a stale claim lasts 30 s)
LOAD_BEFORE = 2.5
HOLD_LOCK = 0.7  # < DATABASE_TIMEOUT, the server's lock timeout
# Longer than the read store's pool wait (5 s): a command failed by the stop then surely cannot
# release its Idempotency-Key claim either (with 3 s it depends on the pool's reconnect timing).
OUTAGE = 6.5
LOAD_AFTER = 3.0
RECOVERY_BOUND = 30.0
AFTER_RECOVERY = 10.0  # a command retried once the API is ready again succeeds within this
LODGING = lodging(incident_date=None)
TOPICS = {
    "lodge": "complaints:ComplaintLodged",
    "assign": "complaints:InvestigatorAssigned",
    "contacts": "complaints:ComplainantContacted",
}


@dataclass
class Run:
    cluster: PrivateCluster
    server: Server
    worker: Process
    commands: list[Command] = field(default_factory=list)
    ready_polls: list[Attempt] = field(default_factory=list)
    stop_began: float = 0.0  # `pg_ctl stop -m fast` is called: sessions end from here on
    down_at: float = 0.0  # `pg_ctl stop` has returned: the cluster is down
    start_began: float = 0.0  # `pg_ctl start` is called: until now it was down
    up_at: float = 0.0  # `pg_ctl start` has returned
    recovered_at: float | None = None  # the first /health/ready 200 after the restart

    def all_attempts(self) -> list[Attempt]:
        return [a for c in self.commands for a in c.attempts] + self.ready_polls


def _client(run: Run, index: int, stop: threading.Event, abort: threading.Event) -> None:
    headers = auth(f"sup-fault-{index}", "supervisor", name=f"DI Fault {index}", ttl=3600)
    assign = {"investigator_id": f"inv-fault-{index}", "investigator_name": f"DC Fault {index}"}
    timeout = httpx.Timeout(REQUEST_TIMEOUT, connect=5.0)
    with httpx.Client(base_url=run.server.url, headers=headers, timeout=timeout) as http:
        while not stop.is_set() and not abort.is_set():
            lodge = Command("lodge", None)
            run.commands.append(lodge)
            lodged = send(http, lodge, "/complaints", LODGING, abort, COMMAND_BOUND)
            if lodged is None:
                continue
            complaint_id = lodge.complaint_id = str(lodged["complaint_id"])
            for name, body in (("assign", assign), ("contacts", CONTACT)):
                step = Command(name, complaint_id)
                run.commands.append(step)
                path = f"/complaints/{complaint_id}/{name}"
                if send(http, step, path, body, abort, COMMAND_BOUND) is None:
                    break


def _poll_ready(run: Run, stop: threading.Event) -> None:
    with httpx.Client(base_url=run.server.url, timeout=REQUEST_TIMEOUT) as http:
        while not stop.is_set():
            attempt = try_once(http, "GET", "/health/ready")
            run.ready_polls.append(attempt)
            recovered = run.start_began and attempt.sent >= run.start_began
            if attempt.status == 200 and recovered and run.recovered_at is None:
                run.recovered_at = attempt.answered
            stop.wait(0.25)


def _stop_with_writes_in_flight(cluster: PrivateCluster) -> float:
    """Holds the event log's write lock for a moment (less than the lock timeout) and stops the
    cluster meanwhile, so that the outage surely meets commands that have claimed their
    Idempotency-Key and wait to write their events. Returns when the stop began."""
    blocker = psycopg.connect(cluster.url, connect_timeout=5)
    try:
        blocker.execute("LOCK TABLE complaints_events IN EXCLUSIVE MODE")
        time.sleep(HOLD_LOCK)
        began = time.monotonic()
        cluster.stop("fast")
    finally:
        with contextlib.suppress(psycopg.Error):
            blocker.close()
    return began


@pytest.fixture(scope="module")
def run(private_cluster: PrivateCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    folder: Path = tmp_path_factory.mktemp("restart")
    env = cli_env(
        private_cluster.url, projections="external", database_timeout=str(DATABASE_TIMEOUT)
    )
    server = Server(env, folder, workers=2)
    worker: Process | None = None
    stop, abort, polls_done = threading.Event(), threading.Event(), threading.Event()
    threads: list[threading.Thread] = []
    try:
        server.wait_ready()
        worker = projector(env, folder)
        # Started, stores open: `complaints project` that cannot reach the database while it
        # starts exits (an orchestrator restarts it); this scenario is about a running system.
        wait_until(lambda: "projecting" in worker.log(), START_TIMEOUT, "project did not start")
        scenario = Run(private_cluster, server, worker)
        threads = [
            threading.Thread(target=_client, args=(scenario, i, stop, abort), daemon=True)
            for i in range(CLIENTS)
        ]
        threads.append(threading.Thread(target=_poll_ready, args=(scenario, polls_done)))
        for thread in threads:
            thread.start()
        time.sleep(LOAD_BEFORE)
        scenario.stop_began = _stop_with_writes_in_flight(private_cluster)
        scenario.down_at = time.monotonic()
        time.sleep(OUTAGE)
        scenario.start_began = time.monotonic()
        private_cluster.start()
        scenario.up_at = time.monotonic()
        deadline = scenario.up_at + RECOVERY_BOUND
        while scenario.recovered_at is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if scenario.recovered_at is None:
            abort.set()  # no recovery: do not sit out every command's retries
        time.sleep(LOAD_AFTER)
        stop.set()
        for thread in threads[:-1]:
            thread.join(timeout=3 * COMMAND_BOUND + 30)
        polls_done.set()
        threads[-1].join(timeout=REQUEST_TIMEOUT + 5)
        yield scenario
    finally:
        for event in (stop, abort, polls_done):
            event.set()
        for thread in threads:
            thread.join(timeout=REQUEST_TIMEOUT + 5)
        if worker is not None:
            worker.stop()
        server.stop()


def test_while_the_store_is_down_every_answer_is_503_with_retry_after(run: Run) -> None:
    """Answers given while the cluster was down: 503 problems (or no answer at all); a 2xx
    only for a request sent before the stop began (it committed first; see the log test)."""
    answers = [a for a in run.all_attempts() if a.answered_between(run.down_at, run.start_began)]
    assert answers, "nothing was answered while the store was down"
    wrong = [
        a.describe()
        for a in answers
        if not is_unavailable(a)
        and not (a.status is not None and a.status < 300 and a.sent < run.stop_began)
    ]
    assert not wrong, f"{len(wrong)} of {len(answers)} answers during the outage: {wrong[:5]}"
    hit = [
        a
        for c in run.commands
        for a in c.attempts
        if a.sent <= run.start_began and a.answered >= run.stop_began
    ]
    assert len(hit) >= CLIENTS, "the outage met (almost) no command"


def test_an_outage_is_answered_within_the_database_timeout(run: Run) -> None:
    """settings.database_timeout: how long a request waits for the database before it is
    answered 503 (plus a margin for a loaded machine)."""
    bound = DATABASE_TIMEOUT + 1.5
    late = [a.describe() for a in run.all_attempts() if a.status == 503 and a.seconds > bound]
    assert not late, f"{len(late)} 503s took over {bound}s: {late[:5]}"


def test_no_answer_is_a_500_at_any_time(run: Run) -> None:
    errors = [a.describe() for a in run.all_attempts() if a.status and a.status >= 500]
    errors = [e for e in errors if not e.startswith("503 ")]
    assert not errors, f"{len(errors)} server errors other than 503: {errors[:5]}"


def test_no_request_is_slower_than_the_bound(run: Run) -> None:
    slow = [a.describe() for a in run.all_attempts() if a.seconds > SLOW]
    assert not slow, f"{len(slow)} requests took over {SLOW}s: {slow[:5]}"


def test_readiness_is_503_during_the_outage_and_200_again_after_it(run: Run) -> None:
    during = [a for a in run.ready_polls if a.answered_between(run.down_at, run.start_began)]
    assert any(a.status == 503 for a in during), [a.describe() for a in during]
    wrong = [a.describe() for a in during if not is_unavailable(a)]
    assert not wrong, f"/health/ready while the store was down: {wrong[:5]}"
    assert run.recovered_at is not None, "/health/ready never answered 200 after the restart"
    assert run.recovered_at - run.up_at < RECOVERY_BOUND
    assert run.server.alive(), "the API process exited"


def test_every_command_completes_after_the_restart(run: Run) -> None:
    unfinished = [
        f"{c.name} {c.complaint_id}: {[a.describe() for a in c.attempts[-3:]]}"
        for c in run.commands
        if c.acknowledged is None
    ]
    assert not unfinished, f"{len(unfinished)} commands never succeeded: {unfinished[:5]}"
    after = [c for c in run.commands if c.attempts[0].sent > run.up_at]
    assert any(c.acknowledged for c in after), "nothing was sent and recorded after the restart"
    assert any(a.within(0, run.down_at) for c in run.commands for a in c.attempts)


def test_commands_retried_after_recovery_succeed_promptly(run: Run) -> None:
    """Once /health/ready answers 200 again, a command being retried (or sent) then is
    acknowledged within AFTER_RECOVERY seconds."""
    recovered = run.recovered_at
    assert recovered is not None
    late = []
    for command in run.commands:
        since = max(recovered, command.attempts[0].sent)
        took = command.attempts[-1].answered - since
        if command.acknowledged and took > AFTER_RECOVERY:
            in_use = sum(a.status == 409 for a in command.attempts)
            late.append(f"{command.name} {command.complaint_id}: {took:.1f}s, {in_use} x 409")
    assert not late, f"{len(late)} commands were late: {late[:5]}"


def test_every_acknowledged_command_is_in_the_log_exactly_once(run: Run) -> None:
    rows = sql(
        run.cluster.url,
        "SELECT notification_id, originator_id::text, originator_version, topic "
        "FROM complaints_events ORDER BY notification_id",
    )
    by_position = {int(r[0]): (str(r[1]), int(r[2]), str(r[3])) for r in rows}
    logged: dict[str, list[tuple[int, str]]] = {}
    for complaint_id, version, topic in by_position.values():
        logged.setdefault(complaint_id, []).append((version, topic))
    expected: dict[str, list[str]] = {}
    for command in run.commands:
        answer = command.acknowledged
        if answer is None:
            continue
        complaint_id = str(answer["complaint_id"])
        expected.setdefault(complaint_id, []).append(TOPICS[command.name])
        # The answer (first or replayed) names the event it recorded.
        assert by_position.get(int(answer["position"])) == (
            complaint_id,
            int(answer["version"]),
            TOPICS[command.name],
        ), answer
    lodged = {c for c, events in logged.items() if (1, TOPICS["lodge"]) in events}
    assert lodged == set(expected), "lodgings in the log differ from the acknowledged ones"
    for complaint_id, topics in expected.items():
        versions = sorted(logged[complaint_id])
        assert [v for v, _ in versions] == list(range(1, len(versions) + 1)), versions
        assert [t for _, t in versions] == topics, (complaint_id, versions)


def test_read_models_catch_up_exactly_and_the_worker_survives(run: Run) -> None:
    assert run.worker.alive(), f"complaints project exited:\n{run.worker.log()[-3000:]}"
    url = run.server.url
    head = int(sql(run.cluster.url, "SELECT MAX(notification_id) FROM complaints_events")[0][0])
    topics: dict[str, set[str]] = {}
    for complaint_id, topic in sql(
        run.cluster.url, "SELECT originator_id::text, topic FROM complaints_events"
    ):
        topics.setdefault(str(complaint_id), set()).add(str(topic))
    statuses = {
        complaint_id: "in_contact"
        if TOPICS["contacts"] in found
        else "assigned"
        if TOPICS["assign"] in found
        else "lodged"
        for complaint_id, found in topics.items()
    }

    def learning() -> dict[str, Any] | None:
        response = httpx.get(
            f"{url}/statistics/learning",
            params={"min_position": head, "wait_ms": 2000},
            headers=ANALYST,
            timeout=REQUEST_TIMEOUT,
        )
        return response.json() if response.status_code == 200 else None

    figures = wait_until(learning, 60, "the learning read model did not reach the head")
    assert figures["total"] == len(statuses)

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(100):
        params: dict[str, Any] = {"limit": 50, "min_position": head, "wait_ms": 10000}
        if cursor:
            params["cursor"] = cursor
        response = httpx.get(
            f"{url}/complaints", params=params, headers=AUDITOR, timeout=REQUEST_TIMEOUT
        )
        assert response.status_code == 200, response.text
        page = response.json()
        for item in page["items"]:
            seen.append(item["complaint_id"])
            assert item["status"] == statuses.get(item["complaint_id"]), item
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(statuses), "the case list differs from the log"

    ready = httpx.get(f"{url}/health/ready", timeout=REQUEST_TIMEOUT)
    assert ready.status_code == 200, ready.text
    models = ready.json()["read_models"]
    assert {name: (m["status"], m["lag"]) for name, m in models.items()} == {
        name: ("ok", 0) for name in PROJECTIONS
    }
