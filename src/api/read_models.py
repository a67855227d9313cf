"""Wiring of the read models into a process: the store, the runner, and the consistency token."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from api.http.problems import ProblemError
from api.settings import Settings
from domain.service import Complaints
from projections.case_list.projection import CaseList
from projections.case_list.queries import TimeLimits
from projections.catalogue import PROJECTIONS
from projections.coordination import PostgresCoordinator, SQLiteCoordinator
from projections.learning import LearningStatistics
from projections.runner import Coordinator, ProjectionRunner, stored_failures
from projections.store import ReadStore
from projections.timeliness import TimelinessStatistics

log = logging.getLogger("complaints.projections")
POLL_SECONDS = 0.005


def build_store(settings: Settings) -> ReadStore:
    if settings.is_postgres:
        return ReadStore(conninfo=settings.postgres_conninfo(), timeout=settings.database_timeout)
    return ReadStore(sqlite_path=settings.sqlite_path)


def build_coordinator(settings: Settings, complaints: Complaints) -> Coordinator:
    if settings.is_postgres:
        channel = getattr(complaints.recorder, "channel_name", "complaints_events")
        return PostgresCoordinator(settings.postgres_conninfo(), channel)
    coordinator = SQLiteCoordinator(settings.sqlite_path)
    complaints.on_recorded.append(coordinator.wake)
    return coordinator


class ReadModels:
    """The read models of one process, and the projection runner when it runs here."""

    def __init__(self, settings: Settings, complaints: Complaints) -> None:
        self.complaints = complaints
        self.store = build_store(settings)
        self.case_list = CaseList()
        self.learning = LearningStatistics()
        self.timeliness = TimelinessStatistics()
        self.limits = TimeLimits(settings.first_contact_due_days, settings.resolution_due_days)
        self.runner = ProjectionRunner(
            complaints, self.store, [self.case_list, self.learning, self.timeliness]
        )
        self.runner.setup()
        self._settings = settings
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._coordinator: Coordinator | None = None

    def start_embedded(self) -> None:
        """Runs the projections in this process, on a thread, while it holds the lead."""
        self._coordinator = build_coordinator(self._settings, self.complaints)
        self._thread = threading.Thread(
            target=self.runner.run_forever,
            args=(self._stop, self._coordinator),
            name="projections",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if isinstance(self._coordinator, SQLiteCoordinator):
            self._coordinator.wake()  # do not wait out the poll interval
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._coordinator is not None:
            self._coordinator.close()
        self.store.close()

    def wait_for(self, projection: str, min_position: int | None, wait_ms: int) -> int:
        """The projection's position, once it has reached `min_position` (503 if it does not)."""
        position = self.store.position(projection)
        if min_position is None or position >= min_position:
            return position
        deadline = time.monotonic() + wait_ms / 1000
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            position = self.store.position(projection)
            if position >= min_position:
                return position
        raise ProblemError(
            503,
            "projection-behind",
            "The read model has not caught up yet",
            f"The {projection} read model is at position {position}, not yet {min_position}.",
            headers={"Retry-After": "1", "X-Projection-Position": str(position)},
        )

    def status(self, head: int) -> dict[str, Any]:
        positions = self.store.positions()
        failures = stored_failures(self.store)
        report: dict[str, Any] = {}
        for name in PROJECTIONS:
            position = positions.get(name, 0)
            entry: dict[str, Any] = {"position": position, "lag": max(head - position, 0)}
            entry["status"] = "failing" if name in failures else "ok"
            entry |= failures.get(name, {})
            report[name] = entry
        return report
