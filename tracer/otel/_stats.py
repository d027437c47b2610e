"""Exact counters of the OpenTelemetry backend, shown in the session statistics.

Each counter has one writer thread (the session's flush thread, the mapping
thread or the sender thread), so plain integer increments stay exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

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
    late_events: int = 0
    open_spans: int = 0
    time_first_ns: int = 0
    time_last_ns: int = 0
    #: signal ("spans", "logs") -> drop reason -> items (the sender's lock guards it)
    drop_reasons: dict[str, dict[str, int]] = field(
        default_factory=lambda: {"spans": {}, "logs": {}})

    def as_dict(self) -> dict[str, Any]:
        """The counters under ``otel_`` names, for :attr:`SessionStats.otel`."""
        return {f"otel_{f.name}": getattr(self, f.name) for f in fields(self)
                if f.name != "drop_reasons"}

    def dropped(self, signal: str, count: int, reason: str) -> None:
        """Count ``count`` items of ``signal`` ("traces" or "logs") dropped for ``reason``."""
        if signal == "traces":
            self.spans_dropped += count
            reasons = self.drop_reasons["spans"]
        else:
            self.logs_dropped += count
            reasons = self.drop_reasons["logs"]
        reasons[reason] = reasons.get(reason, 0) + count

    def account(self) -> dict[str, Any]:
        """The exact account across the hop: for spans and for logs, ``handed ==
        exported + dropped + pending`` (pending is 0 once the backend is closed), and
        the reason of every drop."""
        out: dict[str, Any] = {}
        for kind, made, ok, lost in (("spans", self.spans, self.spans_exported,
                                      self.spans_dropped),
                                     ("logs", self.logs, self.logs_exported, self.logs_dropped)):
            out[f"{kind}_handed"] = made
            out[f"{kind}_exported"] = ok
            out[f"{kind}_dropped"] = lost
            out[f"{kind}_pending"] = max(0, made - ok - lost)
        out["drop_reasons"] = {k: dict(v) for k, v in self.drop_reasons.items()}
        if self.time_first_ns:
            out["time_range_ns"] = [self.time_first_ns, self.time_last_ns]
        return out
