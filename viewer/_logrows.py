"""The rows of a log read on demand: all of them, or those a filter keeps, found on a thread.

A filter over a log of millions of lines runs in a worker thread (keys stay
responsive) with its progress shown. Raw lines are searched for the filter's
literal parts first (``"provider":"X"``, a field's name and the value it must
equal), so only candidate lines are JSON-decoded and tested with the filter's
exact semantics (:meth:`EventFilter.event_predicate`).
"""

from __future__ import annotations

import re
import threading
from array import array
from bisect import bisect_left
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import ModuleType
from typing import NamedTuple

import orjson

from tracer import Event
from tracer._fields import decode_value

from ._filter import EventFilter
from ._logindex import LogIndex
from ._scan import scanner

__all__ = ["LogRows", "literal_groups"]

_LOST = b'{"type":"lost"'
_EOL = re.compile(b"\n")
_DECODED = frozenset({"trace.message", "trace.time", "@timestamp"})
_PLAIN = re.compile(r"^[A-Za-z0-9_.:@/+-]+$", re.ASCII)
_INT = re.compile(r"^(?:0|[1-9][0-9]{0,14})$")


def literal_groups(flt: EventFilter) -> list[list[bytes]]:
    """Byte strings a matching line must contain: every group, one of each group's items.

    Only what a match implies for certain: a provider or event name as written in the
    line, a condition's field name, and the text an ``==`` condition's value must appear
    as (plain words, or integers that the field holds as a number or as text).
    """
    groups: list[list[bytes]] = []
    if flt.providers:
        groups.append([b'"provider":' + orjson.dumps(p) for p in sorted(flt.providers)])
    if flt.events:
        groups.append([b'"event":' + orjson.dumps(e) for e in sorted(flt.events)])
    for c in flt.conditions:
        groups.append([orjson.dumps(c.field) + b":"])
        value = c.value
        if c.op == "==" and _PLAIN.match(value) and value not in ("True", "False", "None") \
                and (_INT.match(value) or not _looks_numeric(value)):
            groups.append([value.encode()])
    if flt.expr is not None:
        groups.extend(flt.expr.line_literals())
    return groups


# a JSON value of each type that decoding changes (bytes from base64, float from int)
_PROBES: dict[str, object] = {"bytes": "AA==", "float": 1}


def _rarity(group: list[bytes]) -> tuple[int, int]:
    """Sort key: groups likely to match fewer lines first."""
    lit = group[0]
    kind = 2 if lit.endswith(b'":') else 1 if lit.startswith(b'"') else 0
    return kind * 10 + len(group), -len(lit)


