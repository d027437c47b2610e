"""Reading JSON-lines logs back as typed events, including files still being written.

The reader decodes with the manifests in the file's header (and any in-band
manifest records), so it needs none of the providers' code. It only ever yields
complete lines: a partial last line is held back until its newline arrives. (A
writer killed in the middle of a large write can leave one for good: Linux stops
copying a write at a page boundary when the process gets SIGKILL. The reader then
reports its size in ``partial_tail``.)
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from ._errors import LogFormatError
from ._escape import escape_text
from ._event import Event
from ._fields import decode_value
from ._logfile import rotated_path
from ._logformat import LOG_FORMAT
from ._manifest import Manifest

__all__ = ["LogReader", "read_log"]

_CHUNK = 1 << 20
#: Longest header line read (manifests of every provider fit many times over); a file
#: whose first line is longer is not a log, and must not be read whole to find out.
_MAX_HEADER = 16 << 20
_I64_MIN, _I64_MAX = -(1 << 63), (1 << 63) - 1


class LogReader:
    """Iterate the events of a wfptrace log file; ``follow=True`` keeps tailing it.

    ``stream`` reads a log from an open binary stream instead (standard input, a
    pipe): header and records come from the same stream, from its first byte, until
    it ends; ``path`` only names it in messages.
    """

    def __init__(self, path: str | os.PathLike[str], follow: bool = False,
                 poll_interval: float = 0.1,
                 should_stop: Callable[[], bool] | None = None,
                 stream: BinaryIO | None = None) -> None:
        self.path = Path(path)
        self._stream = stream
        self.follow = follow
        self.poll_interval = poll_interval
        self.should_stop = should_stop or (lambda: False)
        self.header: dict[str, Any] = {}
        self.manifests: dict[str, Manifest] = {}
        self.bad_lines = 0
        #: Bytes of an unfinished last line left when reading stopped (0: none).
        self.partial_tail = 0
        self._schemas: dict[tuple[str, str], tuple[dict[str, str], str]] = {}
        self._read_header()

    # -- header and manifests -----------------------------------------------------------
    def _read_header(self) -> None:
        """Read and check the header line; every way a file can fail is a LogFormatError."""
        name = escape_text(str(self.path))
        deadline = time.monotonic() + (5.0 if self.follow else 0.0)
        while True:
            if self._stream is not None:
                first = self._stream.readline(_MAX_HEADER)
                break
            first = self._first_line(name)
            if first.endswith(b"\n") or len(first) >= _MAX_HEADER or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        header = _parse_header(first, name)
        providers = header.get("providers", [])
        if not isinstance(providers, list) or not all(isinstance(m, dict) for m in providers):
            raise LogFormatError(f"{name}: damaged header (providers is not a list of "
                                 "manifests)")
        self.header = header
        for m in providers:
            self._add_manifest(m)

    def _first_line(self, name: str) -> bytes:
        """The file's first line (at most _MAX_HEADER bytes); a clear error if unreadable."""
        try:
            # O_NONBLOCK: opening a FIFO with no writer must not hang (regular files ignore it)
            fd = os.open(self.path, os.O_RDONLY | os.O_NONBLOCK)
            with open(fd, "rb") as f:
                mode = os.fstat(fd).st_mode
                if stat.S_ISDIR(mode):
                    raise IsADirectoryError
                if not stat.S_ISREG(mode):
                    raise LogFormatError(f"{name} is not a regular file")
                return f.readline(_MAX_HEADER)
        except IsADirectoryError:
            raise LogFormatError(f"{name} is a directory, not a log file") from None
        except FileNotFoundError:
            raise LogFormatError(f"{name}: no such file") from None
        except OSError as exc:
            raise LogFormatError(f"cannot read {name}: {exc.strerror or exc}") from None

    def _add_manifest(self, data: dict[str, Any]) -> None:
        manifest = Manifest.from_json(data)
        self.manifests[manifest.name] = manifest
        for ev in manifest.events.values():
            self._schemas[(manifest.name, ev.name)] = (dict(ev.fields), ev.template)

    @property
    def mode(self) -> str:
        """The file mode recorded in the header."""
        return str(self.header.get("mode", "sequential"))

    @property
    def session(self) -> str:
        """The session that wrote the file."""
        return str(self.header.get("session", ""))

    # -- decoding -----------------------------------------------------------------------
    def decode(self, line: bytes) -> Event | None:
        """Decode one line to an Event (None for headers, manifests, blank or bad lines)."""
        if not line.strip():
            return None
        try:
            rec = orjson.loads(line)
            kind = rec.get("type")
            if kind == "manifest":
                self._add_manifest(rec["provider"])
                return None
            if kind not in ("event", "lost"):
                return None
            return self._event(rec, kind)
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
            self.bad_lines += 1
            return None

    def _event(self, rec: dict[str, Any], kind: str) -> Event:
        provider, name = rec["provider"], rec["event"]
        fields = rec.get("fields") or {}
        if not (isinstance(provider, str) and isinstance(name, str) and isinstance(fields, dict)):
            raise TypeError("provider, event and fields must be a string, string and object")
        types, template = self._schemas.get((provider, name), ({}, ""))
        if types:
            fields = {k: decode_value(types.get(k, ""), v) for k, v in fields.items()}
        seq, pid, tid = int(rec["seq"]), int(rec.get("pid", 0)), int(rec.get("tid", 0))
        time_ns, level = _time_ns(rec), int(rec.get("level", 4))
        # consumers keep these in 64-bit arrays (and the level in a byte)
        if not (min(seq, pid, tid, time_ns) >= _I64_MIN
                and max(seq, pid, tid, time_ns) <= _I64_MAX and 0 <= level <= 255):
            raise ValueError("an envelope number is out of range")
        return Event(time_ns=time_ns, seq=seq, provider=provider, name=name,
                     id=int(rec.get("id", 0)), level=level,
                     keywords=tuple(rec.get("keywords", ())), pid=pid, tid=tid,
                     fields=fields, template=template, kind=kind,
                     session=self.session, created_ns=_time_ns(rec, "created"))

    # -- iteration ----------------------------------------------------------------------
    def __iter__(self) -> Iterator[Event]:
        if self._stream is not None:
            yield from self._lines(self._stream)
        elif self.mode == "circular":
            yield from self._iter_circular()
        else:
            yield from self._iter_sequential()

    def _iter_sequential(self) -> Iterator[Event]:
        index = 0
        path = self.path
        while True:
            yield from self._tail(path, follow_until_next=self.mode == "rotate")
            nxt = rotated_path(self.path, index + 1)
            if self.mode == "rotate" and nxt.exists():
                index += 1
                path = nxt
                continue
            return

    def _tail(self, path: Path, follow_until_next: bool) -> Iterator[Event]:
        with open(path, "rb") as f:
            f.readline()  # header
            rest = b""
            idle = False
            while True:
                chunk = f.read(_CHUNK)
                if chunk:
                    idle = False
                    lines = (rest + chunk).split(b"\n")
                    rest = lines.pop()
                    for line in lines:
                        event = self.decode(line)
                        if event is not None:
                            yield event
                    continue
                if not self.follow or self.should_stop():
                    self.partial_tail = len(rest)
                    return
                if follow_until_next and idle and rotated_path(
                        self.path, _index_of(self.path, path) + 1).exists():
                    return
                idle = True
                time.sleep(self.poll_interval)

    def _lines(self, stream: BinaryIO) -> Iterator[Event]:
        """Every event of a stream, read to its end (a pipe's writer closed it)."""
        rest = b""
        while chunk := stream.read1(_CHUNK) if hasattr(stream, "read1") else stream.read(_CHUNK):
            lines = (rest + chunk).split(b"\n")
            rest = lines.pop()
            for line in lines:
                event = self.decode(line)
                if event is not None:
                    yield event
        self.partial_tail = len(rest)

    def _iter_circular(self) -> Iterator[Event]:
        last = 0
        while True:
            with open(self.path, "rb") as f:
                f.readline()
                data = f.read()
            events = [e for e in map(self.decode, data.split(b"\n")) if e is not None]
            events.sort(key=lambda e: e.seq)
            for event in events:
                if event.seq > last:
                    last = event.seq
                    yield event
            if not self.follow or self.should_stop():
                return
            time.sleep(self.poll_interval)


