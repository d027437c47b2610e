"""Several logs shown as one, merged by time, none of them loaded whole.

Each log is indexed lazily (:class:`LogIndex`). A thread reads the time of each
indexed row (a regular expression over the raw line, no JSON decoding) a bounded
batch ahead of the merge, and merges the logs k-way by time into one array of
packed (log, row) numbers, 8 bytes a row. A row is merged only once no log can
still deliver an earlier one: every log's rows are in time order, so the merge
may emit up to the smallest "last time read" among the logs still being indexed
(or, when followed, among those that gave rows in the last half second).
The merged view has :class:`LogIndex`'s read interface (the events view, filter,
detail pane, search and export work on it unchanged) plus :meth:`source`, the log
a row comes from.
"""

from __future__ import annotations

import heapq
import os
import re
import threading
import time
from array import array
from bisect import bisect_right
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from tracer import Event, Manifest

from ._linetime import LineTimes, row_times
from ._logindex import EventRows, LogIndex
from ._ring import Schema

__all__ = ["MergedIndex", "log_labels"]

_SHIFT = 48  # packed merged row: log number << 48 | row in that log
_MASK = (1 << _SHIFT) - 1
_AHEAD = 65_536  # rows whose times are read ahead of the merge, per log
#: A followed log that gave rows this recently (s) may still give earlier ones (its
#: session flushes on its own timer): the others' rows wait for it that long, no longer.
_GRACE = 0.5
_FIRST = 1_024  # rows read ahead before anything is merged (the first screen)
_PROVIDER = re.compile(rb'"provider":"((?:[^"\\]|\\.)*)"')


def log_labels(paths: Sequence[Path]) -> list[str]:
    """Short, distinct names for the logs: file names, with their folder when they clash."""
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    return [f"{p.parent.name}/{p.name}" if names.count(p.name) > 1 else p.name for p in paths]


class _MergedReader:
    """Decodes a line of any of the logs (by its provider's manifest); the union of them."""

    def __init__(self, logs: list[LogIndex]) -> None:
        self.logs = logs

    @property
    def manifests(self) -> dict[str, Manifest]:
        out: dict[str, Manifest] = {}
        for log in reversed(self.logs):
            out.update(log.reader.manifests)
        return out

    @property
    def header(self) -> dict[str, Any]:
        """The header that says most of secrets: one of a log holding them in clear, else
        one that says how they were redacted, else the first log's."""
        headers = [log.reader.header for log in self.logs]
        for wanted in (lambda h: bool(h.get("capture_secrets")),
                       lambda h: "redaction" in h or "capture_secrets" in h):
            for h in headers:
                if wanted(h):
                    return h
        return headers[0] if headers else {}

    def decode(self, line: bytes) -> Event | None:
        m = _PROVIDER.search(line)
        name = m.group(1).decode(errors="replace") if m else ""
        for log in self.logs:
            if name in log.reader.manifests:
                return log.reader.decode(line)
        return self.logs[0].reader.decode(line)


