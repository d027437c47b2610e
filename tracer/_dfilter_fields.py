"""Display filters, names and types: the fields the manifests declare, and the event's own.

A filter is checked against these before it runs: an unknown field, or a value
that cannot have the field's type (a port compared to text), is an error at its
position. A name that several events declare with different types accepts a value
of any of them. Typed literals (:class:`Value`) hold every reading of what was
written (number, text, flag), so one comparison works on each type a field has.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ._dfilter_parse import FilterSyntaxError, Literal
from ._errors import ConfigError
from ._levels import parse_level
from ._manifest import Manifest

__all__ = ["META", "FieldTable", "Value", "value_of"]

#: The event's own attributes: filter name -> (Event attribute, type). ``level`` also
#: takes level names, ``time`` ISO date-times (UTC unless the text says otherwise).
META: dict[str, tuple[str, str]] = {
    "provider": ("provider", "str"), "event": ("name", "str"), "level": ("level", "level"),
    "keyword": ("keywords", "list"),
    "trace.provider": ("provider", "str"), "trace.event": ("name", "str"),
    "trace.level": ("level", "level"), "trace.keyword": ("keywords", "list"),
    "trace.seq": ("seq", "int"), "trace.pid": ("pid", "int"), "trace.tid": ("tid", "int"),
    "trace.id": ("id", "int"), "trace.message": ("message", "str"),
    "trace.kind": ("kind", "str"), "trace.time": ("time_ns", "time"),
    "@timestamp": ("time_ns", "time"),
}
_NUMERIC = frozenset({"int", "float", "time", "level"})
_TEXTUAL = frozenset({"str", "bytes"})
_SEARCHABLE = frozenset({"str", "bytes", "list", "dict"})
_DESCRIBE = {"int": "a number (int)", "float": "a number (float)", "str": "text (str)",
             "bytes": "bytes", "bool": "a flag (bool)", "list": "a list", "dict": "a dict",
             "time": "a time (ns or ISO date-time)",
             "level": "a level (1-5, critical, error, warning, info, verbose)"}


@dataclass(frozen=True)
class Value:
    """A literal's readings: as a number, as text, as a flag (None where it is not one)."""

    number: int | float | None
    text: str | None
    flag: bool | None


class FieldTable:
    """Field name -> the types the manifests declare for it (plus the event's own)."""

    def __init__(self, manifests: Mapping[str, Manifest] | Iterable[Manifest] = ()) -> None:
        items = manifests.values() if isinstance(manifests, Mapping) else manifests
        self.types: dict[str, set[str]] = {}
        for m in items:
            for schema in m.events.values():
                for name, type_ in schema.fields:
                    self.types.setdefault(name, set()).add(type_)
        #: With no manifest at all (a live view before any provider), any name is allowed.
        self.open = not self.types

    def names(self) -> list[str]:
        """Every name a filter may use: declared fields, then the event's own."""
        return sorted(self.types) + list(META)

    def types_of(self, name: str, pos: int, end: int) -> frozenset[str] | None:
        """The types of a field (None: unknown, untyped); raise if no manifest declares it."""
        if name in META:
            return frozenset({META[name][1]})
        if name in self.types:
            return frozenset(self.types[name])
        if self.open:
            return None
        close = difflib.get_close_matches(name, self.names(), n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise FilterSyntaxError(f"no manifest declares a field {name}{hint}", pos, end)


def describe(types: frozenset[str]) -> str:
    """``a number (int)``, or ``a number (int) or text (str)``."""
    return " or ".join(_DESCRIBE.get(t, t) for t in sorted(types))


def _number(text: str) -> int | float | None:
    try:
        return int(text, 0)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return None
    return value if value == value else None  # nan compares unequal to everything


def parse_time(text: str) -> int | None:
    """An ISO date-time (naive: UTC) as ns since the epoch; None if it is not one."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return int(when.timestamp()) * 1_000_000_000 + when.microsecond * 1000


def value_of(lit: Literal, types: frozenset[str] | None, name: str) -> Value:
    """The readings of ``lit`` that a field of these types can compare with; raise if none."""
    text = lit.text
    number = None if lit.quoted else _number(text)
    flag = {"true": True, "false": False}.get(text.lower()) if not lit.quoted else None
    if types is not None and "level" in types:
        try:
            number = int(parse_level(int(text) if text.isdigit() else text))
        except (ConfigError, ValueError):
            number = None
    if types is not None and "time" in types and number is None:
        number = parse_time(text)
    value = Value(number, text, flag)
    if types is None or _fits(value, types):
        return value
    what = "text" if lit.quoted else "a number" if number is not None else "a word"
    raise FilterSyntaxError(f"{name} is {describe(types)}, but {_show(lit)} is {what}",
                            lit.pos, lit.end)


def _show(lit: Literal) -> str:
    return f'"{lit.text}"' if lit.quoted else lit.text


def _fits(value: Value, types: frozenset[str]) -> bool:
    """Text fields take any literal (a bare number too), numeric ones numbers."""
    if types & (_TEXTUAL | {"list", "dict"}):
        return True
    if value.number is not None and types & _NUMERIC:
        return True
    return "bool" in types and (value.flag is not None or value.number in (0, 1))


def check_search(op: str, types: frozenset[str] | None, name: str, pos: int, end: int) -> None:
    """``contains``/``matches`` need a field that holds text, bytes, a list or a dict."""
    if types is not None and not types & _SEARCHABLE:
        raise FilterSyntaxError(f"{op} needs text, bytes or a list, but {name} is "
                                f"{describe(types)}", pos, end)


def check_range(types: frozenset[str] | None, name: str, lo: Value, hi: Value,
                pos: int, end: int) -> None:
    """A range needs numbers at both ends, and a field that holds numbers."""
    if types is not None and not types & (_NUMERIC | {"list"}):
        raise FilterSyntaxError(f"a range needs a numeric field, but {name} is "
                                f"{describe(types)}", pos, end)
    if lo.number is None or hi.number is None:
        raise FilterSyntaxError("a range needs a number at each end", pos, end)
