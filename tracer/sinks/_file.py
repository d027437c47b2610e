"""The JSON-lines log file sink (sequential, rotate, circular), optionally rendered
in a forked child process (``render_worker``)."""

from __future__ import annotations

from pathlib import Path

from .._errors import ConfigError, LogWriteError
from .._logfile import FileMode, LogFile
from .._renderworker import RenderWorker
from .._sink import Needs, SinkBatch, SinkContext, SinkSpec, SinkStats, SinkStatsCounter

__all__ = ["FileSink"]

_WRITE_FAILED = "write failed"
_FILE_REFUSED = "file full or refused"


class FileSink:
    """Writes the session's log file; counts what the file could not keep.

    Options: ``mode`` (sequential, rotate, circular), ``max_size`` (bytes) and
    ``render_worker`` (render and write in a child process).
    """

    def __init__(self, spec: SinkSpec, context: SinkContext) -> None:
        if not spec.target:
            raise ConfigError("a file sink needs a path: file:PATH")
        opts = spec.options
        self.path = Path(spec.target)
        self.name = f"file:{spec.target}"
        self.counter = SinkStatsCounter(self.name, "file")
        self.last_error: str | None = None
        self.log = LogFile(self.path, opts.get("mode", FileMode.SEQUENTIAL),
                           opts.get("max_size"), context.header(),
                           opener=context.file_opener)
        self._worker: RenderWorker | None = None
        if opts.get("render_worker") and context.renderer.fast:
            try:
                self._worker = RenderWorker(self.log, context.renderer, self._acked)
            except OSError as exc:  # no fork: the sink still works, rendering here
                self.last_error = f"render worker not started ({exc}): rendering in process"
        self.needs = Needs.RECORDS if self._worker is not None else Needs.LINES

    @property
    def render_worker_pid(self) -> int | None:
        """The pid of the child that renders the file, if any."""
        return self._worker.pid if self._worker is not None else None

    def write(self, batch: SinkBatch) -> None:
        n = batch.count
        if self._worker is not None:
            self.counter.hand(n, pending=True)
            self._worker.submit(batch.records, batch.first_seq, batch.prefix, batch.lost_line,
                                batch.n_prefix)
            return
        self.counter.hand(n)
        blob = batch.prefix + batch.lines + batch.lost_line if (batch.prefix or batch.lost_line) \
            else batch.lines
        n_lines = batch.n_prefix + n + (1 if batch.lost_line else 0)
        if not n_lines:
            return
        try:
            kept = self.log.write_blob(blob, n_lines)
        except LogWriteError as exc:
            self.last_error = str(exc)
            self.counter.settle(0, n, _WRITE_FAILED)
            return
        lost = n - min(n, max(0, kept - batch.n_prefix))
        self.counter.settle(n - lost, lost, _FILE_REFUSED)

    def _acked(self, n_events: int, kept: int, extra: int) -> None:
        """The render child's account of a batch: ``kept`` lines of which ``extra`` in-band."""
        lost = n_events - min(n_events, max(0, kept - extra))
        self.counter.settle(n_events - lost, lost, _FILE_REFUSED, pending=True)

    def flush(self) -> None:
        if self._worker is not None:
            self._worker.flush()
        else:
            self.log.flush()

    def close(self) -> None:
        if self._worker is not None:
            self._worker.close()
        else:
            self.log.flush()
        self.log.close()

    @property
    def error(self) -> str | None:
        """The last write error, or why the render worker stopped."""
        return (self._worker.error if self._worker else None) or self.last_error

    @property
    def bytes_written(self) -> int:
        return self._worker.bytes_written if self._worker is not None else self.log.bytes_written

    def stats(self) -> SinkStats:
        return self.counter.snapshot(path=str(self.path), bytes_written=self.bytes_written,
                                     error=self.error)
