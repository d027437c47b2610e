"""JSON-lines log files in three modes: sequential, circular and rotate.

Every write is whole lines in one ``write``/``pwrite`` call, and a failed write is
cut back to the last line boundary, so a reader tailing the file never sees a torn
line, even if the writer is killed or the disk fills up. (SIGKILL during a large
write can leave an unfinished last line, since Linux stops copying at a page
boundary; readers hold a line back until its newline, and report such a tail.)

* ``sequential``: one file; with a max size, events past it are lost (as in ETW).
* ``rotate``: a new file (``trace.jsonl``, ``trace.1.jsonl``, ...) at the max size,
  each starting with the header.
* ``circular``: one file of at most max size; after the header it is a ring of
  fixed-size blocks, each holding whole lines padded with a blank line, and the
  oldest block is overwritten. Readers order the lines by sequence number.

Every file is opened through ``opener(path, flags) -> fd`` if one is given (the hub
service passes one that opens with its client's credentials and follows no links);
without one, ``os.open`` with mode 0640.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path

from ._errors import ConfigError, LogWriteError

__all__ = ["FileMode", "LogFile", "Opener", "rotated_path"]

#: Opens a log file: ``opener(path, flags) -> fd`` (as ``open(opener=...)``); OSError on failure.
Opener = Callable[[str, int], int]

_MIN_BLOCK = 4096
_MAX_BLOCK = 1 << 20


class FileMode(StrEnum):
    """How a session's log file grows."""

    SEQUENTIAL = "sequential"
    CIRCULAR = "circular"
    ROTATE = "rotate"


def rotated_path(path: Path, index: int) -> Path:
    """The path of the ``index``-th file of a rotating log (0 is ``path`` itself)."""
    if index == 0:
        return path
    return path.with_name(f"{path.stem}.{index}{path.suffix}")


def _write_error(path: Path, exc: OSError) -> LogWriteError:
    reason = "disk full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
    return LogWriteError(f"cannot write log file {path}: {reason}")


