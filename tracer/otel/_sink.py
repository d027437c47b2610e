"""OpenTelemetry export behind the sink seam (``--otlp``, ``SinkSpec("otlp")``).

Options come as an :class:`OtlpOptions` (``options``) or as its JSON-able fields
(``endpoint``, ``protocol``, ``headers``, ...), which is how they cross the hub's
wire. The sink's account is in events: handed == written (mapped into spans and
logs) + lost + pending; the span-level counters (``otel_*``) ride along.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from .._errors import ConfigError
from .._sink import Needs, SinkBatch, SinkContext, SinkSpec, SinkStats, SinkStatsCounter
from ._account import export_text
from ._backend import OtlpBackend
from ._options import OtlpOptions

__all__ = ["OtlpSink", "options_from_spec", "options_to_wire"]

_WIRE_FIELDS = {f.name for f in dataclasses.fields(OtlpOptions)} - {"mapping"}


def options_from_spec(spec: SinkSpec) -> OtlpOptions:
    """The OTLP options a sink spec carries (an object, or plain fields)."""
    opts = spec.options.get("options")
    if isinstance(opts, OtlpOptions):
        return opts
    fields = {k: v for k, v in spec.options.items() if k != "options"}
    unknown = set(fields) - _WIRE_FIELDS
    if unknown:
        raise ConfigError(f"unknown OTLP option(s): {', '.join(sorted(unknown))}")
    if spec.target:
        fields.setdefault("endpoint", spec.target)
    try:
        return OtlpOptions(**fields)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad OTLP options: {exc}") from None


def options_to_wire(options: OtlpOptions) -> dict[str, Any]:
    """The options as JSON-able fields (those that differ from the defaults)."""
    default = OtlpOptions()
    if options.mapping is not default.mapping:
        raise ConfigError("a custom OTLP mapping cannot cross the hub's wire: "
                          "use an embedded session")
    return {f: getattr(options, f) for f in sorted(_WIRE_FIELDS)
            if getattr(options, f) != getattr(default, f)}


class OtlpSink:
    """Hands events to an :class:`OtlpBackend`; in a blocking session it waits for room
    in the backend's inbox instead of dropping."""

    needs = Needs.EVENTS

    def __init__(self, spec: SinkSpec, context: SinkContext) -> None:
        self.name = "otlp"
        self.blocking = context.blocking
        self.backend = OtlpBackend(options_from_spec(spec), session=context.session)
        self.counter = SinkStatsCounter(self.name, "otlp")

    def write(self, batch: SinkBatch) -> None:
        events = batch.events_and_lost()
        n = batch.count
        self.counter.hand(n)
        if not events:
            return
        stats = self.backend.stats_obj
        stats.events_received += len(events)
        inbox = self.backend.inbox
        accepted = inbox.put(events)
        while not accepted and self.blocking and not inbox.closed:
            time.sleep(0.005)  # the mapping thread drains in well under a second
            accepted = inbox.put(events)
        if accepted:
            self.counter.settle(n)
        else:
            stats.events_dropped += len(events)
            self.counter.settle(0, n, "export queue full")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.backend.close()

    def stats(self) -> SinkStats:
        extra: dict[str, object] = dict(self.backend.stats())
        # what became of the events past the hop, for any reader of sink statistics
        extra["downstream"], extra["downstream_lost"] = export_text(extra)
        return self.counter.snapshot(**extra)
