"""Runs projections over the event log: exactly once, in batches, one process at a time.

Each batch of events is applied to each projection in one transaction together with that
projection's new position, after locking and checking the old one. So a crash at any instant
loses nothing and counts nothing twice, and a second runner (or a rebuild's swap) that moved
the position first makes this batch roll back instead of applying it again.

A projection that fails on an event is retried alone, event by event, so that it stops just
before the event it cannot process; it then waits (it does not spin) while the others go on.
An error of the database rather than of an event (`is_transient`: the store locked, restarting
or unreachable) parks and reports nothing: the transaction rolled back, so the projection just
tries again from the same position after a short pause that grows while the outage lasts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from eventsourcing.persistence import Notification

from domain.complaint import Complaint
from domain.service import Complaints
from projections.base import Projection
from projections.outages import is_transient
from projections.schema import prepare_tables
from projections.store import ReadStore, StaleTrackingError, advance_tracking, claim_tracking

log = logging.getLogger("complaints.projections")

# Pauses before retrying after a transient error: prompt at first, then no more than RETRY_MAX
# apart, so a long outage costs an attempt every few seconds and recovery is seen as quickly.
RETRY_FIRST = 0.1
RETRY_MAX = 2.0
IDLE_WAIT = 0.5  # how long the worker waits for new events before looking again
CATCH_UP_PATIENCE = 60.0  # how long a catch-up (a rebuild) waits out an outage, in seconds
PIPELINED_BELOW = 100  # batches of fewer events are sent pipelined (`_pipelined`)


@dataclass
class Failure:
    error: str
    position: int
    retry_at: float


@dataclass
class _Backoff:
    """A projection waiting out a transient error: nothing recorded, nothing reported."""

    delay: float
    retry_at: float


FAILURES_DDL = (
    "CREATE TABLE IF NOT EXISTS projection_failures (projection TEXT PRIMARY KEY, "
    "position BIGINT NOT NULL, error TEXT NOT NULL, failed_at TEXT NOT NULL)"
)


class _UndecodableError(Exception):
    pass


class ProjectionRunner:
    def __init__(
        self,
        complaints: Complaints,
        store: ReadStore,
        projections: Sequence[Projection],
        *,
        batch_size: int = 1000,
        retry_seconds: float = 30.0,
    ) -> None:
        self.complaints = complaints
        self.store = store
        self.projections = list(projections)
        self.batch_size = batch_size
        self.retry_seconds = retry_seconds
        self.failures: dict[str, Failure] = {}
        self._retrying: dict[str, _Backoff] = {}
        self._cleared: set[str] = set()
        self._committed: dict[str, int] | None = None  # positions as this runner left them

    def setup(self) -> None:
        """Creates every projection's tables (idempotent); a model built under another schema
        is dropped and starts again from the beginning of the log (`projections.schema`)."""
        with self.store.schema_transaction() as cursor:
            cursor.execute(FAILURES_DDL)
            prepare_tables(cursor, self.store.dialect, self.projections)

    # ---- processing -----------------------------------------------------------------------

    def run_batch(self) -> int:
        """Applies the next batch to every projection that is not waiting; returns its size."""
        now = time.monotonic()
        ready = [p for p in self.projections if self._ready(p, now)]
        if not ready:
            return 0
        # As this runner committed them, else read: a claim of positions moved by another fails.
        positions = self._committed if self._committed is not None else self.store.positions()
        self._committed = None
        start = min(positions.get(p.tracking_name, 0) for p in ready)
        notifications = self.complaints.recorder.select_notifications(
            start=start, limit=self.batch_size, inclusive_of_start=False
        )
        if not notifications:
            self._committed = positions
            return 0
        decoded = [(n.id, self._decode(n)) for n in notifications]
        if self._apply_together(ready, positions, decoded):
            return len(notifications)
        for projection in ready:
            position = positions.get(projection.tracking_name, 0)
            pending = [(i, event) for i, event in decoded if i > position]
            if pending:
                self._apply(projection, position, pending)
        return len(notifications)

    def _apply_together(
        self, ready: list[Projection], positions: dict[str, int], decoded: list[tuple[int, Any]]
    ) -> bool:
        """The usual case, in one transaction: every projection at one position, none failing.

        One commit instead of one per projection keeps read models fresh under load. Any error
        rolls it all back; the caller then applies each projection on its own, isolating faults,
        unless the error is the database's (each would only meet it again): then they all
        retry shortly. Returns whether the batch was dealt with here.
        """
        at = {positions.get(p.tracking_name, 0) for p in ready}
        if len(ready) < 2 or len(at) != 1 or self.failures:
            return False
        position = at.pop()
        try:
            events = _events(decoded)
            names = [projection.tracking_name for projection in ready]
            with self.store.transaction(pipelined=_pipelined(events)) as cursor:
                claim_tracking(cursor, self.store.dialect, names, position)
                for projection in ready:
                    projection.process(cursor, events)
                advance_tracking(cursor, names, decoded[-1][0])
        except Exception as error:
            if not is_transient(error):
                return False
            self._retry_soon(ready, error)
            return True
        self._committed = positions | dict.fromkeys(names, decoded[-1][0])
        for projection in ready:
            self._succeeded(projection)
        return True

    def catch_up(
        self, progress: Callable[[int], None] | None = None, *, patience: float = CATCH_UP_PATIENCE
    ) -> None:
        """Processes until no projection has anything left (failed ones excepted).

        A projection waiting out a transient error still has something left, so this waits
        for it: a rebuild would otherwise stop short of the head with nothing reported. An
        outage that lasts longer than `patience` seconds is raised as a TimeoutError."""
        outage_since: float | None = None
        while True:
            processed = self.run_batch()
            if not self._retrying:
                outage_since = None
            elif outage_since is None:
                outage_since = time.monotonic()
            elif time.monotonic() - outage_since > patience:
                raise TimeoutError(f"the database has not answered for {patience:.0f} s")
            if processed:
                if progress is not None:
                    progress(processed)
                continue
            pause = self._retry_in()
            if pause is None:
                return
            time.sleep(pause)

    def run_forever(self, stop: threading.Event, coordinator: Coordinator) -> None:
        """Follows the log until `stop` is set; only while this process holds the lead."""
        pause: float | None = None  # set while reading the positions or the log fails
        while not stop.is_set():
            try:
                if not coordinator.lead():
                    stop.wait(1.0)
                    continue
                if self.run_batch() == 0:
                    retry_in = self._retry_in()
                    coordinator.wait(timeout=min(IDLE_WAIT, retry_in or IDLE_WAIT))
                if pause is not None:
                    log.info("projection runner: database available again")
                pause = None
            except Exception as error:  # keep going, but not in a tight loop
                pause = _pause_after(error, pause)
                stop.wait(pause)

    # ---- internals ------------------------------------------------------------------------

    def _ready(self, projection: Projection, now: float) -> bool:
        failure = self.failures.get(projection.tracking_name)
        backoff = self._retrying.get(projection.tracking_name)
        return (failure is None or failure.retry_at <= now) and (
            backoff is None or backoff.retry_at <= now
        )

    def _retry_in(self) -> float | None:
        """Seconds until the next retry after a transient error, if one is still to come.

        Only retries in the future count: one already due was tried by the last batch (or its
        projection had nothing left to do), so waiting for it would spin."""
        now = time.monotonic()
        waits = [b.retry_at - now for b in self._retrying.values() if b.retry_at > now]
        return min(waits) if waits else None

    def _decode(self, notification: Notification) -> Complaint.Event | _UndecodableError:
        try:
            event: Complaint.Event = self.complaints.projection_mapper.to_domain_event(notification)  # type: ignore[assignment]
        except Exception as error:
            return _UndecodableError(f"event at position {notification.id}: {error}")
        return event

    def _apply(self, projection: Projection, position: int, pending: list[tuple[int, Any]]) -> None:
        try:
            self._transaction(projection, position, pending)
        except StaleTrackingError:
            return  # another runner applied it first
        except Exception as error:
            if is_transient(error):
                # No event is at fault, so none is sought: event by event, each attempt would
                # meet the same outage (waiting out a lock timeout) and blame the first event.
                self._retry_soon([projection], error)
                return
            if not self._isolate(projection, position, pending, error):
                return
        self._succeeded(projection)

    def _isolate(
        self,
        projection: Projection,
        position: int,
        pending: list[tuple[int, Any]],
        error: Exception,
    ) -> bool:
        """Finds the event that fails, applying the good ones before it; returns whether they
        all went in after all."""
        if len(pending) == 1:
            self._failed(projection, pending[0][0], error)
            return False
        for index, item in enumerate(pending):
            try:
                self._transaction(projection, pending[index - 1][0] if index else position, [item])
            except StaleTrackingError:
                return False
            except Exception as single_error:
                if is_transient(single_error):  # the database's fault, not this event's
                    self._retry_soon([projection], single_error)
                else:
                    self._failed(projection, item[0], single_error)
                return False
        return True

    def _transaction(
        self, projection: Projection, position: int, pending: list[tuple[int, Any]]
    ) -> None:
        events = _events(pending)
        with self.store.transaction(pipelined=_pipelined(events)) as cursor:
            claim_tracking(cursor, self.store.dialect, [projection.tracking_name], position)
            projection.process(cursor, events)
            advance_tracking(cursor, [projection.tracking_name], pending[-1][0])

    def _succeeded(self, projection: Projection) -> None:
        name = projection.tracking_name
        if self._retrying.pop(name, None) is not None:
            log.info("projection %s: database available again", projection.name)
        had_failed = self.failures.pop(name, None) is not None
        if had_failed or name not in self._cleared:
            # Also clears a failure another (earlier) process recorded, once per process.
            self._publish(name, None)
            self._cleared.add(name)

    def _retry_soon(self, projections: list[Projection], error: Exception) -> None:
        """Waits out a transient error: no failure row, so no `failing`, and no parking. The
        transaction rolled back, so each projection retries from its unchanged position."""
        now = time.monotonic()
        fresh = False  # warn once an outage begins, not at every retry while it lasts
        delay = RETRY_FIRST
        for projection in projections:
            previous = self._retrying.get(projection.tracking_name)
            fresh = fresh or previous is None
            delay = _next_delay(previous.delay if previous else None)
            self._retrying[projection.tracking_name] = _Backoff(delay, now + delay)
        log.log(
            logging.WARNING if fresh else logging.DEBUG,
            "projection %s: database unavailable, retrying in %.1f s: %s: %s",
            ", ".join(projection.name for projection in projections),
            delay,
            type(error).__name__,
            error,
        )

    def _failed(self, projection: Projection, at_position: int, error: Exception) -> None:
        now = time.monotonic()
        self._retrying.pop(projection.tracking_name, None)  # the database answered after all
        previous = self.failures.get(projection.tracking_name)
        if previous is None or previous.position != at_position:
            log.error(
                "projection %s cannot process the event at position %d: %s",
                projection.name,
                at_position,
                error,
            )
        failure = Failure(
            error=f"{type(error).__name__}: {error}",
            position=at_position,
            retry_at=now + self.retry_seconds,
        )
        self.failures[projection.tracking_name] = failure
        self._publish(projection.tracking_name, failure)

    def _publish(self, name: str, failure: Failure | None) -> None:
        """Keeps `projection_failures` current, so every process's /health/ready can see it."""
        try:
            with self.store.transaction() as cursor:
                cursor.execute("DELETE FROM projection_failures WHERE projection = ?", (name,))
                if failure is not None:
                    cursor.execute(
                        "INSERT INTO projection_failures (projection, position, error, failed_at) "
                        "VALUES (?, ?, ?, ?)",
                        (name, failure.position, failure.error[:2000], _utc_text()),
                    )
        except Exception:  # the report is best effort; the log line above has it too
            log.exception("could not record the state of projection %s", name)


