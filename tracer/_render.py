"""Rendering buffered records as JSON lines, through a structlog processor chain.

A record is the flat tuple ``(time_ns, event index, tid, *args)`` that ``EventType.write``
appends to a session buffer (flat, so the garbage collector untracks it at its first
pass). An event whose first field is ``@timestamp`` carries its own time (the packet's):
that becomes the line's ``time`` and the record's write time its ``created``; other
events' ``time`` is the write time. The file backend turns a batch of them into JSON
lines. With no user processors the chain is just the JSON renderer, and a per-event-type
precompiled renderer writes byte-identical lines several times faster: the optional C
module ``tracer._speedups`` when it was built, else Python that encodes the fields from
a msgspec Struct, never through a dict. As soon as a user adds processors, every line
goes through structlog's chain.

JSON encoding is msgspec's everywhere (bytes become base64, as msgspec encodes them).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

import msgspec
import structlog

from ._accel import SPEEDUPS
from ._event import LOST_EVENT_NAME, Event, iso_time, lost_message
from ._fields import encode_default, param_name
from ._levels import Level
from ._provider import EVENT_TABLE, EventType

__all__ = ["SPEEDUPS", "Processor", "Renderer", "dumps", "native_tid", "safe_json"]

Processor = Callable[[Any, str, dict[str, Any]], Any]
_encoder = msgspec.json.Encoder(enc_hook=encode_default)
_ENCODE_ERRORS = (TypeError, ValueError, OverflowError, msgspec.EncodeError)


def dumps(obj: Any, default: Any = None, **_: Any) -> bytes:
    """JSON bytes, the way every wfptrace log line is encoded (structlog serializer)."""
    return _encoder.encode(obj)


def native_tid(ident: int) -> int:
    """Map a ``threading.get_ident()`` value to the OS thread id, if the thread is known."""
    # threading._active (not in typeshed) is the only lookup by ident that is not O(threads)
    thread = threading._active.get(ident)  # type: ignore[attr-defined]
    native = getattr(thread, "native_id", None)
    return native if native is not None else ident


def _second_prefix(sec: int) -> str:
    """``2026-11-22T02:20:00.`` for one whole second (the fraction follows)."""
    return datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.")


_SECOND = 1_000_000_000
_INDEX, _TID = itemgetter(1), itemgetter(2)
_EVENT = msgspec.Raw(b'"event"')


class _Line(msgspec.Struct, gc=False):
    """One event line. ``provider`` is pre-encoded JSON that carries the constant
    members from the provider's name to the pid (msgspec copies a Raw verbatim)."""

    type: msgspec.Raw
    time: str
    seq: int
    provider: msgspec.Raw
    tid: int
    fields: Any


class _TimedLine(msgspec.Struct, gc=False):
    """The line of an event that carries its own time: ``created`` is the write time."""

    type: msgspec.Raw
    time: str
    created: str
    seq: int
    provider: msgspec.Raw
    tid: int
    fields: Any


def safe_json(fields: Any) -> bytes:
    """JSON for values msgspec refuses (huge ints, odd keys): stdlib json, then repr."""
    try:
        return json.dumps(fields, default=encode_default, ensure_ascii=False,
                          skipkeys=True, separators=(",", ":")).encode()
    except (TypeError, ValueError, RecursionError):
        return _encoder.encode({"_unrenderable": repr(fields)[:4096]})


def _fields_builder(names: tuple[str, ...]) -> Callable[[Sequence[Any]], dict[str, Any]]:
    """Compile ``args -> {name: args[i]}`` for one event type (faster than dict(zip))."""
    body = ", ".join(f"{name!r}: a[{i}]" for i, name in enumerate(names))
    return eval(f"lambda a: {{{body}}}")  # names are validated identifiers


def _fields_struct(names: tuple[str, ...]) -> type | None:
    """A msgspec Struct whose JSON is the fields object (None if names do not allow it);
    its attributes are the Python names, encoded under the wire names."""
    try:
        return msgspec.defstruct(
            "Fields", [(param_name(n), Any, msgspec.field(name=n)) for n in names], gc=False)
    except (TypeError, ValueError):
        return None


def _encode_lines(lines: list[_Line | _TimedLine]) -> bytearray:
    """JSON lines in one call; a line msgspec refuses gets its fields via :func:`safe_json`."""
    try:
        return bytearray(_encoder.encode_lines(lines))
    except _ENCODE_ERRORS:  # e.g. ints beyond 64 bits: find the culprits line by line
        out = bytearray()
        for line in lines:
            mark = len(out)
            try:
                _encoder.encode_into(line, out, -1)
            except _ENCODE_ERRORS:
                del out[mark:]
                fields = line.fields
                if isinstance(fields, msgspec.Struct):
                    fields = msgspec.structs.asdict(fields)
                line.fields = msgspec.Raw(safe_json(fields))
                _encoder.encode_into(line, out, -1)
            out += b"\n"
        return out