class LogFile:
    """Writes whole JSON lines to a log file according to its mode."""

    def __init__(self, path: str | os.PathLike[str], mode: FileMode | str = FileMode.SEQUENTIAL,
                 max_size: int | None = None, header: bytes = b"", *,
                 opener: Opener | None = None) -> None:
        self.path = Path(path)
        #: Opens each file (``opener(path, flags) -> fd``, as ``open``'s); the hub
        #: service passes one that opens with its client's rights and follows no link.
        self.opener = opener
        self.mode = FileMode(mode)
        self.max_size = max_size
        self.header = header.rstrip(b"\n") + b"\n" if header else b""
        self.bytes_written = 0
        self.files_opened = 0
        self._index = 0
        self._open_error: LogWriteError | None = None  # a rotation's open failed: no file
        #: The file being written now (differs from ``path`` after a rotation).
        self.path_current = self.path
        if self.mode is not FileMode.SEQUENTIAL and not max_size:
            raise ConfigError(f"{self.mode.value} mode needs a max size")
        if max_size is not None and max_size < len(self.header) + 2 * _MIN_BLOCK:
            raise ConfigError(f"max size {max_size} bytes is too small for this log's header "
                              f"({len(self.header)} bytes)")
        self._fd = self._open(self.path)
        self._size = 0
        self._write_all(self.header)
        self._base = self._size
        if self.mode is FileMode.CIRCULAR:
            assert max_size is not None
            region = max_size - self._base
            self._block = max(_MIN_BLOCK, min(_MAX_BLOCK, region // 8))
            self._nblocks = region // self._block
            self._blk = 0
            self._fill = 0

    # -- opening and raw writes -------------------------------------------------------
    def _open(self, path: Path) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC
        try:
            if self.opener is not None:  # it decides what it may open and truncate
                fd = self.opener(str(path), flags | os.O_TRUNC)
            else:
                if not path.is_fifo() and not path.is_char_device():
                    flags |= os.O_TRUNC
                fd = os.open(path, flags, 0o640)
        except OSError as exc:
            raise LogWriteError(f"cannot open log file {path}: {exc.strerror or exc}") from None
        self.files_opened += 1
        return fd

    def _write_all(self, data: bytes | bytearray) -> None:
        """Append ``data``; on failure cut the file back so no partial line remains."""
        start = self._size
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
                self._size += n
        except OSError as exc:
            if self._size != start:
                try:
                    os.ftruncate(self._fd, start)
                    os.lseek(self._fd, start, os.SEEK_SET)
                except OSError:
                    pass
                self._size = start
            raise _write_error(self.path, exc) from None
        self.bytes_written += len(data)

    # -- public API ---------------------------------------------------------------------
    def write(self, lines: list[bytes]) -> int:
        """Write lines (without newlines); return how many were kept (the rest are lost)."""
        if not lines:
            return 0
        if self._open_error is not None:
            raise LogWriteError(str(self._open_error))
        if self.mode is FileMode.CIRCULAR:
            return self._write_circular(lines)
        data = b"\n".join(lines) + b"\n"
        if self.max_size is not None and self._size + len(data) > self.max_size:
            if self.mode is FileMode.ROTATE:
                return self._write_rotating(lines)
            return self._write_prefix(lines)
        self._write_all(data)
        return len(lines)

    def write_blob(self, data: bytes | bytearray, n_lines: int) -> int:
        """Write whole lines already joined (each ending in a newline); return lines kept."""
        if not data:
            return 0
        if self.mode is FileMode.SEQUENTIAL and self.max_size is None:
            self._write_all(data)
            return n_lines
        lines = bytes(data).split(b"\n")
        lines.pop()  # after the last newline
        return self.write(lines)

    def fileno(self) -> int:
        """The descriptor of the file being written now (-1 once closed)."""
        return self._fd

    def flush(self) -> None:
        """Push written data to the disk (fdatasync)."""
        if self._fd < 0:  # closed, or a rotation's open failed
            return
        with contextlib.suppress(OSError):  # pipes and character devices cannot be synced
            os.fdatasync(self._fd)

    def close(self) -> None:
        """Close the file (idempotent)."""
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    # -- sequential with a max size ----------------------------------------------------
    def _write_prefix(self, lines: list[bytes]) -> int:
        assert self.max_size is not None
        room = self.max_size - self._size
        kept: list[bytes] = []
        for line in lines:
            room -= len(line) + 1
            if room < 0:
                break
            kept.append(line)
        if kept:
            self._write_all(b"\n".join(kept) + b"\n")
        return len(kept)

    # -- rotate --------------------------------------------------------------------------
    def _write_rotating(self, lines: list[bytes]) -> int:
        assert self.max_size is not None
        written = 0
        batch: list[bytes] = []
        size = self._size
        for line in lines:
            if size + len(line) + 1 > self.max_size and (batch or size > self._base):
                if batch:
                    self._write_all(b"\n".join(batch) + b"\n")
                    written += len(batch)
                    batch = []
                self._next_file()
                size = self._size
            batch.append(line)
            size += len(line) + 1
        if batch:
            self._write_all(b"\n".join(batch) + b"\n")
            written += len(batch)
        return written

    def _next_file(self) -> None:
        self.close()
        self._index += 1
        self.path_current = rotated_path(self.path, self._index)
        try:
            self._fd = self._open(self.path_current)
        except LogWriteError as exc:
            self._open_error = exc
            raise
        self._size = 0
        self._write_all(self.header)

    # -- circular ------------------------------------------------------------------------
    def _write_circular(self, lines: list[bytes]) -> int:
        kept = 0
        chunk: list[bytes] = []
        chunk_len = 0
        for line in lines:
            need = len(line) + 1
            if need > self._block - 1:
                continue  # a line larger than a block cannot be stored: lost
            if self._fill + chunk_len + need > self._block - 1:
                self._put_block(chunk, chunk_len)
                kept += len(chunk)
                chunk, chunk_len = [], 0
                self._blk = (self._blk + 1) % self._nblocks
                self._fill = 0
            chunk.append(line)
            chunk_len += need
        if chunk:
            self._put_block(chunk, chunk_len)
            kept += len(chunk)
        return kept

    def _put_block(self, chunk: list[bytes], chunk_len: int) -> None:
        data = b"\n".join(chunk) + b"\n"
        offset = self._base + self._blk * self._block + self._fill
        if self._fill == 0:
            pad = self._block - len(data)
            data += b" " * (pad - 1) + b"\n"
        try:
            os.pwrite(self._fd, data, offset)
        except OSError as exc:
            raise _write_error(self.path, exc) from None
        self._fill += chunk_len
        self.bytes_written += chunk_len