def _next_delay(previous: float | None) -> float:
    """The pause before the next try during an outage: RETRY_FIRST, doubling to RETRY_MAX."""
    return RETRY_FIRST if previous is None else min(previous * 2, RETRY_MAX)


def _pause_after(error: Exception, previous: float | None) -> float:
    """How long the worker waits after a batch failed outside any projection's transaction
    (reading the positions or the log): briefly for an outage, longer while it lasts."""
    if not is_transient(error):  # not an outage: keep the evidence
        log.error("projection runner: batch failed; retrying shortly", exc_info=error)
        return RETRY_MAX
    pause = _next_delay(previous)
    log.log(
        logging.WARNING if previous is None else logging.DEBUG,
        "projection runner: database unavailable, retrying in %.1f s: %s: %s",
        pause,
        type(error).__name__,
        error,
    )
    return pause


def _pipelined(events: list[Complaint.Event]) -> bool:
    """Small batches (following the log) pipelined; large ones (catching up) COPY instead."""
    return len(events) < PIPELINED_BELOW


def _events(pending: list[tuple[int, Any]]) -> list[Complaint.Event]:
    events = []
    for _, event in pending:
        if isinstance(event, _UndecodableError):
            raise event
        events.append(event)
    return events


def stored_failures(store: ReadStore) -> dict[str, dict[str, Any]]:
    """Projections stuck on an event, as recorded by whichever process runs them."""
    with store.reading() as cursor:
        cursor.execute("SELECT projection, position, error, failed_at FROM projection_failures")
        return {
            name: {"stuck_at_position": int(position), "error": error, "since": failed_at}
            for name, position, error, failed_at in cursor.fetchall()
        }


def _utc_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Coordinator:
    """Decides which process projects, and wakes the runner when events are written."""

    def lead(self) -> bool:
        raise NotImplementedError

    def wait(self, timeout: float) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Gives up the lead."""
