"""A mapping rule compiled for the hot path: name templates and encoded-attribute caches.

Most field values repeat (verbs, directions, roles, small TrIDs), so each
``(field, value)`` pair is encoded to protobuf bytes once and looked up afterwards;
fields with too many distinct values (offsets) are encoded every time instead.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterable
from typing import Any

from tracer import Event

from ._encode import prefix
from ._mapping import EventRule, Mapping
from ._wire import attribute, field_bytes

__all__ = ["FIELD_RE", "CompiledRule", "hashable"]

#: A field reference in a name template: ``{verb}``, ``{network.transport}``.
FIELD_RE = re.compile(r"{(@?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)}")
_CACHE_MAX = 50_000
_FIELD_DISTINCT_MAX = 4096


def _template(text: str) -> Callable[[dict[str, Any]], str]:
    """Compile a name template; a lone ``{field}`` skips ``str.format``."""
    names = FIELD_RE.findall(text)
    if not names:
        return lambda f: text
    if len(names) == 1 and text.count("{") == 1:
        head, tail = text.split("{" + names[0] + "}")
        key = names[0]
        return lambda f: f"{head}{f.get(key, '?')}{tail}"
    return lambda f: FIELD_RE.sub(lambda m: str(f.get(m.group(1), "?")), text)


class _AttrCache(dict):
    """``(field, value)`` -> encoded attribute field under one tag; fills itself on a miss.

    Flow and time fields (and None values) encode to nothing and are not kept; nor
    are the values of a field once it has shown too many distinct ones (offsets,
    timestamps), so unique values never churn the cache.
    """

    __slots__ = ("distinct", "owner", "tag")

    def __init__(self, owner: CompiledRule, tag: int) -> None:
        super().__init__()
        self.owner = owner
        self.tag = tag
        self.distinct: dict[str, int] = {}

    def __missing__(self, item: tuple[str, Any]) -> bytes:
        k, v = item
        if v is None or k in self.owner.skip:
            return b""
        b = field_bytes(self.tag, attribute(prefix(self.owner.attr(k)), v))
        seen = self.distinct.get(k, 0)
        if seen < _FIELD_DISTINCT_MAX:
            self.distinct[k] = seen + 1
            if len(self) >= _CACHE_MAX:
                self.clear()
                self.distinct.clear()
            self[item] = b
        return b


def hashable(v: Any) -> Any:
    """Lists as tuples, so they can key a cache."""
    return tuple(v) if v.__class__ is list else v


class CompiledRule:
    """One rule with its templates and caches of encoded attributes.

    Most field values repeat (verbs, directions, roles, small TrIDs), so each
    ``(field, value)`` pair is encoded once per tag and looked up afterwards.
    """

    __slots__ = ("error", "event_cache", "getter", "handlers", "keys", "layout_n", "list_pos",
                 "mapping", "name", "name_cache", "name_key", "name_multi", "names", "rename",
                 "rename_key", "reply_cache", "rule", "skip", "span_cache", "span_name_cache",
                 "time_field")

    def __init__(self, rule: EventRule, mapping: Mapping) -> None:
        self.rule = rule
        self.mapping = mapping
        self.name = _template(rule.name or rule.event)
        names = FIELD_RE.findall(rule.name or rule.event)
        #: the one field a name depends on (names are cached by its value), or None
        self.name_key = names[0] if len(names) == 1 else None
        self.name_multi = len(names) > 1
        self.rename = _template(rule.rename)
        keys = FIELD_RE.findall(rule.rename)
        self.rename_key = keys[0] if keys else ""
        self.error = re.compile(rule.error_pattern) if rule.error_pattern else None
        self.skip = {mapping.flow_field, *mapping.time_fields}
        self.time_field = ""  # chosen from the first event (see SpanTracker._compiled)
        self.layout_n = 0  # the learned field layout (see encode)
        self.keys: tuple[str, ...] = ()
        self.getter: Callable[[dict[str, Any]], Any] = tuple
        self.list_pos: tuple[int, ...] = ()
        self.names: dict[str, str] = {}
        self.event_cache = _AttrCache(self, 0x1A)  # Span.Event.attributes
        self.span_cache = _AttrCache(self, 0x4A)  # Span.attributes
        self.name_cache: dict[Any, bytes] = {}
        self.span_name_cache: dict[Any, bytes] = {}
        self.reply_cache: dict[tuple[Any, Any], bytes] = {}
        self.handlers: list[Callable[[Event, CompiledRule, int], None]] = []

    def attr(self, field_name: str) -> str:
        name = self.names.get(field_name)
        if name is None:
            name = self.names[field_name] = self.mapping.attr_name(self.rule, field_name)
        return name

    def encode(self, fields: dict[str, Any], cache: _AttrCache) -> bytes:
        """This rule's event fields as repeated ``KeyValue`` (flow and time fields left out).

        Events of one type carry the same fields in the same order, so the layout is
        learned from the first one: the flow and time fields are never looked up, and
        list values become tuples to key the cache.
        """
        if len(fields) != self.layout_n:
            if self.layout_n:
                return self.encode_any(fields, cache)
            self._learn(fields)
        try:
            vals = self.getter(fields)
            if self.list_pos:
                vals = list(vals)
                for i in self.list_pos:
                    if vals[i].__class__ is list:
                        vals[i] = tuple(vals[i])
            return b"".join(map(cache.__getitem__, zip(self.keys, vals, strict=True)))
        except (KeyError, TypeError):  # another layout, or values that cannot key the cache
            return self.encode_any(fields, cache)

    def _learn(self, fields: dict[str, Any]) -> None:
        self.keys = tuple(k for k in fields if k not in self.skip)
        self.layout_n = len(fields)
        keys = self.keys
        if len(keys) > 1:
            self.getter = operator.itemgetter(*keys)
        else:
            self.getter = lambda f: tuple(f[k] for k in keys)
        self.list_pos = tuple(i for i, k in enumerate(keys) if isinstance(fields[k], list))

    def encode_any(self, fields: dict[str, Any], cache: _AttrCache) -> bytes:
        """Any fields as repeated ``KeyValue``, without the learned layout."""
        return b"".join([self._one(k, v, cache) for k, v in fields.items()])

    def _one(self, k: str, v: Any, cache: _AttrCache) -> bytes:
        try:
            return cache[(k, hashable(v))]
        except TypeError:  # still unhashable (nested lists, dicts): encode, do not keep
            if v is None or k in self.skip:
                return b""
            return field_bytes(cache.tag, attribute(prefix(self.attr(k)), v))

    def event_name(self, fields: dict[str, Any], tag: int = 0x12) -> bytes:
        """The encoded name field (``Span.Event.name`` 0x12 or ``Span.name`` 0x2A),
        cached by the field value the name depends on."""
        if self.name_multi:
            key: Any = self.name(fields)
        else:
            key = fields.get(self.name_key) if self.name_key else None
        cache = self.name_cache if tag == 0x12 else self.span_name_cache
        b = cache.get(key) if key.__hash__ is not None else None
        if b is None:
            b = field_bytes(tag, self.name(fields).encode())
            if key.__hash__ is not None:
                if len(cache) >= _CACHE_MAX:
                    cache.clear()
                cache[key] = b
        return b

    def reply_tail(self, reply: tuple[Any, Any]) -> bytes:
        """The encoded reply attributes and status of a transaction span (cached)."""
        verb, args = reply
        tail = self.encode_any({"reply." + self.rule.verb_field: verb, "reply.args": args},
                               self.span_cache)
        if self.error is not None and isinstance(verb, str) and self.error.match(verb):
            status = field_bytes(0x12, f"error reply {verb}".encode()) + b"\x18\x02"
            tail += field_bytes(0x7A, status)
        try:
            if len(self.reply_cache) >= _CACHE_MAX:
                self.reply_cache.clear()
            self.reply_cache[reply] = tail
        except TypeError:  # unhashable arguments
            pass
        return tail

    def attrs(self, fields: dict[str, Any], skip: Iterable[str] = ()) -> dict[str, Any]:
        """Fields as a span's attributes."""
        drop = self.skip.union(skip)
        return {self.attr(k): v for k, v in fields.items() if v is not None and k not in drop}
