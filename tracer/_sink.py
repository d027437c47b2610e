"""The sink seam: where a session's events go.

A session drains its buffers in batches and hands every batch to each of its sinks:
the JSON-lines file, standard output, real-time subscribers, OpenTelemetry, or a
third-party sink registered in the ``wfptrace.sinks`` entry-point group. The core
names sinks only by kind (``SinkSpec``) and loads their implementation lazily, so it
imports none of them.

Every sink keeps exact statistics: ``handed == written + lost + pending`` at any
time, and ``pending == 0`` once the sink is closed. ``lost`` is broken down by
reason (``lost_reasons``).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Flag, auto
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from ._errors import ConfigError, TracerError

if TYPE_CHECKING:
    from ._event import Event
    from ._render import Renderer

__all__ = [
    "OUTPUT_CLOSED",
    "SINK_ENTRY_POINT_GROUP",
    "Needs",
    "Sink",
    "SinkBatch",
    "SinkClosedError",
    "SinkContext",
    "SinkSpec",
    "SinkStats",
    "SinkStatsCounter",
    "load_sink",
    "parse_sink_spec",
    "sink_kinds",
]

SINK_ENTRY_POINT_GROUP = "wfptrace.sinks"

#: The loss reason of a sink whose reader went away (``| head``): not a failure of the run.
OUTPUT_CLOSED = "output closed"

#: The built-in sinks, used when the package's entry points are not installed.
_BUILTIN: dict[str, str] = {
    "file": "tracer.sinks:FileSink",
    "null": "tracer.sinks:NullSink",
    "stdout": "tracer.sinks:StdoutSink",
    "realtime": "tracer.sinks:RealtimeSink",
    "otlp": "tracer.otel:OtlpSink",
}


class Needs(Flag):
    """What a sink needs of each batch, so the session builds only that."""

    NOTHING = 0
    LINES = auto()    #: the rendered JSON lines
    EVENTS = auto()   #: decoded :class:`Event` objects
    RECORDS = auto()  #: the raw records (a sink that renders elsewhere)


class SinkClosedError(TracerError):
    """Raised by a sink whose destination went away for good (e.g. a closed pipe)."""


@dataclass(frozen=True)
class SinkSpec:
    """A sink by kind, with its target and options (JSON-able for the hub's wire).

    ``file:trace.jsonl`` is ``SinkSpec("file", "trace.jsonl")``; ``stdout`` and
    ``stdout:text`` write JSON lines or tracefmt text to standard output.
    """

    kind: str
    target: str | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.kind if self.target is None else f"{self.kind}:{self.target}"


def parse_sink_spec(text: str) -> SinkSpec:
    """Parse ``KIND[:TARGET]`` as given to ``--sink``."""
    kind, sep, target = text.partition(":")
    kind = kind.strip().lower()
    if not kind:
        raise ConfigError(f"bad sink {text!r}: use KIND[:TARGET], e.g. file:trace.jsonl, stdout")
    if kind not in sink_kinds():
        raise ConfigError(f"unknown sink kind {kind!r} (known: {', '.join(sink_kinds())})")
    if sep and not target:
        raise ConfigError(f"bad sink {text!r}: nothing after ':'")
    return SinkSpec(kind, target if sep else None)


@dataclass
class SinkContext:
    """What a sink may use from its session."""

    session: str
    #: The log header line (no newline), built when first asked.
    header: Callable[[], bytes]
    renderer: Renderer
    #: The session blocks its producers rather than dropping (file-fed sources).
    blocking: bool = False
    #: Opens a file path for writing (the hub service passes a safe one).
    file_opener: Callable[[str, int], int] | None = None
    #: A sink calls this once when it ended for good (e.g. its pipe closed).
    on_end: Callable[[str], None] = lambda reason: None


@dataclass
class SinkBatch:
    """One batch as every sink sees it.

    ``lines`` (one JSON line per event, each ending in a newline) and ``events``
    are filled only when some sink needs them. ``prefix`` holds in-band lines
    (late manifests) to write before the events, ``lost_line``/``lost_event`` the
    in-band record of events dropped before they reached the sinks.
    """

    records: list[tuple]
    first_seq: int
    lines: bytes | bytearray = b""
    events: list[Event] = field(default_factory=list)
    prefix: bytes = b""
    n_prefix: int = 0
    lost_line: bytes = b""
    lost_event: Event | None = None

    @property
    def count(self) -> int:
        """Events in the batch (in-band records not included)."""
        return len(self.records)

    def events_and_lost(self) -> list[Event]:
        """The decoded events, then the in-band loss record if there is one."""
        if self.lost_event is None:
            return list(self.events)
        return [*self.events, self.lost_event]


@dataclass(frozen=True)
class SinkStats:
    """One sink's exact counters: ``handed == written + lost + pending``."""

    name: str
    kind: str
    handed: int
    written: int
    lost: int
    pending: int = 0
    lost_reasons: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The counters as JSON-able data."""
        return {"name": self.name, "kind": self.kind, "handed": self.handed,
                "written": self.written, "lost": self.lost, "pending": self.pending,
                "lost_reasons": dict(self.lost_reasons), **self.extra}


class SinkStatsCounter:
    """Thread-safe counters a sink fills in; ``snapshot`` gives :class:`SinkStats`."""

    def __init__(self, name: str, kind: str) -> None:
        self.name, self.kind = name, kind
        self.handed = self.written = self.pending = 0
        self.reasons: dict[str, int] = {}
        self._lock = threading.Lock()

    @property
    def lost(self) -> int:
        """Events lost, all reasons together."""
        return sum(self.reasons.values())

    def hand(self, n: int, pending: bool = False) -> None:
        """``n`` events were handed to the sink (``pending``: not yet settled)."""
        with self._lock:
            self.handed += n
            if pending:
                self.pending += n

    def settle(self, written: int, lost: int = 0, reason: str = "", pending: bool = False) -> None:
        """Settle events as written or lost (``pending``: they were counted pending)."""
        with self._lock:
            self.written += written
            if lost:
                self.reasons[reason] = self.reasons.get(reason, 0) + lost
            if pending:
                self.pending -= written + lost

    def snapshot(self, **extra: Any) -> SinkStats:
        """The counters now, consistent with each other."""
        with self._lock:
            return SinkStats(self.name, self.kind, self.handed, self.written,
                             sum(self.reasons.values()), self.pending, dict(self.reasons),
                             extra)


@runtime_checkable
class Sink(Protocol):
    """Where a session's batches go. Methods run on the session's flush thread.

    ``write`` must not raise for a lost batch (count it instead); it raises
    :class:`SinkClosedError` only when its destination is gone for good.
    """

    name: str
    needs: Needs

    def write(self, batch: SinkBatch) -> None:
        """Take one batch."""

    def flush(self) -> None:
        """Make what was written durable / visible now."""

    def close(self) -> None:
        """Flush and release everything; called once when the session stops."""

    def stats(self) -> SinkStats:
        """Exact counters now."""


SinkFactory = Callable[[SinkSpec, SinkContext], Sink]


def sink_kinds() -> list[str]:
    """Every sink kind known: the built-in ones and the installed entry points."""
    kinds = set(_BUILTIN)
    kinds.update(ep.name for ep in entry_points(group=SINK_ENTRY_POINT_GROUP))
    return sorted(kinds)


def _factory(kind: str) -> SinkFactory:
    for ep in entry_points(group=SINK_ENTRY_POINT_GROUP):
        if ep.name == kind:
            return ep.load()
    target = _BUILTIN.get(kind)
    if target is None:
        raise ConfigError(f"unknown sink kind {kind!r} (known: {', '.join(sink_kinds())})")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


def load_sink(spec: SinkSpec, context: SinkContext) -> Sink:
    """Build the sink ``spec`` names, through its registered factory."""
    sink = _factory(spec.kind)(spec, context)
    if not isinstance(sink, Sink):
        raise ConfigError(f"sink {spec.kind!r} does not implement the Sink protocol")
    return sink
