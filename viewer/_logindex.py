"""A saved log opened lazily: a line-offset index built in the background, rows read on demand.

Nothing of the log is loaded whole. A thread scans the file (and a rotating log's
later files) with ``pread`` into an ``array('Q')`` of line offsets, so memory grows by
8 bytes a line and never with the file's pages. Rows are read through ``mmap`` and
decoded only when shown (a small cache keeps the rows on screen). The last lines are
indexed first, so the end of any log shows at once while the scan runs; a circular
log, whose lines must be ordered by sequence number, is indexed whole (in the
background) before it shows. The index has the read interface of :class:`EventRing`,
so the events view, detail pane, search and export work on it unchanged.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import threading
import time
from array import array
from bisect import bisect_left, bisect_right, insort
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tracer import Event, LogReader, Manifest
from tracer._logfile import rotated_path

from ._ring import Schema
from ._scan import scanner

__all__ = ["EventRows", "LogIndex"]

_CHUNK = 1 << 20
_WINDOW = 16 << 20  # bytes a filter maps at a time
_TAIL = 1 << 18  # bytes indexed from the end first (a few thousand lines)
_SHIFT = 40  # packed offset: file number << 40 | byte offset (files up to 1 TB)
_MASK = (1 << _SHIFT) - 1
_NL = re.compile(rb"\n")
_EVENT_PREFIXES = (b'{"type":"event"', b'{"type":"lost"')
_SEQ = re.compile(rb'"seq":(\d+)')
# blank, padding, manifest, and loss records (whose rows are also listed: lost_offsets)
_ODD_LINE = re.compile(rb'\n(?:[^{]|\{"type":"(?!event"))')
_LOST = b'{"type":"lost"'



class _File:
    """One file of the log: descriptor, a read-only map grown on demand."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.scanned = 0  # bytes indexed (always at a line start)
        self._map: mmap.mmap | None = None

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def line(self, offset: int) -> bytes:
        """The line starting at ``offset`` (without its newline)."""
        m = self._map
        if m is None or offset >= len(m):
            m = self._remap()
            if m is None or offset >= len(m):
                return b""
        end = m.find(b"\n", offset)
        if end < 0:
            m = self._remap() or m
            end = m.find(b"\n", offset)
        return m[offset:end if end >= 0 else len(m)]

    def _remap(self) -> mmap.mmap | None:
        size = self.size()
        if size == 0:
            return None
        if self._map is not None:
            self._map.close()
        self._map = mmap.mmap(self.fd, size, access=mmap.ACCESS_READ)
        return self._map

    def close(self) -> None:
        if self._map is not None:
            self._map.close()
            self._map = None
        os.close(self.fd)


class EventRows:
    """Row accessors of a lazily read log, all through ``event(index)`` and ``line(index)``
    (shared by one log's index and the merge of several)."""

    schemas: list[Schema]
    _schema_ids: dict[tuple[str, str, str, str], int]

    def event(self, index: int) -> Event:
        raise NotImplementedError

    def line(self, index: int) -> bytes:
        raise NotImplementedError

    def schema(self, index: int) -> Schema:
        """The schema (provider, name, template...) of row ``index``."""
        ev = self.event(index)
        key = (ev.provider, ev.name, ev.kind, ev.template)
        sid = self._schema_ids.get(key)
        if sid is None:
            sid = self._schema_ids[key] = len(self.schemas)
            self.schemas.append(Schema(ev.provider, ev.name, ev.id, ev.template, ev.keywords,
                                       ev.kind))
        return self.schemas[sid]

    def level(self, index: int) -> int:
        """The level of row ``index``."""
        return self.event(index).level

    def seq(self, index: int) -> int:
        """The sequence number (in its own log) of row ``index``."""
        return self.event(index).seq

    def time_ns(self, index: int) -> int:
        """The time of row ``index``."""
        return self.event(index).time_ns

    def fields(self, index: int) -> dict[str, Any]:
        """The decoded fields of row ``index``."""
        return self.event(index).fields

    def raw_fields(self, index: int) -> bytes:
        """The raw line of row ``index`` (contains its fields' JSON)."""
        return self.line(index)


