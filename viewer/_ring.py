"""A bounded, columnar ring of events: the view's storage, compact enough for 1M events.

Each event costs a few fixed-size array slots plus one JSON ``bytes`` of its
fields (about 150-200 bytes in all) instead of a full :class:`tracer.Event` with
its dict. Rows are addressed by an absolute index that only grows; the oldest
events are overwritten once the ring is full and counted in :attr:`dropped`.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from tracer import Event
from tracer._fields import encode_default

__all__ = ["DEFAULT_CAPACITY", "EventRing", "Schema"]

DEFAULT_CAPACITY = 1_000_000


@functools.cache
def fields_encoder() -> Callable[[Any], bytes]:
    """The JSON encoder of an event's fields (made on first use: opening a log needs none).

    msgspec, not orjson: orjson's result keeps a ~4 KB buffer per object, msgspec's is
    exact. Bytes become base64, as in the log files.
    """
    import msgspec
    return msgspec.json.Encoder(enc_hook=encode_default).encode


class Schema:
    """What events of one type share: provider, name, id, template, keywords, kind."""

    __slots__ = ("id", "keywords", "kind", "name", "provider", "template")

    def __init__(self, provider: str, name: str, id: int, template: str,
                 keywords: tuple[str, ...], kind: str) -> None:
        self.provider = provider
        self.name = name
        self.id = id
        self.template = template
        self.keywords = keywords
        self.kind = kind


class EventRing:
    """Fixed-capacity event storage; ``append`` overwrites the oldest when full."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("ring capacity must be >= 1")
        self.capacity = capacity
        self.total = 0  # events ever appended; the next absolute index
        self._floor = 0  # events before this index were cleared
        self.overwritten = 0  # events lost to a full ring
        self.schemas: list[Schema] = []
        self._schema_ids: dict[tuple, int] = {}
        self.providers: dict[str, int] = {}  # provider name -> events seen (ever)
        # Columns grow with use up to the capacity, then wrap (no 1M-slot cost up front).
        self._seq = array("q")
        self._time = array("q")
        self._tid = array("Q")
        self._pid = array("l")
        self._schema = array("l")
        self._level = array("B")  # 0-255, as the reader accepts
        self._fields: list[bytes | None] = []

    # -- bounds -------------------------------------------------------------------------
    @property
    def start(self) -> int:
        """The absolute index of the oldest event still held."""
        return max(self._floor, self.total - self.capacity)

    @property
    def dropped(self) -> int:
        """Events overwritten because the ring was full."""
        return self.overwritten

    def __len__(self) -> int:
        return self.total - self.start

    def holds(self, index: int) -> bool:
        """True if the absolute index is still in the ring."""
        return self.start <= index < self.total

    # -- writing ------------------------------------------------------------------------
    def _schema_of(self, ev: Event) -> int:
        key: tuple[str, ...] = (ev.provider, ev.name, ev.kind)
        sid = self._schema_ids.get(key)
        if sid is not None:
            s = self.schemas[sid]
            if s.template is ev.template or s.template == ev.template:
                return sid
            key = (*key, ev.template)
            sid = self._schema_ids.get(key)
            if sid is not None:
                return sid
        sid = self._schema_ids[key] = len(self.schemas)
        self.schemas.append(Schema(ev.provider, ev.name, ev.id, ev.template, ev.keywords,
                                   ev.kind))
        return sid

    def extend(self, events: Iterable[Event]) -> int:
        """Append events; return how many were appended."""
        grown = 0
        if len(self._fields) < self.capacity:
            before = self.total
            events = self._grow(events)
            grown = self.total - before
            if not events:
                return grown
        cap = self.capacity
        pos = self.total % cap
        n = 0
        dumps = fields_encoder()
        providers = self.providers
        for ev in events:
            self._seq[pos] = ev.seq
            self._time[pos] = ev.time_ns
            self._tid[pos] = ev.tid if ev.tid >= 0 else 0
            self._pid[pos] = ev.pid
            self._level[pos] = ev.level
            self._schema[pos] = self._schema_of(ev)
            self._fields[pos] = dumps(ev.fields)
            providers[ev.provider] = providers.get(ev.provider, 0) + 1
            n += 1
            pos += 1
            if pos == cap:
                pos = 0
        over = self.total + n - self.capacity - max(self._floor, self.total - self.capacity)
        self.overwritten += max(0, min(n, over))
        self.total += n
        return grown + n

    def _grow(self, events: Iterable[Event]) -> list[Event]:
        """Append to the still-growing columns; return the events that did not fit."""
        events = events if isinstance(events, list) else list(events)
        room = self.capacity - len(self._fields)
        head, rest = events[:room], events[room:]
        providers = self.providers
        dumps = fields_encoder()
        for ev in head:
            self._seq.append(ev.seq)
            self._time.append(ev.time_ns)
            self._tid.append(ev.tid if ev.tid >= 0 else 0)
            self._pid.append(ev.pid)
            self._level.append(ev.level)
            self._schema.append(self._schema_of(ev))
            self._fields.append(dumps(ev.fields))
            providers[ev.provider] = providers.get(ev.provider, 0) + 1
        self.total += len(head)
        return rest

    def append(self, event: Event) -> None:
        """Append one event."""
        self.extend((event,))

    # -- reading ------------------------------------------------------------------------
    def _pos(self, index: int) -> int:
        if not self.start <= index < self.total:
            raise IndexError(f"event {index} is not in the ring")
        return index % self.capacity

    def level(self, index: int) -> int:
        """The level of the event at an absolute index."""
        return self._level[self._pos(index)]

    def schema(self, index: int) -> Schema:
        """The schema (provider, name, template...) of the event at an absolute index."""
        return self.schemas[self._schema[self._pos(index)]]

    def seq(self, index: int) -> int:
        """The sequence number of the event at an absolute index."""
        return self._seq[self._pos(index)]

    def time_ns(self, index: int) -> int:
        """The time of the event at an absolute index."""
        return self._time[self._pos(index)]

    def raw_fields(self, index: int) -> bytes:
        """The event's fields as JSON bytes (cheap to scan for text)."""
        return self._fields[self._pos(index)] or b"{}"

    def fields(self, index: int) -> dict[str, Any]:
        """The event's fields, decoded."""
        return orjson.loads(self.raw_fields(index))

    def event(self, index: int) -> Event:
        """The event at an absolute index as a :class:`tracer.Event`."""
        pos = self._pos(index)
        s = self.schemas[self._schema[pos]]
        return Event(time_ns=self._time[pos], seq=self._seq[pos], provider=s.provider,
                     name=s.name, id=s.id, level=self._level[pos], keywords=s.keywords,
                     pid=self._pid[pos], tid=self._tid[pos],
                     fields=orjson.loads(self._fields[pos] or b"{}"), template=s.template,
                     kind=s.kind)

    def clear(self) -> None:
        """Forget every event (the absolute index keeps growing)."""
        self._floor = self.total
        self._fields = [None] * len(self._fields)