def _parse_header(first: bytes, name: str) -> dict[str, Any]:
    """The header from a log's first line, or a LogFormatError saying what is wrong."""
    if not first:
        raise LogFormatError(f"{name} is empty: no session has written to it yet")
    try:
        header = orjson.loads(first)
    except orjson.JSONDecodeError:
        if first.endswith(b"\n") or len(first) >= _MAX_HEADER or not first.startswith(b"{"):
            raise LogFormatError(f"{name} is not a wfptrace log (its first line is not "
                                 "JSON)") from None
        raise LogFormatError(f"{name}: the header line is cut short (a damaged log, or its "
                             "session is still starting)") from None
    if not isinstance(header, dict) or header.get("format") != LOG_FORMAT:
        raise LogFormatError(f"{name} is not a wfptrace log (format is not {LOG_FORMAT})")
    return header


def _index_of(base: Path, path: Path) -> int:
    if path == base:
        return 0
    return int(path.stem.rsplit(".", 1)[1])


@lru_cache(maxsize=4096)
def _seconds(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp())


def _time_ns(rec: dict[str, Any], key: str = "time") -> int:
    """Nanoseconds since the epoch from the line's ``time`` (``...T02:20:00.123456789Z``)
    or another time member (0 if absent)."""
    text = str(rec.get(key, ""))
    if len(text) < 20:
        return 0
    frac = text[20:].rstrip("Z")
    return _seconds(text[:19]) * 1_000_000_000 + int((frac + "000000000")[:9] or 0)


def read_log(path: str | os.PathLike[str], follow: bool = False) -> Iterator[Event]:
    """Yield the typed events of a log file (``follow``: keep waiting for more)."""
    return iter(LogReader(path, follow=follow))
