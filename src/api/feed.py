"""The live change feed of a process: one follower of the event log, fanned out to subscribers.

One thread per process reads new notifications from the event store, woken as the projections
are (LISTEN/NOTIFY on PostgreSQL, `Complaints.on_recorded` on SQLite; `build_coordinator`),
describes each once (position, complaint, reference, version, type, status after it: never a
personal value, decoded with the projection mapper, which leaves them sealed) and hands each
subscriber's event loop the batch it asked for. A subscriber is an async generator holding no
connection and no thread while it waits: idle streams cost a small buffer each.

A subscriber that resumes from an old position reads the gap from the store itself (in short
reads on a worker thread), registering first so that what the follower publishes meanwhile is
buffered; positions it has already given are skipped, so every event comes exactly once and in
log order. One that falls too far behind (its buffer full) drops the buffer and reads the store
again from where it was, rather than holding ever more memory.

A status needs the complaint's earlier events: the follower keeps the state after the last event
it saw of each recent complaint (an LRU cache); for one it has not seen, it replays that
complaint's events up to the one before.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification, StoredEvent
from pydantic import BaseModel

from api.read_models import build_coordinator
from api.settings import Settings
from domain.complaint import Complaint
from domain.service import Complaints, event_type_name
from domain.statuses import status_after
from domain.values import Status
from projections.coordination import SQLiteCoordinator
from projections.runner import Coordinator

log = logging.getLogger("complaints.feed")

BATCH_SIZE = 256  # notifications read at once, by the follower and by a catch-up
IDLE_WAIT = 0.5  # seconds the follower waits to be woken before it looks again anyway
RETRY_MAX = 2.0  # longest pause after a failed read of the store
BUFFER_LIMIT = 2048  # events a subscriber may have waiting before it reads the store instead
CACHE_SIZE = 10_000  # complaints whose latest state the follower remembers


class ChangeData(BaseModel):
    """The `data` of one event of the stream: nothing personal."""

    position: int
    complaint_id: UUID
    reference: str | None
    version: int
    type: str
    status: Status | None
    recorded_at: datetime


@dataclass(frozen=True)
class Change:
    """One stored event as the stream gives it: `data` is encoded once for every subscriber."""

    position: int
    complaint_id: UUID
    type: str
    data: str


@dataclass(frozen=True)
class _State:
    reference: str | None
    status: Status | None
    version: int


def _fold(state: _State | None, event: Any) -> _State:
    """The complaint's reference and status after `event`, from those before it."""
    reference = state.reference if state is not None else None
    if isinstance(event, Complaint.Lodged):
        reference = event.reference
    status = status_after(state.status if state is not None else None, event)
    return _State(reference, status, event.originator_version)


class _Describer:
    """Turns notifications into changes; remembers the latest state of `capacity` complaints."""

    def __init__(self, complaints: Complaints, capacity: int) -> None:
        self.complaints = complaints
        self.capacity = capacity
        self._states: OrderedDict[UUID, _State] = OrderedDict()

    def describe(self, notification: Notification) -> Change | None:
        try:
            event = self._decode(notification)
            state = self._state_after(event)
        except Exception as error:  # one bad event must not stop the feed
            self._states.pop(UUID(str(notification.originator_id)), None)
            log.error("change feed: cannot describe the event at %d: %s", notification.id, error)
            return None
        complaint_id = UUID(str(event.originator_id))
        kind = event_type_name(type(event))
        data = ChangeData(
            position=notification.id,
            complaint_id=complaint_id,
            reference=state.reference,
            version=state.version,
            type=kind,
            status=state.status,
            recorded_at=event.timestamp,
        )
        return Change(notification.id, complaint_id, kind, data.model_dump_json())

    def _decode(self, stored: StoredEvent) -> Any:
        # The projection mapper: personal values stay sealed (and none is read here).
        return self.complaints.projection_mapper.to_domain_event(stored)

    def _state_after(self, event: Any) -> _State:
        complaint_id = UUID(str(event.originator_id))
        version = event.originator_version
        before = self._states.get(complaint_id)
        if not isinstance(event, Complaint.Lodged) and (
            before is None or before.version != version - 1
        ):
            before = self._replay(complaint_id, version - 1)
        state = _fold(before, event)
        self._states[complaint_id] = state
        self._states.move_to_end(complaint_id)
        while len(self._states) > self.capacity:
            self._states.popitem(last=False)
        return state

    def _replay(self, complaint_id: UUID, version: int) -> _State | None:
        """The state after the complaint's events up to `version`, read from the store."""
        state: _State | None = None
        if version < 1:
            return None
        for stored in self.complaints.recorder.select_events(complaint_id, lte=version):
            state = _fold(state, self._decode(stored))
        return state


