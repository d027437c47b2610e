"""One line on what an OTLP sink exported, for summaries and ``session query``.

It reads the sink's statistics as JSON-able data (``SinkStats.to_dict()``), so it
works the same for an embedded session and for one in the hub service.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

__all__ = ["export_text"]


def _when(ns: int) -> str:
    t = dt.datetime.fromtimestamp(ns / 1e9, dt.UTC)
    return t.strftime("%Y-%m-%d %H:%M:%S") + "Z"


def _reasons(reasons: dict[str, int]) -> str:
    return ", ".join(f"{n} {r.replace('_', ' ')}" for r, n in sorted(reasons.items()))


def export_text(sink: dict[str, Any]) -> tuple[str, int]:
    """``(text, dropped)``: spans and logs exported, dropped with reasons, pending, and
    the exported time range; ``text`` is empty for a sink that is not OTLP."""
    if "spans_handed" not in sink:
        return "", 0
    reasons = sink.get("drop_reasons") or {}
    text = (f"{sink.get('spans_exported', 0)} spans and {sink.get('logs_exported', 0)} "
            "logs exported")
    dropped = sink.get("spans_dropped", 0) + sink.get("logs_dropped", 0)
    if dropped:
        why = "; ".join(f"{kind}: {_reasons(reasons[kind])}" for kind in ("spans", "logs")
                        if reasons.get(kind))
        text += f", LOST {dropped} at export ({why})"
    pending = sink.get("spans_pending", 0) + sink.get("logs_pending", 0)
    if pending:
        text += f", {pending} pending"
    span = sink.get("time_range_ns")
    if span:
        text += f", times {_when(span[0])} .. {_when(span[1])}"
    if sink.get("otel_late_events"):
        text += f", {sink['otel_late_events']} late events"
    return text, dropped
