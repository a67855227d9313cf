"""A clear-out on a thread of its own: one call now, then one every so often, until closed.

The idempotency keys and the status page's counted failures both forget old rows this way, so
that no request waits on a clear-out (each API process runs one; a DELETE is safe twice).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("complaints.api")


class PeriodicClearOut:
    def __init__(self, clear_out: Callable[[], object], *, name: str, what: str) -> None:
        self._clear_out = clear_out
        self._name = name
        self._what = what  # for the log line, e.g. "old idempotency keys"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, every: float) -> threading.Thread:
        def until_stopped() -> None:
            while True:
                try:
                    self._clear_out()
                except Exception as error:  # the store may be down: try again next time
                    log.warning("could not forget %s: %s", self._what, type(error).__name__)
                if self._stop.wait(every):
                    return

        thread = threading.Thread(target=until_stopped, name=self._name, daemon=True)
        thread.start()
        self._thread = thread
        return thread

    def close(self) -> None:
        """Stops the clear-outs, waiting for one under way, before the store's pool closes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
