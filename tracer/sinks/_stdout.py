"""Standard output as a sink: JSON lines (``stdout``) or tracefmt text (``stdout:text``).

Each batch is written and flushed as it comes, so ``wfptrace replay -o - | jq``
streams. A closed pipe (``| head``) ends the sink quietly: the rest of its events
are counted lost ("output closed") and the session's ``on_end`` is told, so the
run can stop early, as ``yes | head`` does.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from typing import BinaryIO

from .._errors import ConfigError
from .._fmt import format_event
from .._sink import Needs, SinkBatch, SinkContext, SinkSpec, SinkStats, SinkStatsCounter

__all__ = ["StdoutSink"]

_FORMATS = ("json", "text")
_CLOSED = "output closed"


class StdoutSink:
    """Writes every batch to standard output and flushes it."""

    def __init__(self, spec: SinkSpec, context: SinkContext,
                 stream: BinaryIO | None = None) -> None:
        fmt = spec.target or spec.options.get("format") or "json"
        if fmt not in _FORMATS:
            raise ConfigError(f"stdout sink format must be json or text, not {fmt!r}")
        self.format = fmt
        self.name = "stdout" if fmt == "json" else "stdout:text"
        self.needs = Needs.LINES if fmt == "json" else Needs.EVENTS
        self.counter = SinkStatsCounter(self.name, "stdout")
        self._stream = stream if stream is not None else sys.stdout.buffer
        self._on_end = context.on_end
        self._closed = False

    def write(self, batch: SinkBatch) -> None:
        n = batch.count
        self.counter.hand(n)
        if self._closed:
            self.counter.settle(0, n, _CLOSED)
            return
        if self.format == "json":
            data = bytes(batch.prefix) + bytes(batch.lines) + batch.lost_line
        else:
            events = list(batch.events)
            if batch.lost_event is not None:
                events.append(batch.lost_event)
            data = "".join(format_event(e) + "\n" for e in events).encode("utf-8", "replace")
        try:
            self._stream.write(data)
            self._stream.flush()
        except OSError as exc:
            if not isinstance(exc, BrokenPipeError) and exc.errno != errno.EPIPE:
                self.counter.settle(0, n, f"write failed: {exc.strerror or exc}")
                return
            self._close_quietly()
            self.counter.settle(0, n, _CLOSED)
            return
        self.counter.settle(n)

    def _close_quietly(self) -> None:
        """The reader went away: later writes (and Python's exit flush) go nowhere."""
        self._closed = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        self._on_end("standard output closed")

    @property
    def closed(self) -> bool:
        """True once the reader closed the pipe."""
        return self._closed

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self._stream.flush()

    def close(self) -> None:
        self.flush()

    def stats(self) -> SinkStats:
        return self.counter.snapshot()
