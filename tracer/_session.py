"""A logging session: bounded buffers, a flush thread, a log file and real-time delivery."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson

from ._buffers import SessionBuffer
from ._config import SessionConfig
from ._errors import LogWriteError
from ._event import Event, iso_time
from ._logfile import LogFile
from ._realtime import Subscription
from ._render import Processor, Renderer
from ._renderworker import RenderWorker
from ._stats import SessionStats

__all__ = ["LOG_FORMAT", "LOG_VERSION", "Backend", "Session"]

LOG_FORMAT = "wfptrace-jsonl"
_MIN_CHUNK = 4096
LOG_VERSION = 1


class Backend(Protocol):
    """An extra consumer of a session's decoded events (e.g. OpenTelemetry export)."""

    def handle(self, events: Sequence[Event]) -> None:
        """Take a batch of events, on the session's flush thread; must not block long."""

    def close(self) -> None:
        """Flush and release everything; called once when the session stops."""

    def stats(self) -> dict[str, int]:
        """Counters to show in the session statistics."""


class Session:
    """One running session. Create it through a hub, which enables its providers."""

    def __init__(self, config: SessionConfig, manifests: Callable[[], list[dict[str, Any]]],
                 processors: Sequence[Processor] = (), backends: Sequence[Backend] = ()) -> None:
        config.validate()
        self.config = config
        self.name = config.name
        self.state = "starting"
        self.started_ns = time.time_ns()
        self.stopped_ns: int | None = None
        self.buffer = SessionBuffer(config.buffer_size, config.buffer_count)
        self.renderer = Renderer(config.name, processors)
        self.backends = list(backends)
        self.last_error: str | None = None
        self._manifests = manifests
        self._subs: list[Subscription] = []
        self._subs_lock = threading.Lock()
        self._flush_lock = threading.Lock()
        self._seq = 1
        self._written = 0
        self._file_lost = 0
        self._buffers_written = 0
        self._realtime_lost = 0
        self._inflight = 0
        self._pending_lines: list[bytes] = []
        self._count_lock = threading.Lock()  # the render worker's acks update the counts
        self._provider_state: dict[str, dict[str, Any]] = {}
        self.log: LogFile | None = None
        if config.file is not None:
            self.log = LogFile(config.file, config.mode, config.max_size, self._header())
        self._worker: RenderWorker | None = None
        if config.render_worker and self.log is not None and self.renderer.fast:
            try:
                self._worker = RenderWorker(self.log, self.renderer, self._count_file)
            except OSError as exc:  # no fork: the session still runs, rendering here
                self.last_error = f"render worker not started ({exc}): rendering in process"
        self.state = "running"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"wfptrace-flush-{self.name}",
                                        daemon=True)
        self._thread.start()

    @property
    def render_worker_pid(self) -> int | None:
        """The pid of the child that renders the log file (``render_worker``), if any."""
        return self._worker.pid if self._worker is not None else None

    # -- header and in-band records -----------------------------------------------------
    def _header(self) -> bytes:
        c = self.config
        return orjson.dumps({
            "type": "header", "format": LOG_FORMAT, "version": LOG_VERSION,
            "session": self.name, "start_time": iso_time(self.started_ns),
            "start_ns": self.started_ns, "host": socket.gethostname(), "pid": os.getpid(),
            "mode": str(getattr(c.mode, "value", c.mode)), "max_size": c.max_size,
            "buffer_size": c.buffer_size, "buffer_count": c.buffer_count,
            "providers": self._manifests()})

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
                        with self._count_lock:
                            self._file_lost += len(records)
                self._inflight = 0
                if last:
                    return

    def _deliver(self, records: list[tuple], losses: Any) -> None:
        want_lines = self.log is not None and self._worker is None
        first = self._seq
        blob, events = self._render(records, first, want_lines)
        skipped = len(records) - len(events)  # events no subscriber had room for
        self._seq += len(records)
        lost_line = b""
        if losses is not None:
            line, event = self.renderer.lost(self._seq, losses.count, losses.first_ns,
                                             losses.last_ns, os.getpid())
            self._seq += 1
            lost_line = line + b"\n"
            events.append(event)
        if records:
            size = self.buffer.buffer_size
            self._buffers_written += -(-len(records) // size)
        if self._worker is not None:
            prefix, extra = self._take_pending_lines()
            self._worker.submit(records, first, prefix, lost_line, extra)
        elif want_lines:
            blob += lost_line
            self._write_lines(blob, len(records), len(records) + bool(lost_line))
        else:
            with self._count_lock:
                self._written += len(records)
        if self.config.realtime:
            self._publish(events, len(records), skipped)
        for backend in self.backends:
            try:
                backend.handle(events)
            except Exception as exc:  # a backend must never take the session down
                self.last_error = f"backend {type(backend).__name__}: {exc}"

    def _write_lines(self, blob: bytearray, n_events: int, n_lines: int) -> None:
        """Write ``n_lines`` rendered lines (in-band manifests first); count what the
        file refused."""
        assert self.log is not None
        prefix, extra = self._take_pending_lines()
        if extra:
            blob[:0] = prefix
        try:
            kept = self.log.write_blob(blob, n_lines + extra)
        except LogWriteError as exc:
            self.last_error = str(exc)
            kept = 0
        self._count_file(n_events, kept, extra)

    def _take_pending_lines(self) -> tuple[bytes, int]:
        """The in-band lines waiting to precede the next batch, joined, and their count."""
        lines, self._pending_lines = self._pending_lines, []
        return b"".join(line + b"\n" for line in lines), len(lines)

    def _count_file(self, n_events: int, kept: int, extra: int) -> None:
        """Account a batch of ``n_events`` of which the file kept ``kept`` lines.

        ``kept`` counts the ``extra`` in-band lines written before the events too.
        """
        lost = n_events - min(n_events, max(0, kept - extra))
        with self._count_lock:
            self._file_lost += lost
            self._written += n_events - lost

    def _render(self, records: list[tuple], first: int,
                want_lines: bool) -> tuple[bytearray, list[Event]]:
        """The lines (if wanted) and the Events someone can take.

        Backends take every event; subscribers only what fits their queues, so no
        more Events are built than the roomiest one has room for (the rest would
        only be dropped: they are counted lost without being built).
        """
        n = len(records)
        if self.backends:
            room = n
        else:
            with self._subs_lock:
                room = min(n, max((sub.room() for sub in self._subs), default=0))
        blob, events = (self.renderer.render(records, first, want_lines, room == n > 0)
                        if want_lines or room == n > 0 else (bytearray(), []))
        if 0 < room < n:
            events = self.renderer.render(records[:room], first, False, True)[1]
        return blob, events

    def _publish(self, events: list[Event], n_events: int, skipped: int = 0) -> None:
        with self._subs_lock:
            subs = list(self._subs)
        if not subs:
            self._realtime_lost += n_events
            return
        for sub in subs:
            self._realtime_lost += sub._push(events, self._lost_marker, skipped)

    def _lost_marker(self, count: int) -> Event:
        now = time.time_ns()
        return self.renderer.lost(0, count, now, now, os.getpid())[1]

    def flush(self) -> None:
        """Write everything buffered now and sync the file."""
        self._flush_once()
        if self._worker is not None:
            self._worker.flush()
        elif self.log is not None:
            with self._flush_lock:
                self.log.flush()

    # -- consumers ----------------------------------------------------------------------
    def subscribe(self, maxsize: int = 100_000) -> Subscription:
        """A real-time subscription (the session must have real-time delivery on)."""
        sub = Subscription(self.name, maxsize, on_close=self._unsubscribe)
        if self.state != "running":
            sub._finish()
            return sub
        with self._subs_lock:
            self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._subs_lock:
            if sub in self._subs:
                self._subs.remove(sub)

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
        for backend in self.backends:
            try:
                backend.close()
            except Exception as exc:
                self.last_error = f"backend {type(backend).__name__}: {exc}"
        if self._worker is not None:
            self._worker.close()
        elif self.log is not None:
            self.log.flush()
        if self.log is not None:
            self.log.close()
        with self._subs_lock:
            subs, self._subs = self._subs, []
        for sub in subs:
            sub._finish()
        return self.stats()

    def stats(self) -> SessionStats:
        """Exact statistics now."""
        worker = self._worker
        with self._count_lock:
            inflight = self._inflight + (worker.pending if worker else 0)
            written, file_lost = self._written, self._file_lost
        b = self.buffer.stats()
        lost = b.dropped + file_lost
        bytes_written = 0
        if worker is not None:
            bytes_written = worker.bytes_written
        elif self.log is not None:
            bytes_written = self.log.bytes_written
        otel: dict[str, int] | None = None
        for backend in self.backends:
            otel = {**(otel or {}), **backend.stats()}
        return SessionStats(
            name=self.name, state=self.state, events_emitted=written + lost + b.pending + inflight,
            events_written=written, events_lost=lost, events_pending=b.pending + inflight,
            buffers_written=self._buffers_written, buffer_size=self.config.buffer_size,
            buffer_count=self.config.buffer_count, peak_buffers=b.peak_buffers,
            peak_events=b.peak_events, realtime_lost=self._realtime_lost,
            subscribers=len(self._subs),
            bytes_written=bytes_written, log_file=str(self.log.path) if self.log else None,
            last_error=(worker.error if worker else None) or self.last_error,
            started_ns=self.started_ns, stopped_ns=self.stopped_ns,
            providers={k: dict(v) for k, v in self._provider_state.items()}, otel=otel)
