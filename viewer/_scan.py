"""Finding and deciding a filter's lines in a buffer of log lines: the reference twin of
``viewer/_cscan.c``, and the loader that picks the C module when it may be used.

A filter over millions of lines spends its time finding the lines that hold a literal,
deciding them and mapping them to rows. Each function does one of these for a whole
buffer (an mmap window of whole lines) and returns native uint64 arrays as bytes, so
the caller makes no Python object per line. The C module does the same with the GIL
released (the UI thread keeps running); it leaves to the caller (``unsure``) what its
strict reader of compact JSON cannot decide, where this twin decodes with orjson.
``WFPTRACE_PURE=1`` selects this module.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from array import array
from bisect import bisect_left
from types import ModuleType
from typing import Any

import orjson

__all__ = ["event_starts", "field_equals", "find_lines", "rows_at", "scanner"]

_VERSION = 1
_MISSING = object()
_EVENT = b'{"type":"event"'
_NL = re.compile(rb"\n")
_NOT_EVENT = re.compile(rb'\n(?!\{"type":"event")')


def _packed(values: list[int]) -> bytes:
    return array("Q", values).tobytes()


def find_lines(buf: Any, literal: bytes) -> bytes:
    """Starts (positions in ``buf``) of the lines holding ``literal``, each once."""
    data = bytes(buf)
    out: list[int] = []
    pos = 0
    while literal:
        at = data.find(literal, pos)
        if at < 0:
            break
        out.append(data.rfind(b"\n", 0, at) + 1)
        end = data.find(b"\n", at)
        if end < 0:
            break
        pos = end + 1
    return _packed(out)


def field_equals(buf: Any, literal: bytes, key: bytes, text: bytes, number: object,
                 max_level: int) -> tuple[bytes, bytes]:
    """Of the lines holding ``literal``: those the filter ``key == value`` keeps, and
    those left to the caller (records other than events, list and bool values).

    The filter keeps an event line of level <= ``max_level`` whose ``fields[key]`` is
    the text ``text`` (UTF-8) or, for ``number`` not None, a number equal to it.
    """
    data = bytes(buf)
    name = key.decode()
    want = text.decode()
    match: list[int] = []
    unsure: list[int] = []
    for at in array("Q", find_lines(data, literal)):
        end = data.find(b"\n", at)
        verdict = _decide(data[at:end if end >= 0 else len(data)], name, want, number,
                          max_level)
        if verdict is True:
            match.append(at)
        elif verdict is None:
            unsure.append(at)
    return _packed(match), _packed(unsure)


def _decide(line: bytes, name: str, text: str, number: object, max_level: int) -> bool | None:
    """True: kept; False: dropped; None: left to the caller."""
    try:
        rec = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    if not isinstance(rec, dict):
        return False
    if rec.get("type") != "event":
        return None
    try:
        if int(rec.get("level", 4)) > max_level:
            return False
    except (TypeError, ValueError):
        return False
    fields = rec.get("fields") or {}
    if not isinstance(fields, dict):
        return False
    value = fields.get(name, _MISSING)
    if isinstance(value, str):
        return value == text
    if isinstance(value, bool | list | tuple):
        return None
    if isinstance(value, int | float):
        return number is not None and value == number
    return False


def event_starts(buf: Any, first: int, last: int, base: int) -> bytes | None:
    """``base`` + the starts of the lines of ``buf[first:last]`` (whole lines) if every one
    is an event line, else None."""
    if last <= first:
        return b""
    if not buf.startswith(_EVENT, first, last) or \
            _NOT_EVENT.search(buf, first, last - 1) is not None:
        return None
    return _packed([base + first] + [base + m.end() for m in _NL.finditer(buf, first, last - 1)])


def rows_at(offsets: Any, starts: Any, base: int, lo: int, hi: int) -> bytes:
    """For each of ``starts`` (ascending), the row r in [lo, hi) with ``offsets[r] ==
    base + start``; starts without a row are left out."""
    hi = min(hi, len(offsets))
    out: list[int] = []
    for start in array("Q", bytes(starts)):
        want = base + start
        row = bisect_left(offsets, want, lo, hi)
        if row < hi and offsets[row] == want:
            out.append(row)
        lo = row
    return _packed(out)


def _load() -> ModuleType:
    if os.environ.get("WFPTRACE_PURE"):
        return sys.modules[__name__]
    try:
        module = importlib.import_module("viewer._cscan")
    except ImportError:
        return sys.modules[__name__]
    return module if getattr(module, "VERSION", None) == _VERSION else sys.modules[__name__]


_SCANNER: ModuleType | None = None


def scanner() -> ModuleType:
    """The C module if it was built and matches (and ``WFPTRACE_PURE`` is unset), else
    this one: both have ``find_lines``, ``field_equals`` and ``rows_at``."""
    global _SCANNER
    if _SCANNER is None:
        _SCANNER = _load()
    return _SCANNER
