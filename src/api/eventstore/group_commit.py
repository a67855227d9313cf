"""Group commit: the saves that arrive while one is being written go together in the next.

PostgreSQL's writers of the events table queue for one table lock (so that positions commit in
the order they are given) and hold it until their commit is on disk. One save at a time, each
with its own round trips and its own flush, caps a process at one save per (round trips +
flush) however many requests wait. Here the thread that finds no write under way leads: it
takes every save queued so far and writes them in one transaction, then wakes their threads;
saves arriving meanwhile queue for the next leader, who is one of them.

What each request is promised does not change: its save is answered only after the commit
that holds it; a save whose version is taken (a concurrent change: a conflict) fails alone,
found before anything is written; and should the shared transaction fail for any other
reason, each of its saves is written again in a transaction of its own, so that an error
reaches only the request that caused it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import StoredEvent


@dataclass(eq=False)
class Save:
    """One request's events and what it writes beside them, and what became of it."""

    events: Sequence[StoredEvent]
    companion: Any
    positions: list[int] | None = None
    error: BaseException | None = None
    done: bool = False  # set under the group's condition, once its leader has finished

    def refuse(self, error: BaseException) -> None:
        self.error = error

    def outcome(self) -> list[int]:
        if self.error is not None:
            raise self.error
        if self.positions is None:  # a writer that neither wrote nor refused: never silent
            raise RuntimeError("the save was neither written nor refused")
        return self.positions


# Writes the saves in one transaction: sets the positions of each one written and refuses
# (`Save.refuse`) each one it will not write; raises if the transaction itself fails.
Writer = Callable[[list[Save]], None]


class GroupCommit:
    def __init__(self, write: Writer) -> None:
        self._write = write
        self._condition = threading.Condition()
        self._queue: list[Save] = []
        self._leading = False

    def save(self, events: Sequence[StoredEvent], companion: Any) -> list[int]:
        """The events' positions once committed; raises what refused or failed them."""
        mine = Save(events, companion)
        with self._condition:
            self._queue.append(mine)
            while self._leading and not mine.done:
                self._condition.wait()
            if mine.done:
                return mine.outcome()
            self._leading = True
            batch, self._queue = self._queue, []
        try:
            self._write_batch(batch)
        finally:
            with self._condition:
                self._leading = False
                for save in batch:
                    save.done = True
                self._condition.notify_all()
        return mine.outcome()

    def _write_batch(self, batch: list[Save]) -> None:
        try:
            self._write(batch)
            return
        except BaseException as error:
            if len(batch) == 1:
                batch[0].positions, batch[0].error = None, error
                return
            if not isinstance(error, Exception):  # interrupted: nothing is retried
                for save in batch:
                    save.positions, save.error = None, error
                return
        # The shared transaction failed and rolled back: each save alone, so that the error
        # is its own request's.
        for save in batch:
            save.positions, save.error = None, None
            try:
                self._write([save])
            except Exception as error:
                save.positions, save.error = None, error