@dataclass(eq=False)
class _Subscriber:
    """A subscriber's buffer; touched only on its event loop (the follower calls in to it)."""

    loop: asyncio.AbstractEventLoop
    start: int
    complaint_id: UUID | None
    buffer: deque[Change] = field(default_factory=deque)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    overflowed: bool = False
    closed: bool = False

    def wants(self, change: Change) -> bool:
        return self.complaint_id is None or change.complaint_id == self.complaint_id

    def offer(self, changes: list[Change]) -> None:
        if self.closed or self.overflowed:
            return
        if len(self.buffer) + len(changes) > BUFFER_LIMIT:
            self.overflowed = True  # it reads the store again instead
            self.buffer.clear()
        else:
            self.buffer.extend(changes)
        self.ready.set()

    def close(self) -> None:
        self.closed = True
        self.ready.set()


class ChangeFeed:
    """The follower of one process and its subscribers."""

    def __init__(
        self,
        complaints: Complaints,
        coordinator: Coordinator,
        *,
        idle_wait: float = IDLE_WAIT,
        cache_size: int = CACHE_SIZE,
    ) -> None:
        self.complaints = complaints
        self.coordinator = coordinator
        self.idle_wait = idle_wait
        self._describer = _Describer(complaints, cache_size)
        self._lock = threading.Lock()
        self._subscribers: set[_Subscriber] = set()
        self._position: int | None = None  # the last position read (or passed, while idle)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def for_settings(cls, settings: Settings, complaints: Complaints) -> ChangeFeed:
        return cls(complaints, build_coordinator(settings, complaints))

    @property
    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def start(self) -> None:
        try:
            self._position = self.head()
        except Exception as error:  # the follower starts from its first subscriber's start
            log.warning("change feed: the head is not known yet (%s)", type(error).__name__)
        # A daemon: it never keeps the process alive, and `close` stops it first anyway.
        self._thread = threading.Thread(target=self._follow, name="change-feed", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stops the follower and ends every subscriber's stream."""
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.coordinator.close()
        with self._lock:
            subscribers, self._subscribers = list(self._subscribers), set()
        for subscriber in subscribers:
            _call_in(subscriber, subscriber.close)

    def _wake(self) -> None:
        """Wakes the follower from its wait, so that closing does not wait it out."""
        if isinstance(self.coordinator, SQLiteCoordinator):
            self.coordinator.wake()
            return
        if self._thread is None or not self._thread.is_alive():
            return
        # PostgreSQL: a notification on the channel it listens on (the other listeners, the
        # projection runners, just look once more and find nothing new).
        datastore = getattr(self.complaints.recorder, "datastore", None)
        channel = getattr(self.complaints.recorder, "channel_name", None)
        if datastore is None or channel is None:
            return
        try:
            with datastore.transaction(commit=True) as cursor:
                cursor.execute("SELECT pg_notify(%s, '')", (channel,))
        except Exception as error:  # then it stops at the end of its wait
            log.info("change feed: could not wake the follower (%s)", type(error).__name__)

    def head(self) -> int:
        """The position of the last stored event (where a stream without a resume starts)."""
        return self.complaints.head_position()

    # ---- the follower -----------------------------------------------------------------------

    def _follow(self) -> None:
        pause, instant = 0.0, False
        while not self._stop.is_set():
            try:
                read = self._step()
                pause = 0.0
            except Exception as error:  # the store is away: keep trying, not in a tight loop
                pause = min(max(pause * 2, 0.1), RETRY_MAX)
                log.warning("change feed: reading the log failed (%s)", type(error).__name__)
                self._stop.wait(pause)
                continue
            if read == BATCH_SIZE:
                continue  # there may be more at once
            if read == 0 and instant:
                # Woken at once for nothing: a listening connection that cannot be had just
                # now returns at once too; never spin on it.
                self._stop.wait(0.01)
            started = time.monotonic()
            self.coordinator.wait(timeout=self.idle_wait)
            instant = time.monotonic() - started < 0.001

    def _step(self) -> int:
        """Reads what is new and hands it on; returns how many notifications it read."""
        with self._lock:
            idle, position = not self._subscribers, self._position
        if idle:
            # Nobody listens: only keep up with the head (subscribers read what they missed).
            head = self.head()
            with self._lock:
                if not self._subscribers:
                    self._position = head
                    return 0
                position = self._position
        if position is None:  # not started at the head: from the earliest subscriber's start
            with self._lock:
                position = min((s.start for s in self._subscribers), default=None)
            if position is None:
                return 0
        notifications = self.complaints.recorder.select_notifications(
            start=position, limit=BATCH_SIZE, inclusive_of_start=False
        )
        if not notifications:
            return 0
        changes = [c for c in map(self._describer.describe, notifications) if c is not None]
        with self._lock:
            self._position = notifications[-1].id
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            wanted = [change for change in changes if subscriber.wants(change)]
            if wanted and not _call_in(subscriber, subscriber.offer, wanted):
                self._forget(subscriber)
        return len(notifications)

    def _forget(self, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    # ---- subscribers ------------------------------------------------------------------------

    async def subscribe(
        self, after: int, complaint_id: UUID | None = None
    ) -> AsyncGenerator[Change, None]:
        """Every change after position `after`, in log order, exactly once, then each new one
        as it is recorded; ends when the feed closes."""
        subscriber = _Subscriber(asyncio.get_running_loop(), after, complaint_id)
        with self._lock:
            if self._stop.is_set():
                return
            self._subscribers.add(subscriber)
        last = after
        try:
            # Registered first: what the follower publishes while the gap is read is buffered.
            async for change in self._catch_up(last, complaint_id):
                last = change.position
                yield change
            while not subscriber.closed:
                await subscriber.ready.wait()
                subscriber.ready.clear()
                if subscriber.overflowed:
                    subscriber.overflowed = False
                    log.info("change feed: a subscriber fell behind; it reads from the store")
                    async for change in self._catch_up(last, complaint_id):
                        last = change.position
                        yield change
                    continue
                while subscriber.buffer and not subscriber.closed:
                    change = subscriber.buffer.popleft()
                    if change.position > last:
                        last = change.position
                        yield change
        finally:
            subscriber.closed = True
            self._forget(subscriber)

    async def _catch_up(self, after: int, complaint_id: UUID | None) -> AsyncIterator[Change]:
        """What the store holds after `after`, read in short reads on a worker thread."""
        describer = _Describer(self.complaints, capacity=1000)  # its own: the follower's is ahead
        while True:
            notifications, changes = await asyncio.to_thread(
                self._read, describer, after, complaint_id
            )
            for change in changes:
                yield change
            if len(notifications) < BATCH_SIZE:
                return
            after = notifications[-1].id

    def _read(
        self, describer: _Describer, after: int, complaint_id: UUID | None
    ) -> tuple[Sequence[Notification], list[Change]]:
        notifications = self.complaints.recorder.select_notifications(
            start=after, limit=BATCH_SIZE, inclusive_of_start=False
        )
        wanted = [
            n
            for n in notifications
            if complaint_id is None or UUID(str(n.originator_id)) == complaint_id
        ]
        changes = [c for c in map(describer.describe, wanted) if c is not None]
        return notifications, changes


def _call_in(subscriber: _Subscriber, function: Any, *args: Any) -> bool:
    """Runs `function` on the subscriber's event loop; False once that loop has closed."""
    try:
        subscriber.loop.call_soon_threadsafe(function, *args)
    except RuntimeError:
        return False
    return True
