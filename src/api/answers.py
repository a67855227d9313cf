"""Answers of read-model queries, kept while the read model they were read from stands still.

A read model's rows are a function of its position: each batch changes the rows and the
position in one transaction (`projections.store`). So a query's answer at a position is the
answer at that position for as long as the position stays there, and asking again is work
done twice: a caseload or a statistic a dashboard polls is read once per change, not once per
request. An answer is kept for the position of the snapshot it was read in (read in that
snapshot too), and only the answers of a model's newest position are kept: when it moves on,
the older ones are dropped.

The key holds everything else the answer depends on: the query, its arguments and the day it
was judged on. Callers receive the kept object itself and must not change it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from projections.store import Cursor, ReadStore, position_in

KEPT = 64  # answers kept per process: a dashboard's handful of queries, many times over
_NONE = object()  # no answer kept (None may be an answer)


class Answers:
    def __init__(self, store: ReadStore, *, kept: int = KEPT) -> None:
        self.store = store
        self.kept = kept
        self._answers: OrderedDict[tuple[str, Hashable], tuple[int, Any]] = OrderedDict()
        self._newest: dict[str, int] = {}
        self._lock = threading.Lock()
        self.reads = 0  # how many answers were read from the store rather than kept ones

    def answer(
        self, projection: str, key: Hashable, at: int | None, query: Callable[[Cursor], Any]
    ) -> Any:
        """`query`'s answer from `projection` at position `at` (read in one snapshot); a kept
        one if there is one. With no position (`at` None), it is always read."""
        if at is None:
            with self.store.reading() as cursor:
                found = query(cursor)
            self._count_read()
            return found
        if (kept := self._kept(projection, key, at)) is not _NONE:
            return kept
        with self.store.reading() as cursor:
            position = position_in(cursor, projection)
            found = query(cursor)
        self._count_read()
        # Kept for the position the snapshot was at, which may be past `at`: the model moved on
        # between the caller's reading of its position and this snapshot.
        self._keep(projection, key, position, found)
        return found

    def derived(self, projection: str, key: Hashable, at: int, make: Callable[[], Any]) -> Any:
        """`make()`, an answer made from `projection`'s answers at position `at` (a route's
        JSON, say), kept for `at` like them: so a kept answer is not shaped again either."""
        if (kept := self._kept(projection, key, at)) is not _NONE:
            return kept
        found = make()
        self._keep(projection, key, at, found)
        return found

    def _kept(self, projection: str, key: Hashable, at: int) -> Any:
        with self._lock:
            kept = self._answers.get((projection, key))
            if kept is None or kept[0] != at:
                return _NONE
            self._answers.move_to_end((projection, key))
            return kept[1]

    def _count_read(self) -> None:
        with self._lock:
            self.reads += 1

    def _keep(self, projection: str, key: Hashable, position: int, found: Any) -> None:
        with self._lock:
            newest = self._newest.get(projection, -1)
            if position < newest:
                return  # a slow reader of an older position: a newer one is being kept
            if position > newest:
                self._newest[projection] = position
                for stale in [k for k, (p, _) in self._answers.items() if k[0] == projection]:
                    if self._answers[stale][0] < position:
                        del self._answers[stale]
            self._answers[(projection, key)] = (position, found)
            self._answers.move_to_end((projection, key))
            while len(self._answers) > self.kept:
                self._answers.popitem(last=False)

    def __len__(self) -> int:
        return len(self._answers)