class _EventCodec:
    """Precomputed pieces to render one event type."""

    __slots__ = ("build", "c_spec", "ev", "id", "keywords", "level", "local", "middle", "n",
                 "n_struct", "name", "names", "pid", "provider", "skip", "struct", "template")

    def __init__(self, ev: EventType) -> None:
        self.ev = ev
        # the Event envelope, read once per record (see event())
        self.provider, self.name, self.id = ev.provider.name, ev.name, ev.id
        self.level, self.keywords, self.pid = ev.level, ev.keyword_names, ev.provider.pid
        self.template = ev.template
        #: Arguments before the fields object's: 1 for the event's own @timestamp.
        self.skip = 1 if ev.timed else 0
        self.names = ev.fields[self.skip:]
        self.n = len(self.names)
        self.local = ev.provider.local_threads
        self.build = _fields_builder(self.names)
        struct = _fields_struct(self.names)
        self.n_struct = self.n if struct is not None else -1  # args that fit the Struct
        #: The fields object from ``*args``: the Struct, or (never reached, as n_struct
        #: then matches no record) the dict for an event type whose names allow none
        build = self.build
        self.struct: Callable[..., Any] = (struct if struct is not None
                                           else lambda *args: build(args))
        middle = (dumps(ev.provider.name) + b',"event":' + dumps(ev.name) + b',"id":'
                  + str(ev.id).encode() + b',"level":' + str(ev.level).encode()
                  + b',"keywords":' + dumps(list(ev.keyword_names)) + b',"pid":'
                  + str(ev.provider.pid).encode())
        self.middle = msgspec.Raw(middle)
        #: What the C renderer needs: the constant members, each field's key, local tids.
        self.c_spec = (middle, tuple(dumps(name) + b":" for name in self.names), self.local,
                       bool(self.skip))

    def times(self, ts: int, args: Sequence[Any]) -> tuple[int, int]:
        """(event time, write time if the event carries its own time else 0)."""
        if self.skip and args and type(args[0]) is int:
            return args[0], ts
        return ts, 0

    def event(self, ts: int, seq: int, tid: int, args: Sequence[Any], session: str) -> Event:
        """The decoded Event a real-time consumer receives (``ts``: the write time;
        positional: the hot path)."""
        if self.skip:
            time_ns, created = self.times(ts, args)
            return Event(time_ns, seq, self.provider, self.name, self.id, self.level,
                         self.keywords, self.pid, tid, self.fields(args), self.template,
                         "event", session, created)
        return Event(ts, seq, self.provider, self.name, self.id, self.level, self.keywords,
                     self.pid, tid, self.fields(args), self.template, "event", session)

    def fields(self, args: Sequence[Any]) -> dict[str, Any]:
        """The fields object of a record's arguments (without its @timestamp)."""
        if self.skip:
            args = args[self.skip:]
        if len(args) == self.n:
            return self.build(args)
        out = dict(zip(self.names, args, strict=False))
        if len(args) > self.n:
            out["_extra"] = list(args[self.n:])
        return out


