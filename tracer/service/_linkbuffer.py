"""The provider side's bounded record buffer: never blocks, drops and counts per event."""

from __future__ import annotations

import threading
from collections import deque

from .._provider import EVENT_TABLE
from . import _wire

__all__ = ["LinkBuffer"]


class LinkBuffer:
    """FIFO of ``(time_ns, event index, args, ident)`` records bounded to ``capacity``.

    ``put`` is the sink installed in the provider's events: one length check and an
    append. When full it counts the drop per event id, so the hub can book it to
    exactly the sessions that enable that event.
    """

    def __init__(self, capacity: int, batch: int) -> None:
        self.capacity = capacity
        self.batch = batch
        self.wake = threading.Event()
        self.dropped = 0
        self._q: deque[tuple] = deque()
        self._lock = threading.Lock()
        self._by_event: dict[int, int] = {}
        self._first_ns = 0
        self._last_ns = 0

    def put(self, rec: tuple) -> None:
        """Append a record, or drop and count it when the buffer is full."""
        q = self._q
        n = len(q)
        if n < self.capacity:
            q.append(rec)
            if n + 1 == self.batch:
                self.wake.set()
        else:
            self.drop(rec)

    def drop(self, rec: tuple) -> None:
        """Count one record as lost."""
        ts, eid = rec[0], EVENT_TABLE[rec[1]].id
        with self._lock:
            self.dropped += 1
            if not self._by_event:
                self._first_ns = ts
            self._last_ns = ts
            self._by_event[eid] = self._by_event.get(eid, 0) + 1

    def take(self) -> list[tuple]:
        """Remove and return every pending record (single consumer)."""
        pop = self._q.popleft
        return [pop() for _ in range(len(self._q))]

    def take_losses(self) -> _wire.Losses | None:
        """The drops since the previous call, as a wire loss report."""
        with self._lock:
            if not self._by_event:
                return None
            by_event, self._by_event = self._by_event, {}
            return _wire.Losses(sum(by_event.values()), self._first_ns, self._last_ns, by_event)

    def clear(self) -> None:
        """Forget pending records and drops (the hub that would book them is gone)."""
        self.take()
        with self._lock:
            self._by_event = {}

    @property
    def pending(self) -> int:
        """Records waiting to be sent."""
        return len(self._q)