def _looks_numeric(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


class LogRows:
    """Row number -> row of a :class:`LogIndex`, under the current filter (``ViewRows``' API)."""

    def __init__(self, index: LogIndex) -> None:
        self.ring = index
        self.filter = EventFilter()
        self._matches = array("Q")
        self._scanned = 0  # rows the filter has checked (in order)
        self._worker: _FilterWorker | None = None

    # -- filter --------------------------------------------------------------------------
    def set_filter(self, flt: EventFilter) -> None:
        """Apply a filter; matching rows are found by a worker thread from now on."""
        if self._worker is not None:
            self._worker.stop()
            self._worker = None
        self.filter = flt
        self._matches = array("Q")
        self._scanned = 0
        if not flt.empty:
            self._worker = _FilterWorker(self, flt)
            self._worker.start()

    @property
    def filtering(self) -> bool:
        """True while a filter is active."""
        return self._worker is not None

    @property
    def pending(self) -> int:
        """Indexed rows the filter has not checked yet."""
        if self._worker is None:
            return 0
        return max(0, self.ring.indexed - self._scanned)

    @property
    def progress(self) -> float:
        """The share of the indexed rows the filter has checked."""
        if self._worker is None:
            return 1.0
        return min(1.0, self._scanned / max(1, self.ring.indexed))

    @property
    def scanned(self) -> int:
        """Rows the filter has checked."""
        return self._scanned

    def update(self, budget: int = 0) -> int:
        """The worker does the filtering; nothing to do on the caller's thread."""
        return 0

    def close(self) -> None:
        """Stop the filter worker."""
        if self._worker is not None:
            self._worker.stop()

    # -- rows -----------------------------------------------------------------------------
    def __len__(self) -> int:
        if self._worker is None:
            return self.ring.total
        return len(self._matches)

    def __getitem__(self, row: int) -> int:
        """The log row shown at view row ``row``."""
        n = len(self)
        if row < 0:
            row += n
        if not 0 <= row < n:
            raise IndexError(row)
        return row if self._worker is None else self._matches[row]

    def row_of(self, index: int) -> int:
        """The view row showing log row ``index``, or the nearest row after it."""
        if self._worker is None:
            return max(0, index)
        return bisect_left(self._matches, index)


def _raw_predicate(flt: EventFilter, index: LogIndex) -> Callable[[dict], bool] | None:
    """The filter over a line's parsed JSON (no Event built); None if it needs the message.

    Same semantics as :meth:`EventFilter.event_predicate`: condition fields are decoded
    to their declared types first (bytes, float), as the reader would.
    """
    if flt.text or (flt.expr is not None and flt.expr.names & _DECODED):
        return None  # needs the formatted message or the time: decode the whole event
    manifests = index.reader.manifests
    expr = flt.expr.predicate if flt.expr is not None else None
    wanted = {c.field for c in flt.conditions}
    types: dict[tuple[str, str], dict[str, str]] = {}

    def typed(provider: str, name: str, fields: dict) -> dict:
        key = (provider, name)
        t = types.get(key)
        if t is None:  # the condition fields whose declared type changes the JSON value
            m = manifests.get(provider)
            schema = m.events.get(name) if m is not None else None
            t = types[key] = {k: v for k, v in (schema.fields if schema else ())
                              if k in wanted and decode_value(v, _PROBES.get(v)) is not
                              _PROBES.get(v)}
        if not t:
            return fields
        return {**fields, **{k: decode_value(v, fields[k]) for k, v in t.items()
                             if k in fields}}

    def predicate(rec: dict) -> bool:
        kind = rec.get("type")
        if kind not in ("event", "lost"):
            return False
        try:
            if int(rec.get("level", 4)) > flt.max_level:
                return False
        except (TypeError, ValueError):
            return False
        provider, name = rec.get("provider"), rec.get("event")
        if flt.providers and provider not in flt.providers:
            return False
        if flt.events and name not in flt.events:
            return False
        if flt.keywords and kind != "lost" and \
                not flt.keywords.intersection(rec.get("keywords") or ()):
            return False
        if flt.conditions or expr is not None:
            fields = rec.get("fields") or {}
            if not isinstance(fields, dict):
                return False
            if expr is not None and kind != "lost" and not expr(_RecordRow(rec, fields)):
                return False
            fields = typed(str(provider), str(name), fields)
            return all(c.matches(fields) for c in flt.conditions)
        return True

    return predicate


class _RecordRow:
    """A log line's parsed JSON as a display filter reads an event (no Event built)."""

    __slots__ = ("fields", "rec")

    def __init__(self, rec: dict, fields: dict) -> None:
        self.rec = rec
        self.fields = fields

    provider = property(lambda self: self.rec.get("provider", ""))
    name = property(lambda self: self.rec.get("event", ""))
    kind = property(lambda self: self.rec.get("type", ""))
    keywords = property(lambda self: tuple(self.rec.get("keywords") or ()))
    id = property(lambda self: self.rec.get("id", 0))
    level = property(lambda self: self.rec.get("level", 4))
    seq = property(lambda self: self.rec.get("seq", 0))
    pid = property(lambda self: self.rec.get("pid", 0))
    tid = property(lambda self: self.rec.get("tid", 0))
    # never read: filters on the message or the time decode the whole event (_DECODED)
    time_ns = property(lambda self: 0)
    message = property(lambda self: "")


_THREADS = 2  # scanner threads (the C scan is bound by memory and page faults)
_AHEAD = 4  # windows in flight


class _Decided(NamedTuple):
    """A window decided by the scanner: matching line starts (uint64 bytes), undecided
    lines and loss records (packed offset, line)."""

    row0: int
    end_row: int
    p0: int
    match: bytes
    lines: list[tuple[int, bytes]]
    lost_lines: list[tuple[int, bytes]]


class _FilterWorker:
    """Finds the rows a filter keeps, in order, following the index as it grows."""

    def __init__(self, rows: LogRows, flt: EventFilter, scan: ModuleType | None = None,
                 decide: bool = True) -> None:
        """``scan``: the scanner module (default: C if built); ``decide``: let it decide
        a ``field == value`` filter's candidates (False: all decoded, the reference)."""
        self.rows = rows
        self.index = rows.ring
        self.matches = flt.event_predicate()
        self.raw = _raw_predicate(flt, rows.ring)
        self.groups = literal_groups(flt)
        #: loss records stay in view under a display filter (gaps are never hidden)
        self.lost_shown = flt.expr is not None
        # search for the rarest part: a value beats a name; field names come last
        key = min(self.groups, key=_rarity, default=[b""])
        #: the groups a candidate must still be checked for (it contains one of ``key``'s)
        self.rest = [g for g in self.groups if g is not key]
        self.key = key
        self.scan = scan if scan is not None else scanner()
        #: (key, text, number, max_level) when the scanner's field_equals decides candidates
        fast = _equality(flt) if decide and self.raw is not None and not self.rest and \
            len(key) == 1 else None
        self.fast = (*fast, flt.max_level) if fast is not None else None
        self._pool: ThreadPoolExecutor | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="traceview-filter", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def _run(self) -> None:
        try:
            self._follow()
        except (OSError, ValueError, IndexError):
            self._stop.set()  # the log was closed or cut under the scan: it ends here
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=False, cancel_futures=True)

    def _follow(self) -> None:
        index = self.index
        decode = index.reader.decode
        while not self._stop.is_set():
            stop = index.indexed
            if self.rows._scanned < stop:
                if index.ordered:
                    self._scan_bytes(self.rows._scanned, stop, decode)
                else:
                    self._scan_rows(self.rows._scanned, stop)
                continue
            if index.done and not index.follow:
                return
            self._stop.wait(0.1)

    def _keep(self, line: bytes, decode: Callable[[bytes], Event | None],
              groups: list[list[bytes]] | None = None) -> bool:
        """The filter keeps ``line``: every literal group present, then the exact test
        (``groups``: those still to check, all of them unless given)."""
        if self.lost_shown and line.startswith(_LOST):
            return self._test(line, decode)
        for g in self.groups if groups is None else groups:
            if len(g) == 1:
                if g[0] not in line:
                    return False
            elif not any(lit in line for lit in g):
                return False
        return self._test(line, decode)

    def _test(self, line: bytes, decode: Callable[[bytes], Event | None]) -> bool:
        """The filter's exact test of one line."""
        if self.raw is not None:
            try:
                rec = orjson.loads(line)
            except orjson.JSONDecodeError:
                return False
            return isinstance(rec, dict) and self.raw(rec)
        ev = decode(line)
        return ev is not None and self.matches(ev)

    def _scan_rows(self, first: int, stop: int) -> None:
        """Row by row (a circular log's rows are out of file order)."""
        found = array("Q")
        for i in range(first, stop):
            if self._stop.is_set():
                return
            if self._keep(self.index.line(i), self.index.reader.decode) or \
                    (not self.groups and self.matches(self.index.event(i))):
                found.append(i)
            if len(found) >= 256 or i == stop - 1:
                self.rows._matches.extend(found)
                found = array("Q")
                self.rows._scanned = i + 1

    def _scan_bytes(self, first: int, stop: int,
                    decode: Callable[[bytes], Event | None]) -> None:
        """Mapped windows of whole lines: literal search first (the scanner: C without the
        GIL when built), then the exact test of each candidate; a ``field == value``
        filter's candidates are decided by the scanner too (``_scan_parallel``)."""
        index = self.index
        if not self.groups:
            for row0, p0, buf in index.chunks(first, stop):
                if self._stop.is_set():
                    return
                self.rows._matches.extend(self._every_line(buf, row0, decode))
                self.rows._scanned = index.row_at(p0 + len(buf) - 1, row0, stop) + 1
            return
        if self.fast is not None:
            self._scan_parallel(first, stop, decode)
            return
        for row0, end_row, p0, view in index.windows(first, stop):
            if self._stop.is_set():
                return
            found = self._candidates(view, p0, row0, end_row, decode)
            lost = index.lost_offsets(p0, p0 + len(view)) if self.lost_shown else ()
            if lost:
                found = array("Q", sorted({*found, *self._lost_rows(view, p0, lost, row0,
                                                                    end_row, decode)}))
            self.rows._matches.extend(found)
            self.rows._scanned = end_row

    def _scan_parallel(self, first: int, stop: int,
                       decode: Callable[[bytes], Event | None]) -> None:
        """A ``field == value`` filter: windows decided by the scanner on a pool of threads
        (C releases the GIL: the cores share the scan), taken in order here."""
        if self._pool is None:
            self._pool = ThreadPoolExecutor(_THREADS, thread_name_prefix="traceview-scan")
        ahead: deque[Future[_Decided]] = deque()
        spans = self.index.window_spans(first, stop)
        while not self._stop.is_set():
            span = next(spans, None)
            if span is not None:
                ahead.append(self._pool.submit(self._decide, span))
                if len(ahead) < _AHEAD:
                    continue
            if not ahead:
                return
            self._take(ahead.popleft().result(), decode)
        for future in ahead:
            future.cancel()

    def _decide(self, span: tuple[int, int, int, int, int, int]) -> _Decided:
        """One window: the rows the scanner keeps, and the lines it leaves to ``_take``."""
        row0, end_row, p0, fno, start, end = span
        assert self.fast is not None
        with self.index.mapped(fno, start, end) as view:
            match, unsure = self.scan.field_equals(view, self.key[0], *self.fast)
            lines = [(p0 + s, _line(view, s)) for s in array("Q", unsure)]
            lost = self.index.lost_offsets(p0, p0 + len(view)) if self.lost_shown else []
            lost_lines = [(at, _line(view, at - p0)) for at in lost]
        return _Decided(row0, end_row, p0, match, lines, lost_lines)

    def _take(self, d: _Decided, decode: Callable[[bytes], Event | None]) -> None:
        """Add a decided window's rows (and those of its undecided lines) to the matches."""
        index = self.index
        rows = array("Q", self.scan.rows_at(index.offsets, d.match, d.p0, d.row0, d.end_row))
        extra = [index.row_starting_at(at, d.row0, d.end_row) for at, line in d.lines
                 if self._keep(line, decode, self.rest)]
        extra += [index.row_starting_at(at, d.row0, d.end_row) for at, line in d.lost_lines
                  if self._test(line, decode)]
        extra = [r for r in extra if r >= 0]
        if extra:
            rows = array("Q", sorted({*rows, *extra}))
        self.rows._matches.extend(rows)
        self.rows._scanned = d.end_row

    def _candidates(self, view: memoryview, p0: int, row0: int, end_row: int,
                    decode: Callable[[bytes], Event | None]) -> array[int]:
        """Rows in ``view`` the filter keeps (``p0``: the packed offset of its start)."""
        scan = self.scan
        rows = array("Q")
        if len(self.key) == 1:
            starts = scan.find_lines(view, self.key[0])
        else:  # lines holding any of the alternatives
            starts = array("Q", sorted(set().union(*(array("Q", scan.find_lines(view, lit))
                                                     for lit in self.key)))).tobytes()
        extra: list[int] = []
        keep, rest, row_at = self._keep, self.rest, self.index.row_starting_at
        for start in array("Q", starts):  # left undecided: the exact test in Python
            if keep(_line(view, start), decode, rest):
                row = row_at(p0 + start, row0, end_row)
                if row >= 0:
                    extra.append(row)
        if extra:
            rows = array("Q", sorted({*rows, *extra}))
        return rows

    def _lost_rows(self, view: memoryview, p0: int, lost: list[int], row0: int,
                   end_row: int, decode: Callable[[bytes], Event | None]) -> list[int]:
        """Rows of the loss records in ``view`` (at packed ``lost``) the filter keeps."""
        found: list[int] = []
        for at in lost:
            if self._test(_line(view, at - p0), decode):
                row = self.index.row_starting_at(at, row0, end_row)
                if row >= 0:
                    found.append(row)
        return found

    def _every_line(self, buf: bytes, row0: int,
                    decode: Callable[[bytes], Event | None]) -> list[int]:
        found: list[int] = []
        row = row0
        for line in buf.split(b"\n"):
            if not line.strip() or line.startswith(b'{"type":"manifest"'):
                continue
            ev = decode(line)
            if ev is not None and self.matches(ev):
                found.append(row)
            row += 1
        return found