class MergedIndex(EventRows):
    """The rows of several logs in time order (``LogIndex``'s read interface)."""

    ordered = False  # rows are not in one file's order (the filter reads them row by row)

    def __init__(self, paths: Sequence[str | os.PathLike[str]], follow: bool = True,
                 poll_interval: float = 0.1) -> None:
        self.paths = [Path(p) for p in paths]
        self.path = self.paths[0]  # where the open-log dialog starts
        self.labels = log_labels(self.paths)
        self.follow = follow
        self.poll_interval = poll_interval
        self.logs: list[LogIndex] = []
        try:
            for p in self.paths:
                self.logs.append(LogIndex(p, follow=follow))
        except BaseException:
            self.close()
            raise
        self.reader = _MergedReader(self.logs)
        self.capacity = 1 << 62
        self.start = 0
        self.dropped = 0
        self.schemas: list[Schema] = []
        self._schema_ids: dict[tuple[str, str, str, str], int] = {}
        self._order = array("Q")
        self._lock = threading.Lock()
        k = len(self.logs)
        self._read = [0] * k  # next row of each log whose time is not read yet
        self._merged = [0] * k  # next row of each log not merged yet
        self._pending: list[array[int]] = [array("q") for _ in range(k)]  # times, unmerged
        self._last = [0] * k  # the last time read of each log
        self._seen_at = [0.0] * k  # when each log last gave rows (followed logs)
        self._times = LineTimes()
        self.done = False
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traceview-merge", daemon=True)
        self._thread.start()

    # -- bounds --------------------------------------------------------------------------
    @property
    def total(self) -> int:
        """Rows merged so far."""
        return len(self._order)

    def __len__(self) -> int:
        return self.total

    @property
    def indexed(self) -> int:
        """Rows merged so far (in their final order)."""
        return len(self._order)

    def holds(self, index: int) -> bool:
        """True if ``index`` is a merged row."""
        return 0 <= index < len(self._order)

    @property
    def progress(self) -> float:
        """The share of the logs' rows merged (times the share of their bytes indexed)."""
        if self.done:
            return 1.0
        rows = sum(log.total for log in self.logs)
        indexed = sum(log.progress for log in self.logs) / max(1, len(self.logs))
        return min(1.0, len(self._order) / max(1, rows)) * indexed

    @property
    def bad_lines(self) -> int:
        """Unreadable lines met in any of the logs."""
        return sum(log.bad_lines for log in self.logs)

    @property
    def providers(self) -> dict[str, int]:
        """Providers of every log (rows counted by the logs' own indexes)."""
        out: dict[str, int] = {}
        for log in self.logs:
            for name, n in log.providers.items():
                out[name] = out.get(name, 0) + n
        return out

    @property
    def manifests(self) -> dict[str, Manifest]:
        """The manifests of every log's providers."""
        return self.reader.manifests

    # -- merging -------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                read = self._read_ahead()
                merged = self._merge_step()
                if all(log.done for log in self.logs) and not read and \
                        all(not p for p in self._pending):
                    self.done = True
                    if not self.follow:
                        return
                if not read and not merged:
                    self._stop.wait(self.poll_interval)
        except OSError as exc:
            self.error = f"cannot read a log: {exc.strerror or exc}"
            self.done = True

    def _read_ahead(self) -> int:
        """Read the times of rows indexed since the last call (bounded); how many."""
        n = 0
        for k, log in enumerate(self.logs):
            first = self._read[k]
            ahead = _AHEAD if self._order else _FIRST  # the first screen soon, then batches
            stop = min(log.indexed, first + ahead - len(self._pending[k]))
            if stop <= first:
                continue
            times = self._pending[k]
            times.extend(row_times(log, first, stop, self._times, self._last[k]))
            self._seen_at[k] = time.monotonic()
            if len(times):
                self._last[k] = times[-1]
            self._read[k] = stop
            n += stop - first
        return n

    def _merge_step(self) -> int:
        """Merge every read row no log can still precede; return how many."""
        limit: float = float("inf")
        now = time.monotonic()
        for k, log in enumerate(self.logs):
            finished = log.done and self._read[k] >= log.indexed and \
                (not self.follow or now - self._seen_at[k] > _GRACE)
            if not finished:
                if not self._pending[k] and self._read[k] == 0:
                    return 0  # nothing known yet of a log still being indexed
                limit = min(limit, self._last[k])
        runs = []
        for k, times in enumerate(self._pending):
            cut = len(times) if limit == float("inf") else _prefix(times, int(limit))
            if cut:
                base = (k << _SHIFT) + self._merged[k]
                runs.append([(times[i], base + i) for i in range(cut)])
                del times[:cut]
                self._merged[k] += cut
        if not runs:
            return 0
        out = array("Q", (packed for _, packed in heapq.merge(*runs)))
        with self._lock:
            self._order.extend(out)
        return len(out)

    def wait_indexed(self, timeout: float = 60.0) -> bool:
        """Wait until every log is indexed and merged (tests); True if it is."""
        deadline = time.monotonic() + timeout
        while not self.done and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.done

    # -- reading rows --------------------------------------------------------------------
    def locate(self, index: int) -> tuple[LogIndex, int, int]:
        """(the log, its number, its row) of merged row ``index``."""
        if not 0 <= index < len(self._order):
            raise IndexError(f"row {index} is not in the merged logs")
        packed = self._order[index]
        k = packed >> _SHIFT
        return self.logs[k], k, packed & _MASK

    def source(self, index: int) -> str:
        """The label of the log merged row ``index`` comes from."""
        return self.labels[self.locate(index)[1]]

    def event(self, index: int) -> Event:
        """Merged row ``index`` decoded."""
        log, _, row = self.locate(index)
        return log.event(row)

    def line(self, index: int) -> bytes:
        """The raw JSON line of merged row ``index``."""
        log, _, row = self.locate(index)
        return log.line(row)

    def rows(self) -> Iterator[tuple[str, int]]:
        """(log label, row in that log) of every merged row so far, in order (tests)."""
        for packed in self._order[:]:
            yield self.labels[packed >> _SHIFT], packed & _MASK

    def close(self) -> None:
        """Stop merging and indexing; release the files."""
        self._stop.set()
        thread = getattr(self, "_thread", None)
        if thread is not None and thread.is_alive():
            thread.join(timeout=2)
        for log in self.logs:
            log.close()


def _prefix(times: array[int], limit: int) -> int:
    """How many leading times are <= ``limit`` (times are in order, or nearly)."""
    return bisect_right(times, limit)