class Renderer:
    """Turns records into JSON lines and/or :class:`Event` objects for one session."""

    def __init__(self, session: str, processors: Sequence[Processor] = ()) -> None:
        self.session = session
        self.processors = list(processors)
        self._json = structlog.processors.JSONRenderer(serializer=dumps)
        self._codecs: dict[int, _EventCodec] = {}
        self._c_specs: dict[int, tuple] = {}
        self._tids: dict[int, int] = {}
        self._base = -(1 << 80)  # no real time is within a second of it
        self._prefix = ""
        #: thread ident -> OS thread id for local providers (a render child replaces it)
        self.native_tid: Callable[[int], int] = native_tid

    @property
    def fast(self) -> bool:
        """True when the chain has no user processors (the precompiled path applies)."""
        return not self.processors

    def _codec(self, index: int) -> _EventCodec:
        codec = self._codecs.get(index)
        if codec is None:
            codec = self._codecs[index] = _EventCodec(EVENT_TABLE[index])
        return codec

    def render(self, records: Sequence[tuple], first_seq: int, want_lines: bool,
               want_events: bool) -> tuple[bytearray, list[Event]]:
        """Render a batch whose first record gets sequence ``first_seq``.

        Returns the JSON lines (each ending in a newline) in one buffer, and the
        decoded events when ``want_events``.
        """
        if self.processors and want_lines:
            return self._render_chain(records, first_seq, want_events)
        if want_lines and SPEEDUPS is not None:
            blob = self._render_c(records, first_seq)
            if blob is not None:
                if not want_events:
                    return blob, []
                return blob, self.render(records, first_seq, False, True)[1]
        lines: list[_Line | _TimedLine] = []
        events: list[Event] = []
        add_line, add_event = lines.append, events.append
        codecs, tids, native = self._codecs, self._tids, self.native_tid
        tids.clear()  # thread idents may be reused between batches
        base, prefix = self._base, self._prefix  # the second now cached, in ns
        seq = first_seq
        for rec in records:
            ts, index, tid = rec[0], rec[1], rec[2]
            args = rec[3:]
            codec = codecs.get(index) or self._codec(index)
            if codec.local:
                tid = tids.get(tid) or tids.setdefault(tid, native(tid))
            if want_lines:
                if codec.skip:
                    add_line(self._timed_line(codec, ts, seq, tid, args))
                    seq += 1
                    if want_events:
                        add_event(codec.event(ts, seq - 1, tid, args, self.session))
                    continue
                frac = ts - base
                if not 0 <= frac < _SECOND:
                    base = ts - ts % _SECOND
                    prefix, frac = _second_prefix(base // _SECOND), ts - base
                fields = (codec.struct(*args) if len(args) == codec.n_struct
                          else codec.fields(args))
                # str(frac + 10**9)[1:] is the zero-padded fraction, faster than "%09d"
                add_line(_Line(_EVENT, prefix + str(frac + _SECOND)[1:] + "Z", seq,
                               codec.middle, tid, fields))
            if want_events:
                add_event(codec.event(ts, seq, tid, args, self.session))
            seq += 1
        self._base, self._prefix = base, prefix
        return (_encode_lines(lines) if lines else bytearray()), events

    @staticmethod
    def _timed_line(codec: _EventCodec, ts: int, seq: int, tid: int,
                    args: Sequence[Any]) -> _Line | _TimedLine:
        """The line of an event that carries its own time (``ts``: the write time)."""
        time_ns, created = codec.times(ts, args)
        rest = args[1:]
        fields = codec.struct(*rest) if len(rest) == codec.n_struct else codec.fields(args)
        if created:
            return _TimedLine(_EVENT, iso_time(time_ns), iso_time(created), seq, codec.middle,
                              tid, fields)
        return _Line(_EVENT, iso_time(time_ns), seq, codec.middle, tid, fields)

    def _render_c(self, records: Sequence[tuple], first_seq: int) -> bytearray | None:
        """The lines through the C renderer; None if it refused a value (Python then)."""
        specs = self._c_specs
        for index in set(map(_INDEX, records)):
            if index not in specs:
                specs[index] = self._codec(index).c_spec
        native = self.native_tid
        tids = {ident: native(ident) for ident in set(map(_TID, records))}
        try:
            return SPEEDUPS.render_lines(records, first_seq, specs, tids, _encoder.encode)
        except Exception:  # e.g. an int beyond 64 bits: the Python path has the fallbacks
            return None

    def _render_chain(self, records: Sequence[tuple], seq: int,
                      want_events: bool) -> tuple[bytearray, list[Event]]:
        """The general path: every line goes through the user's structlog processors."""
        out = bytearray()
        events: list[Event] = []
        for rec in records:
            ts, index, tid = rec[0], rec[1], rec[2]
            args = rec[3:]
            codec = self._codec(index)
            ev = codec.ev
            fields = codec.fields(args)
            if codec.local:
                tid = self.native_tid(tid)
            time_ns, created = codec.times(ts, args)
            out += self._chain(self._event_dict(time_ns, created, seq, ev, tid, fields)) + b"\n"
            if want_events:
                events.append(codec.event(ts, seq, tid, args, self.session))
            seq += 1
        return out, events

    def _event_dict(self, ts: int, created: int, seq: int, ev: EventType, tid: int,
                    fields: dict[str, Any]) -> dict[str, Any]:
        times = {"time": iso_time(ts), "created": iso_time(created)} if created else {
            "time": iso_time(ts)}
        return {"type": "event", **times, "seq": seq,
                "provider": ev.provider.name, "event": ev.name, "id": ev.id, "level": ev.level,
                "keywords": list(ev.keyword_names), "pid": ev.provider.pid, "tid": tid,
                "fields": fields}

    def _chain(self, event_dict: dict[str, Any]) -> bytes:
        ed: Any = event_dict
        for proc in self.processors:
            ed = proc(None, "msg", ed)
        try:
            ed = self._json(None, "msg", ed)
        except _ENCODE_ERRORS:
            ed = safe_json(ed)
        return ed.encode() if isinstance(ed, str) else bytes(ed)

    def lost(self, seq: int, count: int, first_ns: int, last_ns: int,
             pid: int, reasons: dict[str, int] | None = None) -> tuple[bytes, Event]:
        """The in-band record (one line, no newline) for ``count`` dropped events, and
        why (``reasons``: count by reason)."""
        fields: dict[str, Any] = {"count": count, "first_ns": first_ns, "last_ns": last_ns}
        if reasons:
            fields["reasons"] = dict(reasons)
        event_dict = {"type": "lost", "time": iso_time(last_ns), "seq": seq,
                      "provider": "", "event": LOST_EVENT_NAME, "id": 0,
                      "level": int(Level.WARNING), "keywords": [], "pid": pid, "tid": 0,
                      "fields": fields, "message": lost_message(fields)}
        event = Event(time_ns=last_ns, seq=seq, provider="", name=LOST_EVENT_NAME, id=0,
                      level=int(Level.WARNING), keywords=(), pid=pid, tid=0, fields=fields,
                      kind="lost", session=self.session)
        return self._chain(event_dict), event
