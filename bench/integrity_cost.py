"""What tamper evidence and the access log cost: before/after ratios, in one process.

- a command (record contact) saved by our hash-chaining recorder, against the library's own
  PostgreSQL recorder on an identical database;
- a personal read (load and render one complaint), with and without its access-log entry
  (written and committed before the read returns).
Sequential, one at a time: the worst case, where no group commit can share a commit.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any
from uuid import UUID

from api.eventstore.references import reference_numbers_for
from api.eventstore.schema import schema_guard
from api.http.auth import Principal, Role
from api.http.schemas import complaint_out
from api.integrity.access_log import AccessLog
from api.read_models import build_store
from api.settings import Settings
from domain.service import Complaints
from domain.values import Actor, AssignInvestigator, LodgeComplaint, RecordContact

LIBRARY_RECORDER = "eventsourcing.postgres:PostgresApplicationRecorder"
SUPERVISOR = Actor(id="sup-bench", name="DI Bench")


def _complaints(url: str, recorder: str | None) -> Complaints:
    """Both without encryption, so that the difference is the chains alone (P8 measures the
    encryption; the library's recorder has no key table to write to)."""
    settings = Settings(_env_file=None, database_url=url)
    env = dict(settings.eventsourcing_env)
    if recorder is not None:
        env["APPLICATION_RECORDER_TOPIC"] = recorder
    with schema_guard(settings):
        return Complaints(env=env, reference_numbers=reference_numbers_for)


def _assigned(complaints: Complaints, count: int, lodging: dict[str, Any]) -> list[UUID]:
    command = LodgeComplaint.model_validate(lodging)
    assign = AssignInvestigator(investigator_id="inv-bench", investigator_name="DS Bench")
    ids = []
    for _ in range(count):
        complaint_id = complaints.lodge(command, actor=SUPERVISOR).complaint.id
        complaints.act(complaint_id, assign, actor=SUPERVISOR)
        ids.append(complaint_id)
    return ids


def _median_ms(action: Callable[[UUID], object], ids: list[UUID]) -> float:
    timings = []
    for complaint_id in ids:
        started = time.perf_counter()
        action(complaint_id)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def measure(
    chained_url: str, library_url: str, lodging: dict[str, Any], count: int
) -> dict[str, Any]:
    contact = RecordContact(method="phone", summary="Called back.")
    results: dict[str, Any] = {}
    for name, url, recorder in (
        ("chained", chained_url, None),
        ("library", library_url, LIBRARY_RECORDER),
    ):
        complaints = _complaints(url, recorder)
        try:
            ids = _assigned(complaints, count, lodging)
            results[f"command_{name}_ms"] = _median_ms(
                partial(complaints.act, command=contact, actor=SUPERVISOR, supervisor=True), ids
            )
        finally:
            complaints.close()
    settings = Settings(_env_file=None, database_url=chained_url)
    complaints, store = _complaints(chained_url, None), build_store(settings)
    log = AccessLog(store)
    reader = Principal(id="aud-bench", name="Auditor", roles=frozenset({Role.AUDITOR}))
    try:
        ids = _assigned(complaints, count, lodging)

        def read(complaint_id: UUID) -> object:
            return complaint_out(complaints.get_complaint(complaint_id))

        def read_logged(complaint_id: UUID) -> object:
            shown = read(complaint_id)
            log.record(reader, "read_complaint", f"/complaints/{complaint_id}", complaint_id)
            return shown

        results["read_ms"] = _median_ms(read, ids)
        results["read_logged_ms"] = _median_ms(read_logged, ids)
    finally:
        log.close()
        store.close()
        complaints.close()
    results["command_cost_ratio"] = results["command_chained_ms"] / results["command_library_ms"]
    results["read_cost_ratio"] = results["read_logged_ms"] / results["read_ms"]
    return results
