"""The bounded hand-off from the session's flush thread to the mapping thread.

``put`` never blocks: a batch that does not fit is refused whole, and the caller
counts its events as dropped.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence

from tracer import Event

__all__ = ["Inbox"]


class Inbox:
    """A bounded queue of event batches, sized in events."""

    def __init__(self, max_events: int) -> None:
        self.max_events = max_events
        self.pending = 0
        self._batches: deque[Sequence[Event]] = deque()
        self._cond = threading.Condition()
        self._closed = False

    def put(self, events: Sequence[Event]) -> bool:
        """Queue a batch; False when it does not fit or the inbox is closed."""
        n = len(events)
        with self._cond:
            if self._closed or self.pending + n > self.max_events:
                return False
            self._batches.append(events)
            self.pending += n
            self._cond.notify()
        return True

    def take(self, timeout: float) -> list[Sequence[Event]]:
        """Every queued batch, waiting up to ``timeout`` seconds for the first."""
        with self._cond:
            if not self._batches and not self._closed:
                self._cond.wait(timeout)
            out = list(self._batches)
            self._batches.clear()
            self.pending = 0
        return out

    def close(self) -> None:
        """Refuse new batches and wake the consumer."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed
