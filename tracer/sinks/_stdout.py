"""Standard output as a sink: JSON lines (``stdout``) or tracefmt text (``stdout:text``).

An embedded session may pass ``render`` (an ``Event -> str | None`` callable: the
text of an event, or None to leave it out) for a command's own text format.

JSON output is the log format (the header line, then the records), so what a
command prints can be saved and opened by ``wfptrace fmt`` and TraceView. Each
batch is written and flushed as it comes, so ``wfptrace replay -o - | jq``
streams. A closed pipe (``| head``) ends the sink quietly: the rest of its events
are counted lost ("output closed") and the session's ``on_end`` is told, so the
run can stop early, as ``yes | head`` does.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from collections.abc import Callable
from typing import BinaryIO

from .._errors import ConfigError
from .._event import Event
from .._fmt import format_event
from .._sink import (
    OUTPUT_CLOSED,
    Needs,
    SinkBatch,
    SinkContext,
    SinkSpec,
    SinkStats,
    SinkStatsCounter,
)

__all__ = ["StdoutSink"]

_FORMATS = ("json", "text")


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
        self._header: Callable[[], bytes] | None = context.header
        self._closed = False
        render = spec.options.get("render")
        if render is not None and not callable(render):
            raise ConfigError("the stdout sink's render option must be callable")
        self._render: Callable[[Event], str | None] = render or format_event
        if render is not None:
            self.needs = Needs.EVENTS

    def write(self, batch: SinkBatch) -> None:
        n = batch.count
        self.counter.hand(n)
        if self._closed:
            self.counter.settle(0, n, OUTPUT_CLOSED)
            return
        if self.needs is Needs.LINES:
            data = bytes(batch.prefix) + bytes(batch.lines) + batch.lost_line
            if self._header is not None:  # the log format: a reader can open the output
                data = self._header() + b"\n" + data
                self._header = None
        else:
            data = self._text(batch).encode("utf-8", "replace")
        try:
            self._stream.write(data)
            self._stream.flush()
        except OSError as exc:
            if not isinstance(exc, BrokenPipeError) and exc.errno != errno.EPIPE:
                self.counter.settle(0, n, f"write failed: {exc.strerror or exc}")
                return
            self._close_quietly()
            self.counter.settle(0, n, OUTPUT_CLOSED)
            return
        self.counter.settle(n)

    def _text(self, batch: SinkBatch) -> str:
        render, out = self._render, []
        for event in batch.events_and_lost():
            text = render(event) if event.kind != "lost" else format_event(event)
            if text is not None:
                out.append(text if text.endswith("\n") else text + "\n")
        return "".join(out)

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