class LogIndex(EventRows):
    """The events of a log file, indexed in the background and decoded on demand."""

    def __init__(self, path: str | os.PathLike[str], follow: bool = True,
                 poll_interval: float = 0.2, cache: int = 2048, start: bool = True) -> None:
        """Open ``path`` (its header, first screen and tail are read now); with ``start``
        False the background scan waits for :meth:`start` (TraceView starts it once the
        first rows are painted: the scan would compete with the first paint for the GIL)."""
        self.path = Path(path)
        self.follow = follow
        self.poll_interval = poll_interval
        self.reader = LogReader(self.path, follow=follow)  # header, manifests; LogFormatError
        self.mode = self.reader.mode
        self.capacity = 1 << 62  # nothing is ever overwritten
        self.start = 0
        self.dropped = 0
        self.bad_lines = 0
        self.schemas: list[Schema] = []
        self._schema_ids: dict[tuple[str, str, str, str], int] = {}
        self.providers: dict[str, int] = {m: 0 for m in self.reader.manifests}
        self._files: list[_File] = [_File(self.path)]
        self._offsets = array("Q")  # packed offsets of event lines, in row order
        self._seqs = array("q")  # circular logs: the seq each row must have
        self._lost: list[int] = []  # packed offsets of loss records (sorted; few)
        self._tail = array("Q")  # the last lines, shown before the scan reaches them
        self._tail_from = -1  # offset (in the first file) of the first tail line (-1: none)
        self._tail_end = 0  # offset just after the last tail line
        self._lost_seqs: set[int] = set()  # circular logs: seqs of loss records
        self._circular_lost = array("q")  # circular logs: rows of loss records
        self._cache: OrderedDict[int, Event] = OrderedDict()
        self._cache_size = cache
        self._lock = threading.Lock()
        self.total_bytes = self._files[0].size()
        self.done = False  # the initial scan reached the end of the log
        self.error: str | None = None
        self._stop = threading.Event()
        if self.mode != "circular":
            self._scan_file(self._files[0], 0, limit=_CHUNK // 4)  # the first screen, now
            self._index_tail()
        self._thread = threading.Thread(target=self._run, name="traceview-index", daemon=True)
        if start:
            self.start_scan()

    def start_scan(self) -> None:
        """Start the background scan (once; later calls do nothing)."""
        if self._thread.ident is None and not self._stop.is_set():
            self._thread.start()

    # -- bounds (the EventRing interface) -------------------------------------------------
    @property
    def total(self) -> int:
        """Rows known so far (the end of the log included once its tail is indexed)."""
        with self._lock:
            return len(self._offsets) + len(self._tail)

    def __len__(self) -> int:
        return self.total

    def holds(self, index: int) -> bool:
        """True if ``index`` is a row of the log."""
        return 0 <= index < self.total

    @property
    def indexed(self) -> int:
        """Rows indexed in order from the start (the rest of ``total`` is the tail)."""
        return len(self._offsets)

    @property
    def progress(self) -> float:
        """The share of the log's bytes indexed (1.0 once done)."""
        if self.done:
            return 1.0
        done = sum(f.scanned for f in self._files[:-1]) + self._files[-1].scanned
        return min(1.0, done / max(1, self.total_bytes))

    # -- scanning ----------------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if self.mode == "circular":
                self._scan_circular()
            else:
                self._scan_sequential()
        except OSError as exc:
            self.error = f"cannot read {self.path}: {exc.strerror or exc}"
            self.done = True

    def _scan_sequential(self) -> None:
        while not self._stop.is_set():
            f = self._files[-1]
            grew = self._scan_file(f, len(self._files) - 1)
            nxt = rotated_path(self.path, len(self._files))
            if self.mode == "rotate" and nxt.exists():
                self._scan_file(f, len(self._files) - 1)  # the last lines before rotating
                self._files.append(_File(nxt))
                self.total_bytes += self._files[-1].size()
                continue
            if not grew:
                self.done = True
                if not self.follow:
                    return
                self._stop.wait(self.poll_interval)

    def _scan_file(self, f: _File, number: int, limit: int | None = None) -> bool:
        """Index the complete lines of ``f`` past ``f.scanned``; True if any were found."""
        found = False
        base = number << _SHIFT
        while not self._stop.is_set():
            size = f.size()
            if f.scanned == 0 and size:
                f.scanned = len(os.pread(f.fd, _CHUNK, 0).split(b"\n", 1)[0]) + 1  # header
                if f.scanned > size:
                    f.scanned = 0
                    return found
            if number == 0 and self._tail_from >= 0:
                if f.scanned >= self._tail_from:
                    self._merge_tail(f)
                    continue
                size = min(size, self._tail_from)
            want = min(_CHUNK, size - f.scanned, limit or _CHUNK)
            if want <= 0:
                return found
            buf = os.pread(f.fd, want, f.scanned)
            last = buf.rfind(b"\n") + 1
            if last == 0:
                if len(buf) < want or size - f.scanned <= want or limit:
                    return found  # an unfinished last line (or a line larger than the limit)
                buf = self._long_line(f, size)
                last = len(buf)
            pos = f.scanned
            self._add_lines(buf, last, base + pos)
            f.scanned = pos + last
            found = True
            if limit:
                return found
        return found

    def _long_line(self, f: _File, size: int) -> bytes:
        """A line longer than a chunk: read up to its newline (or the end)."""
        m = mmap.mmap(f.fd, size, access=mmap.ACCESS_READ)
        try:
            end = m.find(b"\n", f.scanned)
            return m[f.scanned:end + 1] if end >= 0 else b""
        finally:
            m.close()

    def _add_lines(self, buf: bytes, last: int, base: int) -> None:
        """Append the offsets of the rows among ``buf[:last]`` (``base``: its offset)."""
        self._offsets.extend(self._starts(buf, 0, last, base))

    def _starts(self, buf: bytes, first: int, last: int, base: int) -> array[int]:
        """Offsets (``base`` + position) of the rows among the lines of ``buf[first:last]``.

        Rows are the non-blank lines other than manifests (which the reader learns from);
        lines that are not events are shown as unreadable rows, never skipped silently.
        A run of event lines is read by the scanner (in C without the GIL, so the UI
        thread is not held up while the log is indexed).
        """
        packed = scanner().event_starts(buf, first, last, base)
        if packed is not None:
            out = array("Q")
            out.frombytes(packed)
            return out
        return array("Q", self._odd_starts(buf, first, last, base))

    def _odd_starts(self, buf: bytes, first: int, last: int, base: int) -> list[int]:
        """``_starts`` of lines that are not all events: line by line."""
        if _ODD_LINE.search(buf, first, last) is None and \
                buf.startswith(_EVENT_PREFIXES[0], first):
            return [base + first] + [base + m.end() for m in _NL.finditer(buf, first, last - 1)]
        starts = []
        pos = first
        while pos < last:
            end = buf.find(b"\n", pos)
            if buf.startswith(_EVENT_PREFIXES, pos):
                starts.append(base + pos)
                if buf.startswith(_LOST, pos):
                    with self._lock:
                        insort(self._lost, base + pos)
            elif buf.startswith(b'{"type":"manifest"', pos):
                self._manifest(buf[pos:end])
            elif buf[pos:end].strip():
                starts.append(base + pos)
            pos = end + 1
        return starts

    def _manifest(self, line: bytes) -> None:
        self.reader.decode(line)  # the reader learns the provider's schema
        for name in self.reader.manifests:
            self.providers.setdefault(name, 0)

    def _index_tail(self) -> None:
        """Index the last ``_TAIL`` bytes of the first file now, so the end shows at once."""
        f = self._files[0]
        size = f.size()
        if self.mode == "rotate" and rotated_path(self.path, 1).exists():
            return  # the end is in a later file; the scan gets there
        if size - f.scanned <= 2 * _TAIL:
            return
        buf = os.pread(f.fd, _TAIL, size - _TAIL)
        first = buf.find(b"\n") + 1
        last = buf.rfind(b"\n") + 1
        if first <= 0 or last <= first:
            return
        at = size - _TAIL
        self._tail = self._starts(buf, first, last, at)
        self._tail_from = at + first
        self._tail_end = at + last

    def _merge_tail(self, f: _File) -> None:
        """The scan reached the tail: its rows join the ordered index; scanning goes on after."""
        with self._lock:
            self._offsets.extend(self._tail)
            self._tail = array("Q")
            self._tail_from = -1
        f.scanned = self._tail_end

    def _scan_circular(self) -> None:
        """Index every line, then order the rows by sequence number (and follow new ones)."""
        f = self._files[0]
        last_seq = 0
        while not self._stop.is_set():
            pairs = self._circular_pairs(f)
            pairs = [(s, o) for s, o in pairs if s > last_seq]
            pairs.sort()
            base = len(self._offsets)
            self._circular_lost.extend(base + i for i, (s, _) in enumerate(pairs)
                                       if s in self._lost_seqs)
            with self._lock:
                self._seqs.extend(s for s, _ in pairs)
                self._offsets.extend(o for _, o in pairs)
            if pairs:
                last_seq = pairs[-1][0]
            self.done = True
            if not self.follow:
                return
            self._stop.wait(self.poll_interval)

    def _circular_pairs(self, f: _File) -> list[tuple[int, int]]:
        size = f.size()
        self.total_bytes = size
        header = len(os.pread(f.fd, _CHUNK, 0).split(b"\n", 1)[0]) + 1
        pairs: list[tuple[int, int]] = []
        pos = header
        f.scanned = 0
        while pos < size and not self._stop.is_set():
            buf = os.pread(f.fd, min(_CHUNK, size - pos), pos)
            last = buf.rfind(b"\n") + 1
            if last == 0:
                break
            p = 0
            while p < last:
                end = buf.find(b"\n", p)
                if buf.startswith(_EVENT_PREFIXES, p):
                    m = _SEQ.search(buf, p, end)
                    if m is not None:
                        pairs.append((int(m.group(1)), pos + p))
                        if buf.startswith(_LOST, p):
                            self._lost_seqs.add(pairs[-1][0])
                p = end + 1
            pos += last
            f.scanned = pos
        return pairs

    def wait_indexed(self, timeout: float = 60.0) -> bool:
        """Wait until the initial scan is done (tests and benchmarks); True if it is."""
        deadline = time.monotonic() + timeout
        while not self.done and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.done

    # -- reading rows ------------------------------------------------------------------------
    def packed(self, index: int) -> int:
        """The packed (file << 40 | offset) position of row ``index``."""
        with self._lock:
            n = len(self._offsets)
            tail = self._tail
        if 0 <= index < n:
            return self._offsets[index]
        if n <= index < n + len(tail):
            return tail[index - n]
        raise IndexError(f"row {index} is not in the log")

    def line_at(self, packed: int) -> bytes:
        """The raw line at a packed position."""
        return self._files[packed >> _SHIFT].line(packed & _MASK)

    def line(self, index: int) -> bytes:
        """The raw JSON line of row ``index``."""
        return self.line_at(self.packed(index))

    def event(self, index: int) -> Event:
        """Row ``index`` decoded (cached: the rows on screen are decoded once)."""
        key = self.packed(index)
        cache = self._cache
        ev = cache.get(key)
        if ev is not None:
            cache.move_to_end(key)
            return ev
        ev = self._decode(self.line_at(key), index)
        cache[key] = ev
        if len(cache) > self._cache_size:
            cache.popitem(last=False)
        return ev

    def _decode(self, line: bytes, index: int) -> Event:
        ev = self.reader.decode(line)
        if ev is None:
            self.bad_lines += 1
            return _note(f"unreadable line ({len(line)} bytes): {line[:120]!r}", index)
        if self._seqs and index < len(self._seqs) and ev.seq != self._seqs[index]:
            return _note(f"event {self._seqs[index]} was overwritten in the circular log",
                         index)
        return ev

    @property
    def manifests(self) -> dict[str, Manifest]:
        """The manifests of the log's providers (header and in-band)."""
        return self.reader.manifests

    def chunks(self, first: int, stop: int, size: int = _CHUNK
               ) -> Iterator[tuple[int, int, bytes]]:
        """(first row, its packed offset, bytes) covering rows ``first..stop`` in order.

        For the filter: runs of rows of one file read with one ``pread`` each. Rows are
        the non-blank lines that are neither a header nor a manifest (as indexed).
        """
        offsets = self._offsets
        stop = min(stop, len(offsets))
        while first < stop and not self._stop.is_set():
            p0 = offsets[first]
            fno = p0 >> _SHIFT
            j = bisect_left(offsets, min(p0 + size, (fno + 1) << _SHIFT), first + 1, stop)
            j = max(j, first + 1)
            f = self._files[fno]
            if j < len(offsets) and offsets[j] >> _SHIFT == fno:
                buf = os.pread(f.fd, offsets[j] - p0, p0 & _MASK)
            else:  # the last row of a file: up to its newline
                lastp = offsets[j - 1] & _MASK
                buf = os.pread(f.fd, lastp - (p0 & _MASK), p0 & _MASK) + f.line(lastp) + b"\n"
            yield first, p0, buf
            first = j

    def windows(self, first: int, stop: int, size: int = _WINDOW
                ) -> Iterator[tuple[int, int, int, memoryview]]:
        """(first row, end row, first row's packed offset, bytes) covering rows
        ``first..stop`` in order, as ``chunks`` but mapped, not copied (``mapped``).
        The view must not be kept."""
        for row0, j, p0, fno, start, end in self.window_spans(first, stop, size):
            with self.mapped(fno, start, end) as view:
                yield row0, j, p0, view

    def window_spans(self, first: int, stop: int, size: int = _WINDOW
                     ) -> Iterator[tuple[int, int, int, int, int, int]]:
        """(first row, end row, first row's packed offset, file number, start, end) of
        runs of rows ``first..stop`` of about ``size`` bytes; ``end`` < 0: up to the
        newline after the line at offset ``-1 - end`` (the last row of a file)."""
        offsets = self._offsets
        stop = min(stop, len(offsets))
        while first < stop and not self._stop.is_set():
            p0 = offsets[first]
            fno = p0 >> _SHIFT
            j = max(first + 1, bisect_left(offsets, min(p0 + size, (fno + 1) << _SHIFT),
                                           first + 1, stop))
            if j < len(offsets) and offsets[j] >> _SHIFT == fno:
                end = offsets[j] & _MASK
            else:
                end = -1 - (offsets[j - 1] & _MASK)
            yield first, j, p0, fno, p0 & _MASK, end
            first = j

    @contextlib.contextmanager
    def mapped(self, fno: int, start: int, end: int) -> Iterator[memoryview]:
        """Bytes ``start..end`` of file ``fno`` (a ``window_spans`` span), mapped read-only.

        Each window is a map of its own (the rows' files only grow; the map the rows on
        screen use may be replaced meanwhile), unmapped on exit, so the pages read never
        stay in the process's memory. Safe to use from several threads at once.
        """
        f = self._files[fno]
        aligned = start - start % mmap.ALLOCATIONGRANULARITY
        m = mmap.mmap(f.fd, (end if end >= 0 else f.size()) - aligned, offset=aligned,
                      access=mmap.ACCESS_READ)
        try:
            if end < 0:
                nl = m.find(b"\n", -1 - end - aligned)
                end = aligned + (nl + 1 if nl >= 0 else len(m))
            with memoryview(m) as whole, whole[start - aligned:end - aligned] as view:
                yield view
        finally:
            with contextlib.suppress(BufferError):  # a view still held: the map goes with it
                m.close()

    @property
    def offsets(self) -> array[int]:
        """Packed offsets of the rows indexed in order (read only; the scan extends it)."""
        return self._offsets

    def row_starting_at(self, packed: int, lo: int, hi: int) -> int:
        """The row in ``[lo, hi)`` whose line starts at ``packed``, or -1 (file-ordered)."""
        offsets = self._offsets
        row = bisect_left(offsets, packed, lo, hi)
        return row if row < hi and offsets[row] == packed else -1

    def lost_offsets(self, start: int, stop: int) -> list[int]:
        """Packed offsets of the loss records indexed in ``[start, stop)`` (file-ordered
        logs), so a filter can keep them in view without searching for them."""
        with self._lock:
            return self._lost[bisect_left(self._lost, start):bisect_left(self._lost, stop)]

    @property
    def lost_rows(self) -> list[int]:
        """Rows (indexed in order so far) that are loss records (the rates strip)."""
        if self.mode == "circular":
            return list(self._circular_lost)
        with self._lock:
            lost, offsets = list(self._lost), self._offsets
            n = len(offsets)
        rows = (bisect_left(offsets, p, 0, n) for p in lost)
        return [r for r, p in zip(rows, lost, strict=True) if r < n and offsets[r] == p]

    @property
    def ordered(self) -> bool:
        """True if rows are in file order (so byte positions map to rows by bisection)."""
        return self.mode != "circular"

    def row_at(self, packed: int, lo: int = 0, hi: int | None = None) -> int:
        """The row whose line contains the packed position (file-ordered logs)."""
        return bisect_right(self._offsets, packed, lo, len(self._offsets) if hi is None
                            else hi) - 1

    def close(self) -> None:
        """Stop indexing and release the files."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)
        for f in self._files:
            f.close()
        self._files = []


def _note(message: str, index: int) -> Event:
    """A row that stands for a line that cannot be shown as an event."""
    return Event(time_ns=0, seq=0, provider="(traceview)", name="LogLine", id=0, level=2,
                 keywords=(), pid=0, tid=0, fields={"row": index, "reason": message},
                 template="{reason}")
