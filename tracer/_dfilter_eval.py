"""Display filters, evaluation: a checked AST compiled into nested closures over an event.

A comparison never raises on what a log holds: a value of another type than the
literal compares false (``!=`` included: it means "has the field, and it differs").
A list matches if any of its items does (Wireshark's rule for repeated fields).
Regular expressions run on RE2, whose time is linear in the text: no pattern can
make a filter over a hostile log hang.
"""

from __future__ import annotations

import base64
import binascii
import operator
from collections.abc import Callable
from typing import Any, Protocol

import re2

from ._dfilter_fields import (
    META,
    FieldTable,
    Value,
    check_range,
    check_search,
    value_of,
)
from ._dfilter_parse import (
    And,
    Compare,
    Exists,
    FilterSyntaxError,
    In,
    Literal,
    Node,
    Not,
    Or,
    Range,
)

__all__ = ["MISSING", "FilterRow", "Predicate", "compile_node"]

#: Longest pattern ``matches`` accepts, and RE2's memory for one (bounded work).
MAX_PATTERN = 1024
_RE2_MEM = 8 << 20


class FilterRow(Protocol):
    """What a filter reads of an event (:class:`tracer.Event` has all of it)."""

    @property
    def provider(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def level(self) -> int: ...
    @property
    def keywords(self) -> tuple[str, ...]: ...
    @property
    def kind(self) -> str: ...
    @property
    def seq(self) -> int: ...
    @property
    def pid(self) -> int: ...
    @property
    def tid(self) -> int: ...
    @property
    def id(self) -> int: ...
    @property
    def time_ns(self) -> int: ...
    @property
    def fields(self) -> dict[str, Any]: ...
    @property
    def message(self) -> str: ...


Predicate = Callable[[FilterRow], bool]
_Test = Callable[[Any], bool]
MISSING: Any = object()
_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt,
    ">=": operator.ge}


def compile_node(node: Node, table: FieldTable) -> Predicate:
    """The predicate of a parsed filter; raise FilterSyntaxError for a type error."""
    if isinstance(node, And):
        parts = [compile_node(n, table) for n in node.items]
        if len(parts) == 2:
            a, b = parts
            return lambda r: a(r) and b(r)
        return lambda r: all(p(r) for p in parts)
    if isinstance(node, Or):
        parts = [compile_node(n, table) for n in node.items]
        if len(parts) == 2:
            a, b = parts
            return lambda r: a(r) or b(r)
        return lambda r: any(p(r) for p in parts)
    if isinstance(node, Not):
        inner = compile_node(node.item, table)
        return lambda r: not inner(r)
    ref = node.field
    types = table.types_of(ref.name, ref.pos, ref.end)
    get = _getter(ref.name, types)
    if isinstance(node, Exists):
        return lambda r: get(r) is not MISSING
    if isinstance(node, In):
        test = _set_test(node, types)
    else:
        assert isinstance(node, Compare)
        test = _compare_test(node, types)
    return lambda r: (v := get(r)) is not MISSING and test(v)


def _getter(name: str, types: frozenset[str] | None) -> Callable[[FilterRow], Any]:
    if name in META:
        return operator.attrgetter(META[name][0])
    if types is not None and "bytes" in types:  # logs hold bytes as base64 text
        def get_bytes(r: FilterRow) -> Any:
            v = r.fields.get(name, MISSING)
            if isinstance(v, str):
                try:
                    return base64.b64decode(v, validate=True)
                except (binascii.Error, ValueError):
                    return v
            return v
        return get_bytes
    return lambda r: r.fields.get(name, MISSING)


def _compare_test(node: Compare, types: frozenset[str] | None) -> _Test:
    name, op, lit = node.field.name, node.op, node.value
    if op in ("contains", "matches"):
        check_search(op, types, name, node.op_pos, lit.end)
        return _contains(lit.text) if op == "contains" else _matches(lit)
    value = value_of(lit, types, name)
    if op == "!=":
        eq = _ordered(operator.eq, value)
        return lambda v: not eq(v)
    return _ordered(_ORDER[op], value)


def _ordered(cmp: Callable[[Any, Any], bool], value: Value) -> _Test:
    """``cmp(field value, literal)`` with the literal's reading of the value's type."""
    number, text, flag = value.number, value.text, value.flag
    data = text.encode() if text is not None else None

    def test(v: Any) -> bool:
        if isinstance(v, str):
            return text is not None and cmp(v, text)
        if isinstance(v, bool):
            b = flag if flag is not None else (bool(number) if number in (0, 1) else None)
            return b is not None and cmp(v, b)
        if isinstance(v, int | float):
            return number is not None and cmp(v, number)
        if isinstance(v, bytes):
            return data is not None and cmp(v, data)
        if isinstance(v, list | tuple):
            return any(test(x) for x in v)
        return False
    return test


def _contains(text: str) -> _Test:
    data = text.encode()

    def test(v: Any) -> bool:
        if isinstance(v, str):
            return text in v
        if isinstance(v, bytes):
            return data in v
        if isinstance(v, list | tuple):
            return any(test(x) for x in v)
        if isinstance(v, dict):
            return text in v or any(test(x) for x in v.values())
        return False
    return test


def _matches(lit: Literal) -> _Test:
    """A case-insensitive RE2 search (``(?-i)`` in the pattern makes it case-sensitive)."""
    if len(lit.text) > MAX_PATTERN:
        raise FilterSyntaxError(f"pattern longer than {MAX_PATTERN} characters",
                                lit.pos, lit.end)
    options = re2.Options()
    options.log_errors = False  # RE2 would print to the terminal the app draws on
    options.case_sensitive = False
    options.max_mem = _RE2_MEM
    try:
        pattern = re2.compile(lit.text, options)
        bpattern = re2.compile(lit.text.encode(), options)
    except re2.error as exc:
        detail = exc.args[0].decode(errors="replace") if exc.args and \
            isinstance(exc.args[0], bytes) else str(exc)
        raise FilterSyntaxError(f"bad pattern: {detail} (RE2 syntax: no look-around or "
                                "back-references)", lit.pos, lit.end) from None
    search, bsearch = pattern.search, bpattern.search

    def test(v: Any) -> bool:
        if isinstance(v, str):
            return search(v) is not None
        if isinstance(v, bytes):
            return bsearch(v) is not None
        if isinstance(v, list | tuple):
            return any(test(x) for x in v)
        if isinstance(v, dict):
            return any(test(x) for x in v) or any(test(x) for x in v.values())
        if isinstance(v, int | float):
            return search(str(v)) is not None
        return False
    return test


def _set_test(node: In, types: frozenset[str] | None) -> _Test:
    name = node.field.name
    tests: list[_Test] = []
    for item in node.items:
        if isinstance(item, Range):
            lo, hi = value_of(item.lo, types, name), value_of(item.hi, types, name)
            check_range(types, name, lo, hi, item.lo.pos, item.hi.end)
            low, high = _ordered(operator.ge, lo), _ordered(operator.le, hi)
            tests.append(_both(low, high))
        else:
            tests.append(_ordered(operator.eq, value_of(item, types, name)))
    return lambda v: any(t(v) for t in tests)


def _both(low: _Test, high: _Test) -> _Test:
    def test(v: Any) -> bool:
        if isinstance(v, list | tuple):
            return any(test(x) for x in v)
        return low(v) and high(v)
    return test