def _line(view: memoryview, start: int) -> bytes:
    """The line starting at ``start`` in ``view`` (without its newline)."""
    m = _EOL.search(view, start)
    return bytes(view[start:m.start() if m is not None else len(view)])


def _equality(flt: EventFilter) -> tuple[bytes, bytes, object] | None:
    """(key, text, number) of a filter that is one ``field == value`` (with a level),
    as ``field_equals`` reads it; None for any other filter.

    The value is read as the compiled filter reads it (``value_of``); fields that hold
    bytes (base64 in the log) are left out, as are names JSON would escape.
    """
    from tracer._dfilter_fields import META, value_of
    from tracer._dfilter_parse import Compare

    expr = flt.expr
    if expr is None or flt.providers or flt.events or flt.keywords or flt.text or \
            flt.conditions:
        return None
    node = expr.node
    if not isinstance(node, Compare) or node.op != "==" or node.field.name in META:
        return None
    name = node.field.name
    types = expr.table.types.get(name)
    if types is not None and "bytes" in types:
        return None
    key = orjson.dumps(name)[1:-1]
    try:
        if key != name.encode():
            return None
        value = value_of(node.value, frozenset(types) if types is not None else None, name)
        text = node.value.text.encode()
    except (UnicodeEncodeError, ValueError):
        return None
    return key, text, value.number
