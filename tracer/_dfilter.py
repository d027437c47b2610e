"""Display filters in the spirit of Wireshark's, over the typed fields the manifests declare.

::

    flt = DisplayFilter.compile('verb == "MSG" && destination.port in {1863 6891..6900}',
                                reader.manifests)
    shown = [ev for ev in reader if flt.matches(ev)]

Field names are the manifests' (dotted names included); ``provider``, ``event``,
``level`` (``level <= warning``), ``keyword`` and ``trace.*`` (``trace.seq``,
``trace.message``, ``trace.time``...) are the event's own. Operators: ``== != < <= > >=``
(``eq ne lt le gt ge``), ``contains``, ``matches``/``~`` (RE2, case-insensitive),
``in {a b c..d}``; a bare name tests that the field exists; ``&& || !`` or
``and or not``, and parentheses. Errors are :class:`FilterSyntaxError` with the
position of the culprit (``caret()`` draws it), raised before anything runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import orjson

from ._dfilter_eval import FilterRow, Predicate, compile_node
from ._dfilter_fields import META, FieldTable
from ._dfilter_parse import (
    And,
    Compare,
    Exists,
    FilterSyntaxError,
    In,
    Node,
    Not,
    Or,
    Range,
    parse_expression,
    quote,
    unparse,
)
from ._manifest import Manifest

__all__ = ["DisplayFilter", "FieldTable", "FilterSyntaxError", "quote"]

_LINE_KEYS = {"provider": b'"provider":', "event": b'"event":',
              "trace.provider": b'"provider":', "trace.event": b'"event":'}


class DisplayFilter:
    """A parsed, type-checked filter: its text, AST and predicate over events."""

    __slots__ = ("_predicate", "node", "table", "text")

    def __init__(self, text: str, node: Node, table: FieldTable) -> None:
        self.text = text
        self.node = node
        self.table = table
        self._predicate: Predicate = compile_node(node, table)

    @classmethod
    def compile(cls, text: str,
                manifests: Mapping[str, Manifest] | Iterable[Manifest] | FieldTable = ()
                ) -> DisplayFilter:
        """Parse and check ``text`` against the manifests; raise FilterSyntaxError."""
        table = manifests if isinstance(manifests, FieldTable) else FieldTable(manifests)
        return cls(text.strip(), parse_expression(text), table)  # positions: in ``text``

    def matches(self, row: FilterRow) -> bool:
        """True if the event passes the filter."""
        return self._predicate(row)

    @property
    def predicate(self) -> Predicate:
        """The bare predicate (a little faster than :meth:`matches` in a loop)."""
        return self._predicate

    def __str__(self) -> str:
        return unparse(self.node)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DisplayFilter) and other.node == self.node

    def __hash__(self) -> int:
        return hash(self.node)

    @property
    def names(self) -> frozenset[str]:
        """The field names the filter reads."""
        out: set[str] = set()
        stack: list[Node] = [self.node]
        while stack:
            node = stack.pop()
            if isinstance(node, And | Or):
                stack.extend(node.items)
            elif isinstance(node, Not):
                stack.append(node.item)
            else:
                out.add(node.field.name)
        return frozenset(out)

    def line_literals(self) -> list[list[bytes]]:
        """Byte strings a matching log line must contain: every group, one of each.

        Only what a match implies for certain (from the conditions joined by ``&&`` at
        the top): an event or provider name as the line writes it, a field's key, a text
        field's value as JSON, an int field's digits, text a ``contains`` looks for.
        """
        items = self.node.items if isinstance(self.node, And) else (self.node,)
        groups: list[list[bytes]] = []
        for node in items:
            groups.extend(self._node_literals(node))
        return groups

    def _node_literals(self, node: Node) -> list[list[bytes]]:
        if isinstance(node, Exists | Compare | In):
            return self._literals(node)
        if isinstance(node, Or):  # one branch holds: one of the branches' literals
            branches = [self._node_literals(n) for n in node.items]
            if all(branches):
                alts = {lit for b in branches for lit in b[-1]}
                # a literal holding another is implied by it: search for the shorter only
                return [sorted(a for a in alts if not any(o in a and o != a for o in alts))]
        if isinstance(node, And):
            return [g for n in node.items for g in self._node_literals(n)]
        return []

    def _literals(self, node: Exists | Compare | In) -> list[list[bytes]]:
        name = node.field.name
        if name in META:
            key = _LINE_KEYS.get(name)
            if key is None or isinstance(node, Exists):
                return []
            if isinstance(node, Compare) and node.op == "==" and node.value.text:
                return [[key + orjson.dumps(node.value.text)]]
            if isinstance(node, In) and not any(isinstance(i, Range) for i in node.items):
                return [[key + orjson.dumps(i.text) for i in node.items
                         if not isinstance(i, Range)]]
            return []
        groups = [[orjson.dumps(name) + b":"]]
        types = self.table.types.get(name)
        if not types or isinstance(node, Exists):
            return groups
        if isinstance(node, Compare) and node.op == "contains" and types == {"str"}:
            text = orjson.dumps(node.value.text)[1:-1]
            if text and text.decode() == node.value.text:  # nothing JSON escapes
                groups.append([text])
        values = [node.value] if isinstance(node, Compare) and node.op == "==" else \
            list(node.items) if isinstance(node, In) else []
        if values and not any(isinstance(v, Range) for v in values):
            lits = [_value_bytes(v.text, v.quoted, types) for v in values
                    if not isinstance(v, Range)]
            if all(lit is not None for lit in lits):
                # a plain value follows its key, as the compact JSON of a record writes it
                key = groups[0][0] if types != {"list"} else b""
                return [[key + lit for lit in lits if lit is not None]]
        return groups


def _value_bytes(text: str, quoted: bool, types: set[str]) -> bytes | None:
    """How a value equal to the literal is written in a line (None: not sure)."""
    if types == {"str"} or (types == {"list"} and quoted):  # a list: one of its items
        written = orjson.dumps(text)
        return written if written[1:-1].decode() == text else None  # nothing escaped
    if types == {"int"} and not quoted:
        try:
            return str(int(text, 0)).encode()
        except ValueError:
            return None
    return None
