"""A session's bounded event buffers with exact loss accounting.

Writers (any thread) append record tuples; the session's flush thread drains them.
Capacity is ``buffer_size * buffer_count`` events. When it is reached, new events are
dropped and counted, with the times of the first and last drop, so the session can
write "N events lost between t1 and t2" in band.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from itertools import repeat
from operator import call

from ._accel import SPEEDUPS

__all__ = ["BufferStats", "LossWindow", "SessionBuffer"]


@dataclass(frozen=True)
class LossWindow:
    """Events dropped since the last report, and when."""

    count: int
    first_ns: int
    last_ns: int


@dataclass(frozen=True)
class BufferStats:
    """A snapshot of the buffers: pending events, peak use, drops."""

    pending: int
    capacity: int
    peak_events: int
    peak_buffers: int
    dropped: int


class SessionBuffer:
    """Bounded FIFO of records; ``put`` never blocks, it drops and counts instead."""

    def __init__(self, buffer_size: int, buffer_count: int) -> None:
        self.buffer_size = buffer_size
        self.capacity = buffer_size * buffer_count
        self.wake = threading.Event()
        self._q: deque[tuple] = deque()
        self._cap = self.capacity
        self._peak = 0
        self._lock = threading.Lock()
        self._dropped = 0
        self._window = 0
        self._first_ns = 0
        self._last_ns = 0
        #: Append a record, or drop and count it when the buffers are full (never blocks):
        #: the session's sink. In C when the accelerator is built, else :meth:`_put`.
        self.put: Callable[[tuple], None] = self._put
        self._sink = None
        if SPEEDUPS is not None:
            self.put = self._sink = SPEEDUPS.Sink(self._q, self._cap, buffer_size,
                                                  self.wake.set, self._drop_record, self)

    def _put(self, rec: tuple) -> None:
        """Append a record, or drop and count it when the buffers are full."""
        q = self._q
        n = len(q)
        if n < self._cap:
            q.append(rec)
            if n + 1 == self.buffer_size:
                self.wake.set()
        else:
            self._drop(rec[0])

    def _drop_record(self, rec: tuple) -> None:
        self._drop(rec[0])

    def _drop(self, ts: int) -> None:
        with self._lock:
            self._dropped += 1
            if not self._window:
                self._first_ns = ts
            self._window += 1
            self._last_ns = ts
        self.wake.set()

    def add_losses(self, count: int, first_ns: int, last_ns: int) -> None:
        """Count ``count`` events dropped upstream (e.g. at a remote provider) as lost here."""
        if count <= 0:
            return
        with self._lock:
            self._dropped += count
            if not self._window:
                self._first_ns, self._last_ns = first_ns, last_ns
            self._first_ns = min(self._first_ns, first_ns)
            self._last_ns = max(self._last_ns, last_ns)
            self._window += count
        self.wake.set()

    def take(self, limit: int | None = None) -> list[tuple]:
        """Remove and return up to ``limit`` pending records (called by the single consumer)."""
        q = self._q
        n = len(q)
        if n > self._peak:
            self._peak = n  # between takes the queue only grows: its peak is now
        if limit is not None and n > limit:
            n = limit
        return list(map(call, repeat(q.popleft, n)))  # one C loop (writers may append)

    def take_losses(self) -> LossWindow | None:
        """The drops since the previous call, if any."""
        with self._lock:
            if not self._window:
                return None
            window = LossWindow(self._window, self._first_ns, self._last_ns)
            self._window = 0
            return window

    def close(self) -> None:
        """Refuse further records: late writers are counted as drops."""
        self._cap = 0
        if self._sink is not None:
            self._sink.cap = 0

    @property
    def dropped(self) -> int:
        """Events dropped because the buffers were full (exact)."""
        return self._dropped

    def stats(self) -> BufferStats:
        """A consistent snapshot of the buffer counters."""
        peak = max(self._peak, len(self._q))
        return BufferStats(len(self._q), self.capacity, peak,
                           -(-peak // self.buffer_size), self._dropped)
