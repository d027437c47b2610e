"""The provider side's bounded record buffer: the session buffer, booking drops per event.

A provider process must never block on the hub (live sources drop and count), and
the hub must book each drop to exactly the sessions that enable the dropped event:
so drops are counted per event id and reported in a wire loss record.
"""

from __future__ import annotations

from .._buffers import SessionBuffer
from .._provider import EVENT_TABLE
from . import _wire

__all__ = ["LinkBuffer"]


class LinkBuffer(SessionBuffer):
    """FIFO of ``(time_ns, event index, tid, *args)`` records bounded to ``capacity``."""

    def __init__(self, capacity: int, batch: int) -> None:
        super().__init__(batch, max(1, -(-capacity // batch)), capacity=capacity)
        self.batch = batch
        self._by_event: dict[int, int] = {}

    def _book_drop(self, rec: tuple) -> None:
        """Book a dropped record to its event id (the buffer holds its lock)."""
        eid = EVENT_TABLE[rec[1]].id
        self._by_event[eid] = self._by_event.get(eid, 0) + 1

    def take_losses(self) -> _wire.Losses | None:  # type: ignore[override]
        """The drops since the previous call, as a wire loss report."""
        with self._lock:
            if not self._by_event:
                return None
            by_event, self._by_event = self._by_event, {}
            losses = _wire.Losses(self._window, self._first_ns, self._last_ns, by_event)
            self._window = 0
        return losses

    def clear(self) -> None:
        """Forget pending records and drops (the hub that would book them is gone)."""
        self.take()
        self.take_losses()
