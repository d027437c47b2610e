"""The rows the view shows: the ring, or the subset a filter keeps, maintained incrementally.

Filtering runs in bounded steps (:meth:`ViewRows.update` with a budget) so a
filter over a million buffered events never freezes the screen; new events are
checked as they arrive.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Callable

from ._filter import EventFilter
from ._ring import EventRing

__all__ = ["ViewRows"]


class ViewRows:
    """Row number -> absolute ring index, under the current filter."""

    def __init__(self, ring: EventRing) -> None:
        self.ring = ring
        self.filter = EventFilter()
        self._predicate: Callable[[int], bool] | None = None
        self._index = array("q")
        self._head = 0
        self._scanned = 0

    def set_filter(self, flt: EventFilter) -> None:
        """Apply a new filter; rows are recomputed by the following ``update`` calls."""
        self.filter = flt
        self._index = array("q")
        self._head = 0
        self._scanned = self.ring.start
        self._predicate = None if flt.empty else flt.compile(self.ring)

    @property
    def pending(self) -> int:
        """Buffered events the filter has not checked yet."""
        if self._predicate is None:
            return 0
        return self.ring.total - max(self._scanned, self.ring.start)

    def update(self, budget: int = 200_000) -> int:
        """Check up to ``budget`` unchecked events; return how many rows were added."""
        ring = self.ring
        if self._predicate is None:
            return 0
        start = max(self._scanned, ring.start)
        stop = min(ring.total, start + budget)
        pred = self._predicate
        before = len(self._index)
        self._index.extend(i for i in range(start, stop) if pred(i))
        self._scanned = stop
        self._trim()
        return len(self._index) - before

    def _trim(self) -> None:
        idx, start = self._index, self.ring.start
        if self._head < len(idx) and idx[self._head] < start:
            self._head = bisect_left(idx, start, self._head)
        if self._head > 4096 and self._head * 2 > len(idx):
            del idx[:self._head]
            self._head = 0

    def __len__(self) -> int:
        if self._predicate is None:
            return len(self.ring)
        self._trim()
        return len(self._index) - self._head

    def __getitem__(self, row: int) -> int:
        """The absolute ring index shown at ``row`` (0 is the oldest shown)."""
        n = len(self)
        if row < 0:
            row += n
        if not 0 <= row < n:
            raise IndexError(row)
        if self._predicate is None:
            return self.ring.start + row
        return self._index[self._head + row]

    def row_of(self, index: int) -> int:
        """The row showing absolute index ``index``, or the nearest row after it."""
        if self._predicate is None:
            return max(0, index - self.ring.start)
        return bisect_left(self._index, index, self._head) - self._head
