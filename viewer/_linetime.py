"""The time of a raw log line, read without decoding its JSON (merging and the rates strip)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

__all__ = ["LineTimes", "row_times"]

_TIME = re.compile(rb'"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d):(\d\d)(?:\.(\d{1,9}))?Z?"')


class LineTimes:
    """Nanosecond times from a line's ISO ``time`` (minutes cached: one dict lookup a row)."""

    def __init__(self) -> None:
        self._minutes: dict[bytes, int] = {}

    def parse(self, line: bytes, last: int = 0, pos: int = 0) -> int:
        """The time of the line at ``pos``; ``last`` (e.g. the previous row's) for a line
        without one."""
        m = _TIME.search(line, pos, pos + 200)
        if m is None:
            return last
        minute, sec, frac = m.groups()
        base = self._minutes.get(minute)
        if base is None:
            try:
                dt = datetime.strptime(minute.decode(), "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)
            except ValueError:
                return last
            if len(self._minutes) > 4096:
                self._minutes.clear()
            base = self._minutes[minute] = int(dt.timestamp()) * 1_000_000_000
        ns = int(frac.ljust(9, b"0")) if frac else 0
        return base + int(sec) * 1_000_000_000 + ns


def row_times(index: Any, first: int, stop: int, parse: LineTimes,
              last: int = 0) -> Iterator[int]:
    """The times of rows ``first..stop`` of a ``LogIndex``, read with ``pread`` in chunks
    (not through the map: pages read for this do not stay in the process's memory)."""
    if not index.ordered:  # a circular log's rows are out of file order: one by one
        for row in range(first, stop):
            last = parse.parse(index.line(row), last)
            yield last
        return
    for row0, p0, buf in index.chunks(first, stop):
        end = min(stop, index.row_at(p0 + len(buf) - 1, row0, stop) + 1)
        for row in range(row0, end):
            last = parse.parse(buf, last, index.packed(row) - p0)
            yield last
