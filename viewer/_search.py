"""Search (``/``, ``n``, ``N``) on a worker thread: keys stay answered on a log of any size.

The worker walks the view's rows from the selected one, in either direction, and
reports how far it got (:attr:`SearchWorker.progress`); the app polls it and selects
the hit. A lazily read log's lines are decoded by the worker without its row cache
(which belongs to the screen's thread); a log line does not hold the formatted
message, so every line is decoded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from ._filter import EventFilter
from ._logindex import LogIndex
from ._logrows import LogRows
from ._ring import EventRing
from ._rows import ViewRows

__all__ = ["SearchWorker"]


class SearchWorker:
    """Finds the next row (after ``start``, in ``direction``) whose event holds ``text``."""

    def __init__(self, ring: EventRing | LogIndex, rows: ViewRows | LogRows, text: str,
                 start: int | None, direction: int) -> None:
        self.ring = ring
        self.rows = rows
        self.text = text
        self.direction = direction
        n = len(rows)
        first = (n - 1 if direction < 0 else -1) if start is None else start
        self.order = range(first + 1, n) if direction > 0 else range(first - 1, -1, -1)
        self.checked = 0
        self.found: int | None = None  # the absolute index of the hit
        self.done = False
        flt = EventFilter(text=text)  # raises FilterError
        self._match = _log_match(flt, ring) if isinstance(ring, LogIndex) else flt.compile(ring)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traceview-search",
                                        daemon=True)

    def start(self) -> SearchWorker:
        self._thread.start()
        return self

    @property
    def progress(self) -> float:
        """The share of the rows to search that were checked."""
        return min(1.0, self.checked / max(1, len(self.order)))

    def cancel(self) -> None:
        """Stop searching (the app forgets this search)."""
        self._stop.set()

    def _run(self) -> None:
        rows, match, stop = self.rows, self._match, self._stop
        try:
            for n, row in enumerate(self.order):
                if n & 1023 == 0:
                    self.checked = n
                    if stop.is_set():
                        return
                index = rows[row]
                if match(index):
                    self.found = index
                    return
        except (IndexError, ValueError, OSError):
            return  # the rows changed under the search (a new filter, the log closed)
        finally:
            self.checked = len(self.order)
            self.done = True


def _log_match(flt: EventFilter, index: LogIndex) -> Callable[[int], bool]:
    """The filter over rows of a log, decoded on this thread (not through the row cache)."""
    matches, decode, line = flt.event_predicate(), index.reader.decode, index.line

    def match(row: int) -> bool:
        ev = decode(line(row))
        return ev is not None and matches(ev)
    return match
