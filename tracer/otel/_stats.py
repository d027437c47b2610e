"""Exact counters of the OpenTelemetry backend, shown in the session statistics.

Each counter has one writer thread (the session's flush thread, the mapping
thread or the sender thread), so plain integer increments stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

__all__ = ["OtlpStats"]


@dataclass
class OtlpStats:
    """Events in, spans and logs out, and what was lost on the way.

    Invariants once the backend is closed: ``events_received == events_mapped +
    events_dropped``; ``spans == spans_exported + spans_dropped`` and ``logs ==
    logs_exported + logs_dropped``.
    """

    events_received: int = 0
    events_dropped: int = 0
    events_mapped: int = 0
    mapping_errors: int = 0
    spans: int = 0
    spans_exported: int = 0
    spans_dropped: int = 0
    span_events: int = 0
    span_events_dropped: int = 0
    logs: int = 0
    logs_exported: int = 0
    logs_dropped: int = 0
    flows_open: int = 0
    flows_idle_closed: int = 0
    flows_evicted: int = 0
    transactions_unanswered: int = 0
    export_requests: int = 0
    export_failures: int = 0
    export_retries: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters under ``otel_`` names, for :attr:`SessionStats.otel`."""
        return {f"otel_{f.name}": getattr(self, f.name) for f in fields(self)}
