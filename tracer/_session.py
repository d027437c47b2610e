"""A logging session: bounded buffers, a flush thread, and the sinks it fans out to."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from ._buffers import SessionBuffer
from ._config import SessionConfig
from ._event import Event, iso_time
from ._logfile import LogFile
from ._logformat import LOG_FORMAT, LOG_VERSION, header_line
from ._realtime import Subscription
from ._render import Processor, Renderer
from ._sink import Needs, Sink, SinkBatch, SinkContext, SinkStats, SinkStatsCounter, load_sink
from ._stats import SessionStats

__all__ = ["LOG_FORMAT", "LOG_VERSION", "Backend", "Session"]

_MIN_CHUNK = 4096


class Backend(Protocol):
    """An extra consumer of a session's decoded events (the older, events-only seam).

    A backend is wrapped as a sink that needs events; prefer writing a :class:`Sink`.
    """

    def handle(self, events: Sequence[Event]) -> None:
        """Take a batch of events, on the session's flush thread; must not block long."""

    def close(self) -> None:
        """Flush and release everything; called once when the session stops."""

    def stats(self) -> dict[str, int]:
        """Counters to show in the session statistics."""


class _BackendSink:
    """A :class:`Backend` behind the sink seam (it counts its own losses in ``stats``)."""

    needs = Needs.EVENTS

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.name = type(backend).__name__
        self.counter = SinkStatsCounter(self.name, "backend")

    def write(self, batch: SinkBatch) -> None:
        events = batch.events_and_lost()
        self.counter.hand(batch.count)
        self.backend.handle(events)
        self.counter.settle(batch.count)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.backend.close()

    def stats(self) -> SinkStats:
        return self.counter.snapshot(**self.backend.stats())


