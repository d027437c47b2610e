"""A session's bounded event buffers with exact loss accounting.

Writers (any thread) append record tuples; the session's flush thread drains them.
Capacity is ``buffer_size * buffer_count`` events. When it is reached, new events are
dropped and counted, with the times of the first and last drop, so the session can
write "N events lost between t1 and t2" in band: what a live source needs, which
cannot wait. A session fed from a file (a replay) is ``blocking`` instead, as LTTng's
blocking channels are: the producer waits for room, so nothing is lost whatever the
machine's load. (The session's own flush thread never waits on itself: an event it
emits while the buffers are full is dropped and counted.)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
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
    #: Why, by reason ("buffers full", "provider link full"): they add up to ``count``.
    reasons: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class BufferStats:
    """A snapshot of the buffers: pending events, peak use, drops."""

    pending: int
    capacity: int
    peak_events: int
    peak_buffers: int
    dropped: int
    blocked_ns: int = 0


class SessionBuffer:
    """Bounded FIFO of records; ``put`` drops and counts when full, or waits for room
    when ``blocking``."""

    def __init__(self, buffer_size: int, buffer_count: int, *, blocking: bool = False,
                 capacity: int | None = None) -> None:
        self.buffer_size = buffer_size
        self.capacity = buffer_size * buffer_count if capacity is None else capacity
        self.wake = threading.Event()
        self._q: deque[tuple] = deque()
        self._cap = self.capacity
        self._peak = 0
        self._lock = threading.Lock()
        self._dropped = 0
        self._window = 0
        self._first_ns = 0
        self._last_ns = 0
        self._upstream = 0  # of the window, dropped before the records reached this buffer
        self.blocking = blocking
        self.blocked_ns = 0
        #: The thread that drains the buffers: it must never wait for itself.
        self.consumer: threading.Thread | None = None
        self._room = threading.Condition(threading.Lock())
        self._waiters = 0
        #: Append a record; when the buffers are full drop and count it, or wait for room
        #: (``blocking``): the events' sink. In C when the accelerator is built, else :meth:`_put`.
        self.put: Callable[[tuple], None] = self._put
        self._sink = None
        if SPEEDUPS is not None:
            self.put = self._sink = SPEEDUPS.Sink(self._q, self._cap, buffer_size,
                                                  self.wake.set, self._full, self)

    def _put(self, rec: tuple) -> None:
        """Append a record, or (buffers full) wait for room or drop and count it."""
        q = self._q
        n = len(q)
        if n < self._cap:
            q.append(rec)
            if n + 1 == self.buffer_size:
                self.wake.set()
        else:
            self._full(rec)

    def _full(self, rec: tuple) -> None:
        """The buffers are full: wait for room (blocking), else drop and count."""
        waits = self.blocking and threading.current_thread() is not self.consumer
        if waits and self._wait_for_room():
            self._q.append(rec)
            if len(self._q) == self.buffer_size:
                self.wake.set()
            return
        self.drop(rec)

    def drop(self, rec: tuple) -> None:
        """Count one record as lost, with the window the in-band record reports."""
        ts = rec[0]
        with self._lock:  # the window (and what a subclass books) change together
            self._book_drop(rec)
            self._dropped += 1
            if not self._window:
                self._first_ns = ts
            self._window += 1
            self._last_ns = ts
        self.wake.set()

    def _book_drop(self, rec: tuple) -> None:
        """Book one dropped record beyond the counts (under the lock; a subclass's hook)."""

    def _wait_for_room(self) -> bool:
        """Block until the consumer made room; False if the buffers closed meanwhile."""
        start = time.monotonic_ns()
        with self._room:
            self._waiters += 1
            try:
                while self._cap and len(self._q) >= self._cap:
                    self.wake.set()
                    self._room.wait(0.05)
            finally:
                self._waiters -= 1
                self.blocked_ns += time.monotonic_ns() - start  # producers on many threads
        return bool(self._cap)

    def add_losses(self, count: int, first_ns: int, last_ns: int) -> None:
        """Count ``count`` events dropped upstream (at a remote provider's full link) as
        lost here."""
        if count <= 0:
            return
        with self._lock:
            self._dropped += count
            self._upstream += count
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
        taken = list(map(call, repeat(q.popleft, n)))  # one C loop (writers may append)
        if self._waiters:
            with self._room:
                self._room.notify_all()
        return taken

    def take_losses(self) -> LossWindow | None:
        """The drops since the previous call, if any."""
        with self._lock:
            if not self._window:
                return None
            reasons = {"buffers full": self._window - self._upstream,
                       "provider link full": self._upstream}
            window = LossWindow(self._window, self._first_ns, self._last_ns,
                                {k: v for k, v in reasons.items() if v})
            self._window = self._upstream = 0
            return window

    def close(self) -> None:
        """Refuse further records: late writers are counted as drops."""
        self._cap = 0
        if self._sink is not None:
            self._sink.cap = 0
        with self._room:
            self._room.notify_all()

    @property
    def pending(self) -> int:
        """Records waiting to be taken."""
        return len(self._q)

    @property
    def dropped(self) -> int:
        """Events dropped because the buffers were full (exact)."""
        return self._dropped

    def stats(self) -> BufferStats:
        """A consistent snapshot of the buffer counters."""
        peak = max(self._peak, len(self._q))
        return BufferStats(len(self._q), self.capacity, peak,
                           -(-peak // self.buffer_size), self._dropped, self.blocked_ns)
