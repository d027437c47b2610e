"""A live view's ring that spills to the session's log file instead of dropping rows.

When a watched session also writes a log file, rows the full ring overwrites stay
in the view: they are read back from the file (indexed lazily, :class:`LogIndex`).
The ring's oldest held event is found in the file by its sequence number; every row
before it is the file's. Only rows the file does not hold count as dropped.
"""

from __future__ import annotations

import os
from typing import Any

from tracer import Event, TracerError

from ._logindex import LogIndex
from ._ring import EventRing, Schema

__all__ = ["SpillRing"]


class SpillRing(EventRing):
    """An :class:`EventRing` whose overwritten rows are read back from a log file."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.spill: LogIndex | None = None
        self._anchor: tuple[int, int, int] = (-1, -1, 0)  # (ring start, file rows, its row)

    def attach(self, path: str | os.PathLike[str]) -> bool:
        """Read rows the ring overwrites from this log (the first one attached wins)."""
        if self.spill is not None:
            return False
        try:
            self.spill = LogIndex(path, follow=True)
        except (OSError, TracerError):
            return False  # not readable here (e.g. a remote hub's file): rows drop as before
        return True

    # -- bounds -------------------------------------------------------------------------------
    @property
    def ring_start(self) -> int:
        """The absolute index of the oldest event held in memory."""
        return max(self._floor, self.total - self.capacity)

    def _file_row(self) -> int:
        """The file row of the oldest event in memory (cached while the ring does not move)."""
        start = self.ring_start
        assert self.spill is not None
        indexed = self.spill.indexed
        if self._anchor[:2] == (start, indexed):
            return self._anchor[2]
        seq = self._seq[start % self.capacity]
        lo, hi = 0, indexed
        while lo < hi:  # first file row with seq >= the oldest held seq
            mid = (lo + hi) // 2
            if self.spill.seq(mid) < seq:
                lo = mid + 1
            else:
                hi = mid
        self._anchor = (start, indexed, lo)
        return lo

    @property
    def start(self) -> int:
        """The oldest row: in the file once the ring has overwritten events."""
        start = self.ring_start
        if self.spill is None or not self.overwritten or start == self._floor:
            return start
        return start - self._file_row()

    @property
    def dropped(self) -> int:
        """Overwritten events the file does not hold either (really gone from the view)."""
        if self.spill is None or self.ring_start == self._floor:
            return self.overwritten
        return max(0, min(self.overwritten, self.ring_start - self._file_row()))

    def spilled(self, index: int) -> bool:
        """True if row ``index`` is read from the file."""
        return index < self.ring_start and self.spill is not None

    # -- reading --------------------------------------------------------------------------------
    def _pos(self, index: int) -> int:
        if not self.ring_start <= index < self.total:
            raise IndexError(f"event {index} is not in the ring")
        return index % self.capacity

    def _spilled_event(self, index: int) -> Event:
        assert self.spill is not None
        row = self._file_row() - (self.ring_start - index)
        if row < 0:
            raise IndexError(f"event {index} is gone")
        return self.spill.event(row)

    def event(self, index: int) -> Event:
        if self.spilled(index):
            return self._spilled_event(index)
        return super().event(index)

    def schema(self, index: int) -> Schema:
        if self.spilled(index):
            assert self.spill is not None
            return self.spill.schema(self._file_row() - (self.ring_start - index))
        return super().schema(index)

    def level(self, index: int) -> int:
        return self._spilled_event(index).level if self.spilled(index) else super().level(index)

    def seq(self, index: int) -> int:
        return self._spilled_event(index).seq if self.spilled(index) else super().seq(index)

    def time_ns(self, index: int) -> int:
        if self.spilled(index):
            return self._spilled_event(index).time_ns
        return super().time_ns(index)

    def fields(self, index: int) -> dict[str, Any]:
        if self.spilled(index):
            return self._spilled_event(index).fields
        return super().fields(index)

    def raw_fields(self, index: int) -> bytes:
        if self.spilled(index):
            assert self.spill is not None
            return self.spill.line(self._file_row() - (self.ring_start - index))
        return super().raw_fields(index)

    def close(self) -> None:
        """Stop reading the log file."""
        if self.spill is not None:
            self.spill.close()