class Session:
    """One running session. Create it through a hub, which enables its providers."""

    def __init__(self, config: SessionConfig, manifests: Callable[[], list[dict[str, Any]]],
                 processors: Sequence[Processor] = (), backends: Sequence[Backend] = (), *,
                 file_opener: Callable[[str, int], int] | None = None) -> None:
        config.validate()
        self.config = config
        self.name = config.name
        self.state = "starting"
        self.started_ns = time.time_ns()
        self.stopped_ns: int | None = None
        self.buffer = SessionBuffer(config.buffer_size, config.buffer_count,
                                    blocking=config.blocking)
        self.renderer = Renderer(config.name, processors)
        self.last_error: str | None = None
        self.ended: str | None = None
        self._on_end: list[Callable[[str], None]] = []
        self._manifests = manifests
        self._header_line: bytes | None = None
        self._flush_lock = threading.Lock()
        self._seq = 1
        self._taken = 0
        self._buffers_written = 0
        self._inflight = 0
        self._pending_lines: list[bytes] = []
        self._provider_state: dict[str, dict[str, Any]] = {}
        context = SinkContext(config.name, self._header, self.renderer, config.blocking,
                              file_opener, self._sink_ended)
        self.sinks: list[Sink] = []
        try:
            for spec in config.sink_specs():
                self.sinks.append(load_sink(spec, context))
        except BaseException:
            self._close_sinks()
            raise
        self.sinks.extend(_BackendSink(b) for b in backends)
        self._needs = Needs.NOTHING
        for sink in self.sinks:
            self._needs |= sink.needs
        self.state = "running"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"wfptrace-flush-{self.name}",
                                        daemon=True)
        self.buffer.consumer = self._thread
        self._thread.start()

    # -- sinks seen from outside -----------------------------------------------------------
    def _sink_with(self, attr: str) -> Any:
        return next((s for s in self.sinks if hasattr(s, attr)), None)

    @property
    def log(self) -> LogFile | None:
        """The log file of the session's first file sink, if any."""
        sink = self._sink_with("log")
        return sink.log if sink is not None else None

    @property
    def _worker(self) -> Any:
        sink = self._sink_with("render_worker_pid")
        return getattr(sink, "_worker", None)

    @property
    def render_worker_pid(self) -> int | None:
        """The pid of the child that renders the log file (``render_worker``), if any."""
        sink = self._sink_with("render_worker_pid")
        return sink.render_worker_pid if sink is not None else None

    def on_end(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(reason)`` when a sink ends the run (e.g. its output pipe closed)."""
        self._on_end.append(callback)
        if self.ended is not None:
            callback(self.ended)

    def _sink_ended(self, reason: str) -> None:
        if self.ended is None:
            self.ended = reason
            for callback in list(self._on_end):
                callback(reason)

    # -- header and in-band records -----------------------------------------------------
    def _header(self) -> bytes:
        if self._header_line is None:
            c = self.config
            self._header_line = header_line(
                self.name, self.started_ns, self._manifests(), **c.header,
                mode=str(getattr(c.mode, "value", c.mode)), max_size=c.max_size,
                buffer_size=c.buffer_size, buffer_count=c.buffer_count)
        return self._header_line

    def add_manifest(self, manifest: dict[str, Any]) -> None:
        """Record in band the manifest of a provider that registered after the start."""
        line = orjson.dumps({"type": "manifest", "time": iso_time(time.time_ns()),
                             "provider": manifest})
        with self._flush_lock:
            self._pending_lines.append(line)

    def provider_state(self, name: str) -> dict[str, Any]:
        """A provider's status in this session (empty if never set)."""
        return dict(self._provider_state.get(name, {}))

    def set_provider_state(self, name: str, **state: Any) -> None:
        """Remember a provider's status in this session (shown in the statistics)."""
        self._provider_state.setdefault(name, {}).update(state)

    # -- flushing -----------------------------------------------------------------------
    def _run(self) -> None:
        interval = self.config.flush_interval
        wake = self.buffer.wake
        while not self._stop.is_set():
            wake.wait(interval)
            wake.clear()
            self._flush_once()

    def _flush_once(self) -> None:
        """Drain the buffers in chunks (cache-friendly, steady writes), then report losses."""
        with self._flush_lock:
            chunk = max(self.config.buffer_size, _MIN_CHUNK)
            while True:
                records = self.buffer.take(chunk)
                self._inflight = len(records)
                last = len(records) < chunk
                losses = self.buffer.take_losses() if last else None
                if records or losses is not None or self._pending_lines:
                    try:
                        self._deliver(records, losses)
                    except Exception as exc:  # the flush thread must survive anything
                        self.last_error = f"flush failed: {type(exc).__name__}: {exc}"
                self._taken += len(records)
                self._inflight = 0
                if last:
                    return

    def _deliver(self, records: list[tuple], losses: Any) -> None:
        batch = self._batch(records)
        self._seq += len(records)
        if losses is not None:
            line, event = self.renderer.lost(self._seq, losses.count, losses.first_ns,
                                             losses.last_ns, os.getpid(), losses.reasons)
            self._seq += 1
            batch.lost_line, batch.lost_event = line + b"\n", event
        if records:
            size = self.buffer.buffer_size
            self._buffers_written += -(-len(records) // size)
        for sink in self.sinks:
            try:
                sink.write(batch)
            except Exception as exc:  # a sink must never take the session down
                self.last_error = f"sink {sink.name}: {type(exc).__name__}: {exc}"

    def _batch(self, records: list[tuple]) -> SinkBatch:
        """The batch with what the sinks need: lines, and only the events worth building."""
        first, n = self._seq, len(records)
        lines, prefix = self._pending_lines, b""
        if lines:
            self._pending_lines = []
            prefix = b"".join(line + b"\n" for line in lines)
        batch = SinkBatch(records, first, prefix=prefix, n_prefix=len(lines))
        want_lines = Needs.LINES in self._needs
        room = self._event_room(n) if Needs.EVENTS in self._needs else 0
        if want_lines or room == n > 0:
            batch.lines, batch.events = self.renderer.render(records, first, want_lines,
                                                             room == n > 0)
        if 0 < room < n:
            batch.events = self.renderer.render(records[:room], first, False, True)[1]
        return batch

    def _event_room(self, n: int) -> int:
        """Events worth building: all, unless every event sink takes only some (subscribers)."""
        room = 0
        for sink in self.sinks:
            if Needs.EVENTS in sink.needs:
                limit = getattr(sink, "event_room", None)
                room = max(room, limit(n) if limit is not None else n)
                if room == n:
                    break
        return room

    def flush(self) -> None:
        """Write everything buffered now and make it durable in every sink."""
        self._flush_once()
        with self._flush_lock:
            for sink in self.sinks:
                try:
                    sink.flush()
                except Exception as exc:
                    self.last_error = f"sink {sink.name}: {type(exc).__name__}: {exc}"

    # -- consumers ----------------------------------------------------------------------
    def subscribe(self, maxsize: int = 100_000) -> Subscription:
        """A real-time subscription (the session must have real-time delivery on)."""
        sink = self._sink_with("subscribe")
        if sink is None:
            sub = Subscription(self.name, maxsize)
            sub._finish()
            return sub
        sub = sink.subscribe(maxsize)
        if self.state != "running":
            sub._finish()
        return sub

    # -- lifecycle ----------------------------------------------------------------------
    def stop(self) -> SessionStats:
        """Flush and close; the caller has already disabled the providers."""
        if self.state == "stopped":
            return self.stats()
        self.buffer.close()
        self._stop.set()
        self.buffer.wake.set()
        self._thread.join()
        self._flush_once()
        self.state = "stopped"
        self.stopped_ns = time.time_ns()
        self._close_sinks()
        return self.stats()

    def _close_sinks(self) -> None:
        for sink in self.sinks:
            try:
                sink.close()
            except Exception as exc:
                self.last_error = f"sink {sink.name}: {type(exc).__name__}: {exc}"

    def sink_stats(self) -> list[SinkStats]:
        """Every sink's exact counters now."""
        return [sink.stats() for sink in self.sinks]

    def stats(self) -> SessionStats:
        """Exact statistics now.

        ``events_written``/``events_lost`` follow the first durable sink (a file, else
        standard output, else the first sink): dropped in the buffers plus what that
        sink lost. Every sink's own account is in ``sinks``.
        """
        sinks = self.sink_stats()
        b = self.buffer.stats()
        inflight = self._inflight
        primary = _primary(sinks)
        taken = self._taken
        sink_lost = primary.lost if primary is not None else 0
        sink_pending = primary.pending if primary is not None else 0
        written = max(0, taken - sink_lost - sink_pending)
        lost = b.dropped + sink_lost
        realtime = next((s for s in sinks if s.kind == "realtime"), None)
        file = next((s for s in sinks if s.kind == "file"), None)
        otel: dict[str, int] | None = None
        for s in sinks:
            if s.kind in ("otlp", "backend"):
                otel = {**(otel or {}), **{k: v for k, v in s.extra.items()
                                           if isinstance(v, int)}}
        errors = [s.extra.get("error") for s in sinks if s.extra.get("error")]
        return SessionStats(
            name=self.name, state=self.state,
            events_emitted=written + lost + b.pending + inflight + sink_pending,
            events_written=written, events_lost=lost,
            events_pending=b.pending + inflight + sink_pending,
            buffers_written=self._buffers_written, buffer_size=self.config.buffer_size,
            buffer_count=self.config.buffer_count, peak_buffers=b.peak_buffers,
            peak_events=b.peak_events,
            realtime_lost=realtime.lost if realtime is not None else 0,
            subscribers=int(realtime.extra.get("subscribers", 0)) if realtime else 0,
            bytes_written=int(file.extra.get("bytes_written", 0)) if file else 0,
            log_file=str(file.extra.get("path")) if file else None,
            last_error=(errors[0] if errors else None) or self.last_error,
            started_ns=self.started_ns, stopped_ns=self.stopped_ns,
            providers={k: dict(v) for k, v in self._provider_state.items()}, otel=otel,
            sinks=[s.to_dict() for s in sinks], events_dropped=b.dropped,
            blocking=self.config.blocking, blocked_ns=b.blocked_ns)


def _primary(sinks: list[SinkStats]) -> SinkStats | None:
    """The sink the session's own written/lost counts follow."""
    for kind in ("file", "stdout"):
        for s in sinks:
            if s.kind == kind:
                return s
    return None
