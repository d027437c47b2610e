"""View filters: a display filter expression (:class:`tracer.DisplayFilter`), the level
keys, and the older parts (provider, keyword, event name, text or regex, conditions).

A filter never removes events from the ring; it only decides which rows the
view shows, so changing or clearing it brings every buffered event back.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from tracer import Event, format_message

from ._ring import EventRing, Schema

if TYPE_CHECKING:
    from tracer import DisplayFilter

    from ._logindex import LogIndex

__all__ = ["EventFilter", "FieldCondition", "FilterError", "parse_condition"]


class FilterError(ValueError):
    """A filter the user typed cannot be parsed (bad regex, bad condition)."""


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "!=": operator.ne, ">=": operator.ge, "<=": operator.le,
    ">": operator.gt, "<": operator.lt,
}
_COND_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*(==|!=|>=|<=|>|<|=~|~|=)\s*(.*?)\s*$")


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        return float(str(value))
    except ValueError:
        return None


@dataclass(frozen=True)
class FieldCondition:
    """``field OP value``: compared as numbers when both sides are numbers, else text.

    ``~`` (or ``=~``) is a case-insensitive regex search in the field's text.
    """

    field: str
    op: str
    value: str

    def __str__(self) -> str:
        return f"{self.field} {self.op} {self.value}"

    def matches(self, fields: dict[str, Any]) -> bool:
        """True if the event's fields satisfy the condition (a missing field never does)."""
        if self.field not in fields:
            return False
        actual = fields[self.field]
        if self.op in ("~", "=~"):
            return re.search(self.value, str(actual), re.IGNORECASE) is not None
        b = self._number
        if b is not None:
            a = _number(actual)
            if a is not None:
                return _OPS[self.op](a, b)
        return _OPS[self.op](str(actual), self.value)

    @cached_property
    def _number(self) -> float | None:
        """The value as a number (None: it is text), parsed once."""
        return _number(self.value)


def parse_condition(text: str) -> FieldCondition:
    """Parse ``remote == 10.0.0.2`` (ops ``== != > < >= <= ~``); raise FilterError."""
    m = _COND_RE.match(text)
    if not m or not m.group(3):
        raise FilterError(f"bad field condition {text!r}: use e.g. 'remote == 10.0.0.2'")
    name, op, value = m.groups()
    if op == "=":
        op = "=="
    value = value.strip("'\"")
    if op in ("~", "=~"):
        try:
            re.compile(value)
        except re.error as exc:
            raise FilterError(f"bad regex {value!r}: {exc}") from None
    return FieldCondition(name, op, value)


