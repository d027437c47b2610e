"""Events per second over a log's time span, and where lost-event records are: from the index.

A lazily opened log is never read whole for this: its rows are in time order, so the
row where each time bin starts is found by bisection over the rows' times (read from
the raw lines), about ``bins * log2(rows)`` line reads for any size of log. Lost-event
records are the rows the index noted while scanning (``lost_rows``). A thread redoes
this while the index grows, so the strip fills in as indexing goes on.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from ._linetime import LineTimes, row_times

__all__ = ["LogTimeline", "Timeline"]


@dataclass(frozen=True)
class Timeline:
    """Rates (events/s) in equal time bins from ``start_ns`` to ``end_ns``, and lost bins."""

    start_ns: int = 0
    end_ns: int = 0
    rates: list[float] = field(default_factory=list)
    lost_bins: frozenset[int] = frozenset()
    lost_records: int = 0
    rows: int = 0
    complete: bool = False  # the whole log is covered (indexing done)


class LogTimeline:
    """Keeps a :class:`Timeline` of a ``LogIndex`` (or merged logs) up to date, on a thread."""

    def __init__(self, index: Any, bins: int = 100, interval: float = 2.0,
                 delay: float = 1.0) -> None:
        self.index = index
        self.delay = delay
        self.bins = max(1, bins)
        self.interval = interval
        self.timeline = Timeline()
        self.version = 0  # changes with every new timeline (the widget redraws)
        self._times = LineTimes()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traceview-timeline",
                                        daemon=True)
        self._thread.start()

    def resize(self, bins: int) -> None:
        """Use ``bins`` bins from the next computation (the widget's width)."""
        if bins > 0 and bins != self.bins:
            self.bins = bins
            self._wake.set()

    def _run(self) -> None:
        done_shown = False
        seen: tuple[int, int] = (-1, -1)
        self._stop.wait(self.delay)  # the first screen of rows is painted before this runs
        while not self._stop.is_set():
            state = (self.index.indexed, self.bins)
            if state != seen and state[0] > 0:
                complete = bool(self.index.done) and self.index.indexed >= self.index.total
                try:
                    self.timeline = self.compute(complete)
                except (IndexError, OSError, ValueError):
                    pass  # the log changed under us (closed, rotated): next round
                else:
                    seen = state
                    self.version += 1
                    done_shown = complete
            if done_shown and not getattr(self.index, "follow", False):
                return
            self._wake.wait(self.interval)
            self._wake.clear()

    def _time(self, row: int) -> int:
        index, row = _log_of(self.index, row)
        return next(row_times(index, row, row + 1, self._times), 0)

    def compute(self, complete: bool = False) -> Timeline:
        """The timeline of the rows indexed so far (contiguous from the first)."""
        n = self.index.indexed
        t0, t1 = self._time(0), self._time(n - 1)
        bins = self.bins
        span = max(1, t1 - t0)
        edges = [0]
        for b in range(1, bins):
            edges.append(self._first_at(t0 + span * b // bins, edges[-1], n))
        edges.append(n)
        width_s = span / bins / 1e9
        rates = [(edges[b + 1] - edges[b]) / max(width_s, 1e-9) for b in range(bins)]
        lost_bins, records = self._lost(t0, span, bins)
        return Timeline(t0, t1, rates, frozenset(lost_bins), records, n, complete)

    def _first_at(self, t: int, lo: int, hi: int) -> int:
        """The first row in ``lo..hi`` whose time is ``t`` or later (rows in time order)."""
        while lo < hi:
            mid = (lo + hi) // 2
            if self._time(mid) < t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def _lost(self, t0: int, span: int, bins: int) -> tuple[set[int], int]:
        """The bins holding a lost-event record, and how many records there are."""
        out: set[int] = set()
        records = 0
        for log in getattr(self.index, "logs", None) or [self.index]:
            rows = getattr(log, "lost_rows", ())
            for row in rows[:]:
                if row >= log.indexed:
                    continue
                records += 1
                t = next(row_times(log, row, row + 1, self._times, t0), t0)
                out.add(max(0, min(bins - 1, (t - t0) * bins // span)))
        return out, records

    def close(self) -> None:
        """Stop the thread."""
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)


def _log_of(index: Any, row: int) -> tuple[Any, int]:
    """The ``LogIndex`` and its row behind ``row`` (of merged logs, or of that index)."""
    locate = getattr(index, "locate", None)
    if locate is None:
        return index, row
    log, _, own = locate(row)
    return log, own
