"""Go to a time: parse what the user typed, and find the first row at or after it.

Accepted: ``12:03:04`` or ``12:03:04.250`` (that time, UTC, on the day of the selected
event), an ISO date-time (``2026-12-02T12:03:04``, UTC unless it says otherwise), or a
time relative to the selected event (``+5s``, ``-1m``, ``+1h30m``, ``-250ms``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

__all__ = ["first_row_at", "parse_target"]

_UNITS = {"ns": 1, "us": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000,
          "h": 3_600_000_000_000, "d": 86_400_000_000_000}
_RELATIVE = re.compile(r"^([+-])((?:\d+(?:\.\d+)?(?:ns|us|ms|s|m|h|d))+)$")
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|ms|s|m|h|d)")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$")


def parse_target(text: str, reference_ns: int) -> int:
    """The time ``text`` names, in ns since the epoch; ValueError with a readable message."""
    text = text.strip()
    m = _RELATIVE.match(text)
    if m:
        sign = -1 if m.group(1) == "-" else 1
        delta = sum(int(float(n) * _UNITS[u]) for n, u in _PART.findall(m.group(2)))
        return reference_ns + sign * delta
    m = _CLOCK.match(text)
    if m:
        hour, minute, second = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
        if hour > 23 or minute > 59 or second > 59:
            raise ValueError(f"no such time of day: {text}")
        day = datetime.fromtimestamp(reference_ns // 1_000_000_000, UTC).replace(
            hour=0, minute=0, second=0, microsecond=0)
        frac = int(((m.group(4) or "") + "000000000")[:9])
        when = day + timedelta(hours=hour, minutes=minute, seconds=second)
        return int(when.timestamp()) * 1_000_000_000 + frac
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use 12:03:04, 2026-12-02T12:03:04, "
                         "+5s or -1m)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def first_row_at(count: int, time_of: Callable[[int], int], target: int) -> int:
    """The first of ``count`` rows (in time order) whose time is >= ``target``, by
    bisection (a few dozen rows read, whatever the size of the log); ``count`` if none."""
    lo, hi = 0, count
    while lo < hi:
        mid = (lo + hi) // 2
        if time_of(mid) < target:
            lo = mid + 1
        else:
            hi = mid
    return lo