@dataclass(frozen=True)
class EventFilter:
    """Which events the view shows; the empty filter shows everything.

    Loss records ("N events lost") pass the display filter ``expr`` whatever it says,
    so a filtered view never hides a gap where matching events may have been.
    """

    providers: frozenset[str] = frozenset()
    max_level: int = 5
    keywords: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    text: str = ""
    regex: bool = False
    conditions: tuple[FieldCondition, ...] = field(default_factory=tuple)
    expr: DisplayFilter | None = None

    def __post_init__(self) -> None:
        if self.regex and self.text:
            try:
                re.compile(self.text)
            except re.error as exc:
                raise FilterError(f"bad regex {self.text!r}: {exc}") from None

    @property
    def empty(self) -> bool:
        """True if the filter lets every event through."""
        return self == EventFilter()

    def describe(self) -> str:
        """A short text of the active parts, for the status bar."""
        parts = []
        if self.providers:
            parts.append("provider=" + ",".join(sorted(self.providers)))
        if self.max_level < 5:
            parts.append(f"level<={self.max_level}")
        if self.keywords:
            parts.append("kw=" + ",".join(sorted(self.keywords)))
        if self.events:
            parts.append("event=" + ",".join(sorted(self.events)))
        if self.text:
            parts.append(("/" + self.text + "/") if self.regex else repr(self.text))
        parts.extend(str(c) for c in self.conditions)
        if self.expr is not None:
            parts.append(self.expr.text)
        return " ".join(parts)

    def with_level(self, level: int) -> EventFilter:
        """The same filter showing levels up to ``level``."""
        return replace(self, max_level=level)

    def event_predicate(self) -> Callable[[Event], bool]:
        """The same test over a decoded :class:`tracer.Event` (for logs read on demand)."""
        text_match = _text_matcher(self.text, self.regex)
        expr = self.expr.predicate if self.expr is not None else None

        def predicate(ev: Event) -> bool:
            if ev.level > self.max_level:
                return False
            if self.providers and ev.provider not in self.providers:
                return False
            if self.events and ev.name not in self.events:
                return False
            if self.keywords and not self.keywords.intersection(ev.keywords) and \
                    ev.kind != "lost":
                return False
            if self.conditions and not all(c.matches(ev.fields) for c in self.conditions):
                return False
            if expr is not None and ev.kind != "lost" and not expr(ev):
                return False
            return text_match is None or text_match(f"{ev.provider} {ev.name} {ev.message}")

        return predicate

    def compile(self, ring: EventRing | LogIndex) -> Callable[[int], bool]:
        """A predicate over absolute ring indices, cheapest checks first."""
        if not isinstance(ring, EventRing):  # a log read on demand (LogIndex)
            matches = self.event_predicate()
            return lambda index: matches(ring.event(index))
        schema_ok: dict[int, bool] = {}
        schemas = ring.schemas
        text_match = _text_matcher(self.text, self.regex)
        conditions = self.conditions
        expr = self.expr.predicate if self.expr is not None else None
        schema_only = self.expr is not None and self.expr.names <= _SCHEMA_NAMES
        expr_ok: dict[int, bool] = {}

        def schema_passes(sid: int) -> bool:
            ok = schema_ok.get(sid)
            if ok is None:
                s = schemas[sid]
                ok = ((not self.providers or s.provider in self.providers)
                      and (not self.events or s.name in self.events)
                      and (not self.keywords or bool(self.keywords.intersection(s.keywords))
                           or s.kind == "lost"))
                schema_ok[sid] = ok
            return ok

        levels, sids, cap, max_level = ring._level, ring._schema, ring.capacity, self.max_level

        def predicate(index: int) -> bool:
            pos = index % cap
            if levels[pos] > max_level or not schema_passes(sids[pos]):
                return False
            if expr is not None and schemas[sids[pos]].kind != "lost":
                sid = sids[pos]
                if schema_only:  # decided by provider, event, keywords: once per schema
                    ok = expr_ok.get(sid)
                    if ok is None:
                        ok = expr_ok[sid] = expr(_RingRow(ring, index, sid))
                    if not ok:
                        return False
                elif not expr(_RingRow(ring, index, sid)):
                    return False
            if text_match is None and not conditions:
                return True
            fields = ring.fields(index)
            if conditions and not all(c.matches(fields) for c in conditions):
                return False
            if text_match is not None:
                s = schemas[sids[pos]]
                message = (ring.event(index).message if s.kind == "lost"
                           else format_message(s.template, fields))
                return text_match(f"{s.provider} {s.name} {message}")
            return True

        spilled = getattr(ring, "spilled", None)
        if spilled is not None:  # rows read back from the log file (SpillRing)
            on_event = self.event_predicate()
            return lambda index: (on_event(ring.event(index)) if spilled(index)
                                  else predicate(index))
        return predicate


#: Filter names a ring row's schema alone decides (provider, event name, keywords...).
_SCHEMA_NAMES = frozenset({"provider", "event", "keyword", "trace.provider", "trace.event",
                           "trace.keyword", "trace.kind", "trace.id"})


class _RingRow:
    """One ring row as a display filter reads it: columns read only when asked for."""

    __slots__ = ("_fields", "index", "ring", "sid")

    def __init__(self, ring: EventRing, index: int, sid: int) -> None:
        self.ring = ring
        self.index = index
        self.sid = sid
        self._fields: dict[str, Any] | None = None

    @property
    def fields(self) -> dict[str, Any]:
        if self._fields is None:
            self._fields = self.ring.fields(self.index)
        return self._fields

    @property
    def _schema(self) -> Schema:
        return self.ring.schemas[self.sid]

    provider = property(lambda self: self._schema.provider)
    name = property(lambda self: self._schema.name)
    kind = property(lambda self: self._schema.kind)
    keywords = property(lambda self: self._schema.keywords)
    id = property(lambda self: self._schema.id)
    level = property(lambda self: self.ring.level(self.index))
    seq = property(lambda self: self.ring.seq(self.index))
    time_ns = property(lambda self: self.ring.time_ns(self.index))
    pid = property(lambda self: self.ring.event(self.index).pid)
    tid = property(lambda self: self.ring.event(self.index).tid)
    message = property(lambda self: self.ring.event(self.index).message)


def _text_matcher(text: str, regex: bool) -> Callable[[str], bool] | None:
    if not text:
        return None
    if regex:
        pattern = re.compile(text, re.IGNORECASE)
        return lambda s: pattern.search(s) is not None
    needle = text.lower()
    return lambda s: needle in s.lower()
