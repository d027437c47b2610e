"""The time of a raw log line, read without decoding its JSON (merging and the rates strip)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

__all__ = ["LineTimes"]

_TIME = re.compile(rb'"time":"(\d{4}-\d\d-\d\dT\d\d:\d\d):(\d\d)(?:\.(\d{1,9}))?Z?"')


class LineTimes:
    """Nanosecond times from a line's ISO ``time`` (minutes cached: one dict lookup a row)."""

    def __init__(self) -> None:
        self._minutes: dict[bytes, int] = {}

    def parse(self, line: bytes, last: int = 0) -> int:
        """The line's time; ``last`` (e.g. the previous row's) for a line without one."""
        m = _TIME.search(line, 0, 200)
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
