"""Rendering buffered records as JSON lines, through a structlog processor chain.

A record is the tuple ``(time_ns, event index, args, tid)`` that ``EventType.write``
appends to a session buffer. The file backend turns a batch of them into JSON lines.
With no user processors the chain is just the JSON renderer, and a per-event-type
precompiled renderer produces byte-identical output several times faster; as soon
as a user adds processors, every line goes through structlog's chain.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import structlog

from ._event import LOST_EVENT_NAME, Event, lost_message
from ._fields import encode_default
from ._levels import Level
from ._provider import EVENT_TABLE, EventType

__all__ = ["Processor", "Renderer", "native_tid"]

Processor = Callable[[Any, str, dict[str, Any]], Any]
_dumps = orjson.dumps


def native_tid(ident: int) -> int:
    """Map a ``threading.get_ident()`` value to the OS thread id, if the thread is known."""
    thread = threading._active.get(ident)  # type: ignore[attr-defined]
    native = getattr(thread, "native_id", None)
    return native if native is not None else ident


def _second_prefix(sec: int) -> bytes:
    """``{"type":"event","time":"2026-11-22T02:20:00.`` for one whole second."""
    stamp = datetime.fromtimestamp(sec, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
    return b'{"type":"event","time":"' + stamp.encode()


def _iso(ns: int) -> str:
    sec, frac = divmod(ns, 1_000_000_000)
    return _second_prefix(sec)[24:].decode() + f"{frac:09d}Z"


def safe_json(fields: dict[str, Any]) -> bytes:
    """JSON for fields orjson refuses: keys made strings, odd values via ``str``."""
    try:
        return _dumps(fields, default=encode_default, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, ValueError):
        pass
    try:
        return json.dumps(fields, default=encode_default, ensure_ascii=False,
                          skipkeys=True).encode()
    except (TypeError, ValueError, RecursionError):
        return _dumps({"_unrenderable": repr(fields)[:4096]})


def _fields_builder(names: tuple[str, ...]) -> Callable[[tuple], dict[str, Any]]:
    """Compile ``args -> {name: args[i]}`` for one event type (faster than dict(zip))."""
    body = ", ".join(f"{name!r}: a[{i}]" for i, name in enumerate(names))
    return eval(f"lambda a: {{{body}}}")


class _EventCodec:
    """Precomputed pieces to render one event type."""

    __slots__ = ("build", "ev", "line", "local", "n")

    def __init__(self, ev: EventType) -> None:
        self.ev = ev
        self.n = len(ev.fields)
        self.local = ev.provider.local_threads
        self.build = _fields_builder(ev.fields)
        self.line = (b'%s%09dZ","seq":%d,"provider":' + _dumps(ev.provider.name) + b',"event":'
                     + _dumps(ev.name) + b',"id":' + str(ev.id).encode() + b',"level":'
                     + str(ev.level).encode() + b',"keywords":' + _dumps(list(ev.keyword_names))
                     + b',"pid":' + str(ev.provider.pid).encode()
                     + b',"tid":%d,"fields":%s}')

    def fields(self, args: tuple) -> dict[str, Any]:
        if len(args) == self.n:
            return self.build(args)
        out = dict(zip(self.ev.fields, args, strict=False))
        if len(args) > self.n:
            out["_extra"] = list(args[self.n:])
        return out


class Renderer:
    """Turns records into JSON lines and/or :class:`Event` objects for one session."""

    def __init__(self, session: str, processors: Sequence[Processor] = ()) -> None:
        self.session = session
        self.processors = list(processors)
        self._json = structlog.processors.JSONRenderer(serializer=_dumps, default=encode_default)
        self._codecs: dict[int, _EventCodec] = {}
        self._tids: dict[int, int] = {}
        self._sec = -1
        self._prefix = b""

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
               want_events: bool) -> tuple[list[bytes], list[Event]]:
        """Render a batch whose first record gets sequence ``first_seq``."""
        if self.processors and want_lines:
            return self._render_chain(records, first_seq, want_events)
        lines: list[bytes] = []
        events: list[Event] = []
        add_line, add_event = lines.append, events.append
        codecs, tids = self._codecs, self._tids
        tids.clear()  # thread idents may be reused between batches
        last_sec, prefix = self._sec, self._prefix
        seq = first_seq
        for ts, index, args, tid in records:
            codec = codecs.get(index) or self._codec(index)
            fields = codec.build(args) if len(args) == codec.n else codec.fields(args)
            if codec.local:
                tid = tids.get(tid) or tids.setdefault(tid, native_tid(tid))
            if want_lines:
                sec, frac = divmod(ts, 1_000_000_000)
                if sec != last_sec:
                    last_sec, prefix = sec, _second_prefix(sec)
                try:
                    body = _dumps(fields, default=encode_default)
                except (TypeError, ValueError):  # e.g. non-string keys, ints beyond 64 bits
                    body = safe_json(fields)
                add_line(codec.line % (prefix, frac, seq, tid, body))
            if want_events:
                ev = codec.ev
                add_event(Event(time_ns=ts, seq=seq, provider=ev.provider.name, name=ev.name,
                                id=ev.id, level=ev.level, keywords=ev.keyword_names,
                                pid=ev.provider.pid, tid=tid, fields=fields,
                                template=ev.template, session=self.session))
            seq += 1
        self._sec, self._prefix = last_sec, prefix
        return lines, events

    def _render_chain(self, records: Sequence[tuple], seq: int,
                      want_events: bool) -> tuple[list[bytes], list[Event]]:
        """The general path: every line goes through the user's structlog processors."""
        lines: list[bytes] = []
        events: list[Event] = []
        for ts, index, args, tid in records:
            codec = self._codec(index)
            ev = codec.ev
            fields = codec.fields(args)
            if codec.local:
                tid = native_tid(tid)
            lines.append(self._chain(self._event_dict(ts, seq, ev, tid, fields)))
            if want_events:
                events.append(Event(time_ns=ts, seq=seq, provider=ev.provider.name,
                                    name=ev.name, id=ev.id, level=ev.level,
                                    keywords=ev.keyword_names, pid=ev.provider.pid, tid=tid,
                                    fields=fields, template=ev.template, session=self.session))
            seq += 1
        return lines, events

    def _event_dict(self, ts: int, seq: int, ev: EventType, tid: int,
                    fields: dict[str, Any]) -> dict[str, Any]:
        return {"type": "event", "time": _iso(ts), "seq": seq,
                "provider": ev.provider.name, "event": ev.name, "id": ev.id, "level": ev.level,
                "keywords": list(ev.keyword_names), "pid": ev.provider.pid, "tid": tid,
                "fields": fields}

    def _chain(self, event_dict: dict[str, Any]) -> bytes:
        ed: Any = event_dict
        for proc in self.processors:
            ed = proc(None, "msg", ed)
        try:
            ed = self._json(None, "msg", ed)
        except (TypeError, ValueError):
            ed = safe_json(ed)
        return ed.encode() if isinstance(ed, str) else bytes(ed)

    def lost(self, seq: int, count: int, first_ns: int, last_ns: int,
             pid: int) -> tuple[bytes, Event]:
        """The in-band record for ``count`` events dropped between two times."""
        fields = {"count": count, "first_ns": first_ns, "last_ns": last_ns}
        event_dict = {"type": "lost", "time": _iso(last_ns), "seq": seq,
                      "provider": "", "event": LOST_EVENT_NAME, "id": 0,
                      "level": int(Level.WARNING), "keywords": [], "pid": pid, "tid": 0,
                      "fields": fields, "message": lost_message(fields)}
        event = Event(time_ns=last_ns, seq=seq, provider="", name=LOST_EVENT_NAME, id=0,
                      level=int(Level.WARNING), keywords=(), pid=pid, tid=0, fields=fields,
                      kind="lost", session=self.session)
        return self._chain(event_dict), event
