"""Wiring of the read models into a process: the store, the runner, and the consistency token."""

from __future__ import annotations

import logging
import threading
import time
from datetime import date
from typing import Any, Literal

from api.answers import Answers
from api.settings import Settings
from domain.service import Complaints
from projections.case_list.projection import CaseList
from projections.case_list.queries import (
    CaseFilter,
    TimeLimits,
    caseload_summary,
    due,
    investigator_cases,
    next_update_due,
    page,
)
from projections.catalogue import PROJECTIONS
from projections.coordination import PostgresCoordinator, SQLiteCoordinator
from projections.early_warning import EarlyWarning
from projections.learning import LearningStatistics
from projections.retention import RetentionSchedule, due_page
from projections.runner import Coordinator, ProjectionRunner, stored_failures
from projections.store import Cursor, ReadStore
from projections.timeliness import TimelinessStatistics

log = logging.getLogger("complaints.projections")
POLL_SECONDS = 0.005


class ProjectionBehindError(Exception):
    """A read model had not reached the position asked for within the wait allowed."""

    def __init__(self, projection: str, position: int, wanted: int) -> None:
        super().__init__(f"{projection} is at {position}, not yet {wanted}")
        self.projection, self.position, self.wanted = projection, position, wanted


def build_store(settings: Settings) -> ReadStore:
    if settings.is_postgres:
        return ReadStore(
            conninfo=settings.postgres_conninfo(),
            timeout=settings.database_timeout,
            pool_size=settings.read_pool_size,
        )
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
        self.retention = RetentionSchedule()
        self.early_warning = EarlyWarning()
        self.limits = TimeLimits(
            settings.first_contact_due_days,
            settings.resolution_due_days,
            settings.update_every_days,
        )
        self.runner = ProjectionRunner(
            complaints,
            self.store,
            [self.case_list, self.learning, self.timeliness, self.retention, self.early_warning],
        )
        self.runner.setup()
        self.answers = Answers(self.store)
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
        raise ProjectionBehindError(projection, position, min_position)

    # ---- queries: what the routes read, each in one snapshot of the read store -------------

    def case_page(
        self,
        filters: CaseFilter,
        *,
        limit: int,
        after: str | None,
        today: date,
        at: int | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the case list, newest first (InvalidCursorError for a foreign cursor),
        each row with its status as of `today` and its due dates under the limits now; the
        one kept for position `at` if there is one (`api.answers`)."""

        def query(db: Cursor) -> tuple[list[dict[str, Any]], str | None]:
            table = self.case_list.table["case_list"]
            rows, next_cursor = page(db, table, filters, limit=limit, after=after, today=today)
            for row in rows:
                row["first_contact_due"] = due(row["lodged_on"], self.limits.first_contact_days)
                row["resolution_due"] = due(row["lodged_on"], self.limits.resolution_days)
                every = self.limits.update_every_days
                row["next_update_due"] = next_update_due(row, row["status"], every)
                del row["update_from_on"]  # what the due day counts from; the day itself is shown
            return rows, next_cursor

        key = ("case_page", filters, limit, after, today)
        answer: tuple[list[dict[str, Any]], str | None] = self.answers.answer(
            "case_list", key, at, query
        )
        return answer

    def retention_due(
        self, *, as_of: date, years: int, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """Final complaints due for retention review by `as_of` and not wholly erased, by due
        day (InvalidCursorError for a foreign cursor); `years` is the retention period now."""
        with self.store.reading() as db:
            return due_page(
                db,
                self.retention.table["retention"],
                as_of=as_of,
                years=years,
                limit=limit,
                after=after,
            )

    def early_warnings(self, *, since: date, threshold: int) -> list[dict[str, Any]]:
        """People named in at least `threshold` complaints received on or after `since`, most
        first, by the keyed hash of their shoulder number (`projections.early_warning`)."""
        with self.store.reading() as db:
            return self.early_warning.query(db, since, threshold)

    def caseload(self, today: date, *, at: int | None = None) -> dict[str, Any]:
        table = self.case_list.table["case_list"]
        answer: dict[str, Any] = self.answers.answer(
            "case_list",
            ("caseload", today),
            at,
            lambda db: caseload_summary(db, table, self.limits, today),
        )
        return answer

    def cases_of(
        self, investigator_id: str, today: date, *, at: int | None = None
    ) -> list[dict[str, Any]]:
        table = self.case_list.table["case_list"]
        answer: list[dict[str, Any]] = self.answers.answer(
            "case_list",
            ("cases_of", investigator_id, today),
            at,
            lambda db: investigator_cases(db, table, investigator_id, self.limits, today),
        )
        return answer

    def statistics(
        self,
        name: Literal["learning", "timeliness"],
        period: tuple[date | None, date | None],
        *,
        at: int | None = None,
    ) -> dict[str, Any]:
        projection = self.learning if name == "learning" else self.timeliness
        answer: dict[str, Any] = self.answers.answer(
            name, ("statistics", period), at, lambda db: projection.query(db, *period)
        )
        return answer

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
