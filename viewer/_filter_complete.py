"""Completion for the display-filter input: field names, operators, values seen.

What the last word of the text can become depends on what precedes it: a field
name at the start or after ``&& || ! (``, an operator after a field, a value
after an operator (level names, values seen in the log, ``true``/``false``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from textual.suggester import Suggester

from tracer import Event, Level
from tracer._dfilter import FieldTable, quote
from tracer._dfilter_fields import META

__all__ = ["FilterSuggester", "candidates", "completion", "values_seen"]

OPERATORS = ["==", "!=", "<", "<=", ">", ">=", "contains", "matches", "in", "&&", "||"]
_JOINERS = {"&&", "||", "!", "(", "and", "or", "not"}
_OPS = {"==", "!=", "<", "<=", ">", ">=", "contains", "matches", "~", "eq", "ne", "lt",
        "le", "gt", "ge", "in", "{"}
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|==|!=|<=|>=|&&|\|\||[<>!(){}~,]|[^\s()!{}<>=&|,"~]+')
_MAX_VALUES = 40


def _tokens(text: str) -> list[str]:
    return _TOKENS.findall(text)


def candidates(text: str, table: FieldTable, values: Mapping[str, list[str]]) -> list[str]:
    """What the word being typed at the end of ``text`` can be completed to (sorted)."""
    toks = _tokens(text)
    typing = bool(toks) and not text[-1:].isspace() and toks[-1] not in _OPS | _JOINERS
    word = toks[-1] if typing else ""
    before = toks[:-1] if typing else toks
    prev = before[-1] if before else ""
    if not before or prev in _JOINERS:
        pool = table.names()
    elif prev in _OPS:
        field = before[-2] if len(before) >= 2 else ""
        if field in ("level", "trace.level"):
            pool = [lv.name.lower() for lv in Level]
        else:
            pool = values.get(field, [])
            if table.types.get(field) == {"bool"}:
                pool = ["true", "false"]
    elif len(before) >= 2 and before[-2] in _OPS:
        pool = ["&&", "||"]  # after a complete comparison
    else:
        pool = OPERATORS
    return [c for c in pool if c.startswith(word) and c != word]


class FilterSuggester(Suggester):
    """Suggests the first completion of the last word inline (→ accepts it)."""

    def __init__(self, table: FieldTable, values: Mapping[str, list[str]]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.table = table
        self.values = values

    async def get_suggestion(self, value: str) -> str | None:
        return completion(value, self.table, self.values)


def completion(text: str, table: FieldTable, values: Mapping[str, list[str]]) -> str | None:
    """``text`` with its last word completed to the first candidate (None: nothing to add)."""
    found = candidates(text, table, values)
    if not found or not text or text[-1:].isspace():
        return None
    toks = _tokens(text)
    word = toks[-1] if toks and toks[-1] not in _OPS | _JOINERS else ""
    return text[:len(text) - len(word)] + found[0]


def values_seen(events: Iterable[Event]) -> dict[str, list[str]]:
    """Short text values of each field in ``events`` (at most a few dozen each), quoted as
    a filter writes them; the event's provider and event names too."""
    out: dict[str, set[str]] = {"provider": set(), "event": set(), "keyword": set()}
    for ev in events:
        out["provider"].add(ev.provider)
        out["event"].add(ev.name)
        out["keyword"].update(ev.keywords)
        for name, value in ev.fields.items():
            if isinstance(value, str) and 0 < len(value) <= 40 and value.isprintable():
                seen = out.setdefault(name, set())
                if len(seen) < _MAX_VALUES:
                    seen.add(value)
    short = {"provider": "provider", "name": "event", "keywords": "keyword"}
    for alias, (attr, _) in META.items():
        if attr in short and alias != short[attr]:
            out[alias] = out[short[attr]]
    return {k: sorted(quote(v) for v in vs if v) for k, vs in out.items()}
