"""Session statistics: exact counters, queryable at any time."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["SessionStats"]


@dataclass(frozen=True)
class SessionStats:
    """ETW-style session statistics.

    Invariant: ``events_emitted == events_written + events_lost + events_pending``.
    ``events_lost`` counts events dropped because the buffers were full plus events
    that could not be written to the log file (full disk, max size). ``realtime_lost``
    counts events a real-time subscriber could not take (its own queue was full, or
    no subscriber was attached).
    """

    name: str
    state: str
    events_emitted: int
    events_written: int
    events_lost: int
    events_pending: int
    buffers_written: int
    buffer_size: int
    buffer_count: int
    peak_buffers: int
    peak_events: int
    realtime_lost: int
    subscribers: int
    bytes_written: int
    log_file: str | None
    last_error: str | None
    started_ns: int
    stopped_ns: int | None
    providers: dict[str, dict[str, Any]]
    otel: dict[str, int] | None = None
    #: Every sink's own account: ``handed == written + lost + pending``, with reasons.
    sinks: list[dict[str, Any]] = field(default_factory=list)
    #: Events dropped because the buffers were full (live sources only).
    events_dropped: int = 0
    #: The session blocks its producers when full instead of dropping (file sources).
    blocking: bool = False
    #: Time producers spent waiting for room (blocking sessions), in ns.
    blocked_ns: int = 0

    @property
    def lost_anywhere(self) -> int:
        """Events lost in the buffers or by any sink: non-zero means the run is incomplete."""
        return self.events_dropped + sum(int(s.get("lost", 0)) for s in self.sinks)

    def to_dict(self) -> dict[str, Any]:
        """The statistics as JSON-able data."""
        return asdict(self)
