"""Display filters, syntax: a lexer and a precedence-climbing parser into a small AST.

The language is Wireshark's display-filter language over event fields::

    verb == "MSG" && destination.port == 1863
    !(level <= warning) or provider == wfptrace-msnmon
    destination.port in {1863 6891..6900}
    args contains "alice" and text matches "^hi"
    network.community_id                      (the field exists)

``&&``/``and`` binds tighter than ``||``/``or``; ``!``/``not`` tighter than both.
Every node keeps the position of its text, so errors point at it with a caret.
Types are checked later, against the manifests (:mod:`tracer._dfilter_types`).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from ._errors import TracerError

__all__ = ["And", "Compare", "Exists", "FieldRef", "FilterSyntaxError", "In", "Literal",
           "Node", "Not", "Or", "Range", "parse_expression", "unparse"]

#: Longest filter text accepted (a filter is typed by a person; bounded work).
MAX_LENGTH = 4096
_MAX_DEPTH = 64


class FilterSyntaxError(TracerError, ValueError):
    """A filter that cannot be used, with the position (``pos``..``end``) of the culprit."""

    def __init__(self, message: str, pos: int, end: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos
        self.end = max(pos + 1, end if end is not None else pos + 1)

    def caret(self, text: str) -> str:
        """The filter, and under it ``^~~~`` marking the culprit (two lines; a control
        character shows as ``·``, so columns stay aligned and the terminal safe)."""
        pos = min(self.pos, len(text))
        width = max(1, min(self.end, len(text) + 1) - pos)
        shown = "".join(c if c.isprintable() else "·" for c in text)
        return f"{shown}\n{' ' * pos}^{'~' * (width - 1)}"

    def __str__(self) -> str:
        return f"{self.message} (at column {self.pos + 1})"


def _pos() -> int:
    """A position: kept for messages, ignored when comparing nodes."""
    return dataclasses.field(default=0, compare=False)


# -- AST --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Literal:
    """A value as written: quoted text, or a bare word (a number, a name, an address)."""

    text: str
    quoted: bool = False
    pos: int = _pos()
    end: int = _pos()


@dataclass(frozen=True)
class Range:
    """``lo..hi`` in a set (both ends included)."""

    lo: Literal
    hi: Literal


@dataclass(frozen=True)
class FieldRef:
    """A field name (dotted, e.g. ``destination.port``)."""

    name: str
    pos: int = _pos()
    end: int = _pos()


@dataclass(frozen=True)
class Exists:
    """``field``: true if the event has the field."""

    field: FieldRef


@dataclass(frozen=True)
class Compare:
    """``field OP value`` (OP one of == != < <= > >= contains matches)."""

    field: FieldRef
    op: str
    value: Literal
    op_pos: int = _pos()


@dataclass(frozen=True)
class In:
    """``field in {a b c..d}``."""

    field: FieldRef
    items: tuple[Literal | Range, ...]


@dataclass(frozen=True)
class Not:
    item: Node


@dataclass(frozen=True)
class And:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    items: tuple[Node, ...]


Node = Exists | Compare | In | Not | And | Or

# -- lexer ------------------------------------------------------------------------------
_WORD_OPS = {"eq": "==", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<=",
             "contains": "contains", "matches": "matches", "~": "matches"}
COMPARISONS = ("==", "!=", "<=", ">=", "<", ">", "contains", "matches")
_OP = re.compile(r"==|!=|<=|>=|<|>|~|&&|\|\||!|\(|\)|\{|\}|,|\.\.")
_WORD = re.compile(r"(?:[^\s()!{}<>=&|,\"'~.]|\.(?!\.)|=(?!=))+")
_SPACE = re.compile(r"\s+")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0"}
_HEX = re.compile(r"[0-9a-fA-F]+")


@dataclass(frozen=True)
class _Tok:
    kind: str  # str, op, word, end
    text: str  # a str token's text is its value, quotes and escapes resolved
    pos: int
    end: int


def _string(text: str, pos: int) -> tuple[str, int]:
    """The quoted text starting at ``pos``: (its value, the position after it)."""
    quote, i = text[pos], pos + 1
    out: list[str] = []
    while i < len(text):
        c = text[i]
        if c == quote:
            return "".join(out), i + 1
        if c != "\\":
            out.append(c)
            i += 1
            continue
        nxt = text[i + 1:i + 2]
        width = {"x": 2, "u": 4, "U": 8}.get(nxt, 0)
        digits = text[i + 2:i + 2 + width]
        if width and len(digits) == width and _HEX.fullmatch(digits) and \
                int(digits, 16) <= 0x10FFFF:
            out.append(chr(int(digits, 16)))
            i += 2 + width
        elif nxt in _ESCAPES:
            out.append(_ESCAPES[nxt])
            i += 2
        else:
            raise FilterSyntaxError(f"unknown escape \\{nxt}" if nxt else
                                    "text without its closing quote", i, i + 2)
    raise FilterSyntaxError("text without its closing quote", pos, len(text))


def tokenize(text: str) -> list[_Tok]:
    """The tokens of ``text``; an ``end`` token closes the list."""
    out, pos = [], 0
    while pos < len(text):
        if m := _SPACE.match(text, pos):
            pos = m.end()
            continue
        if text[pos] in "\"'":
            value, end = _string(text, pos)
            out.append(_Tok("str", value, pos, end))
            pos = end
            continue
        m = _OP.match(text, pos) or _WORD.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = " (use && or ||)" if ch in "&|" else " (use ==)" if ch == "=" else ""
            raise FilterSyntaxError(f"unexpected {ch!r}{hint}", pos)
        out.append(_Tok("op" if m.re is _OP else "word", m.group(), pos, m.end()))
        pos = m.end()
    out.append(_Tok("end", "", len(text), len(text)))
    return out


# -- parser -----------------------------------------------------------------------------
class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        t = self.toks[self.i]
        self.i += 1
        return t

    def is_(self, *texts: str) -> bool:
        """True if the current token is one of ``texts`` (words in any case)."""
        t = self.tok
        if t.kind == "word":
            return t.text.lower() in texts
        return t.kind == "op" and t.text in texts

    def fail(self, message: str, tok: _Tok | None = None) -> FilterSyntaxError:
        t = tok or self.tok
        found = "the end" if t.kind == "end" else repr(t.text)
        return FilterSyntaxError(f"{message}, found {found}", t.pos, t.end)

    def parse(self) -> Node:
        if self.tok.kind == "end":
            raise FilterSyntaxError("empty filter", 0)
        node = self.or_()
        if self.tok.kind != "end":
            raise self.fail("expected && or || between conditions")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.is_("||", "or"):
            self.take()
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.unary()]
        while self.is_("&&", "and"):
            self.take()
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        self.depth += 1
        if self.depth > _MAX_DEPTH:
            raise FilterSyntaxError("filter nested too deeply", self.tok.pos)
        try:
            if self.is_("!", "not"):
                self.take()
                return Not(self.unary())
            if self.is_("("):
                self.take()
                node = self.or_()
                if not self.is_(")"):
                    raise self.fail("expected )")
                self.take()
                return node
            return self.condition()
        finally:
            self.depth -= 1

    def condition(self) -> Node:
        t = self.tok
        if t.kind != "word" or t.text.lower() in _KEYWORDS:
            raise self.fail("expected a field name")
        self.take()
        ref = FieldRef(t.text, t.pos, t.end)
        op_tok = self.tok
        if op_tok.kind == "op" and op_tok.text in _WORD_OPS:
            op = _WORD_OPS[op_tok.text]
        elif op_tok.kind == "op" and op_tok.text in COMPARISONS:
            op = op_tok.text
        elif op_tok.kind == "word" and op_tok.text.lower() in _WORD_OPS:
            op = _WORD_OPS[op_tok.text.lower()]
        elif op_tok.kind == "word" and op_tok.text.lower() == "in":
            self.take()
            return In(ref, self.set_())
        else:
            if op_tok.text == "=":
                raise self.fail("use == to compare", op_tok)
            if op_tok.kind == "word" and op_tok.text.lower() not in _KEYWORDS:
                # two words in a row: a value without an operator
                raise self.fail(f"expected an operator after {t.text}")
            return Exists(ref)
        self.take()
        return Compare(ref, op, self.value(), op_tok.pos)

    def value(self) -> Literal:
        t = self.tok
        if t.kind == "str":
            self.take()
            return Literal(t.text, True, t.pos, t.end)
        if t.kind == "word" and t.text.lower() not in _KEYWORDS:
            self.take()
            return Literal(t.text, False, t.pos, t.end)
        raise self.fail("expected a value")

    def set_(self) -> tuple[Literal | Range, ...]:
        if not self.is_("{"):
            raise self.fail("expected { after in")
        self.take()
        items: list[Literal | Range] = []
        while not self.is_("}"):
            if self.tok.kind == "end":
                raise self.fail("expected } to close the set")
            lo = self.value()
            if self.is_(".."):
                self.take()
                items.append(Range(lo, self.value()))
            else:
                items.append(lo)
            if self.is_(","):
                self.take()
        if not items:
            raise self.fail("an empty set matches nothing")
        self.take()
        return tuple(items)


_KEYWORDS = frozenset({"and", "or", "not", "in"})


def parse_expression(text: str) -> Node:
    """Parse a filter into its AST; raise :class:`FilterSyntaxError` with the position."""
    if len(text) > MAX_LENGTH:
        raise FilterSyntaxError(f"filter longer than {MAX_LENGTH} characters", MAX_LENGTH)
    return _Parser(text).parse()


# -- back to text -----------------------------------------------------------------------
_BARE_OK = re.compile(r"""^(?:[^\s()!{}<>=&|,"'~.\\]|\.(?!\.)|=(?!=))+$""")


def _escape(code: int) -> str:
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 \
        else f"\\U{code:08x}"


def quoted(value: str) -> str:
    """``value`` as quoted filter text (escapes for quotes, backslashes, controls)."""
    out = value.replace("\\", "\\\\").replace('"', '\\"')
    out = "".join(c if c.isprintable() else _escape(ord(c)) for c in out)
    return f'"{out}"'


def quote(value: str) -> str:
    """``value`` as a filter literal: bare if it reads back the same, else quoted."""
    reserved = value.lower() in _KEYWORDS or value.lower() in _WORD_OPS
    if value.isprintable() and _BARE_OK.match(value) and not reserved:
        return value
    return quoted(value)


def _lit(v: Literal) -> str:
    return quoted(v.text) if v.quoted else v.text


def unparse(node: Node) -> str:
    """The filter text of an AST (parses back to an equal AST)."""
    if isinstance(node, Exists):
        return node.field.name
    if isinstance(node, Compare):
        return f"{node.field.name} {node.op} {_lit(node.value)}"
    if isinstance(node, In):
        items = " ".join(f"{_lit(i.lo)}..{_lit(i.hi)}" if isinstance(i, Range) else _lit(i)
                         for i in node.items)
        return f"{node.field.name} in {{{items}}}"
    if isinstance(node, Not):
        return f"!{_wrap(node.item)}"
    if isinstance(node, And):
        return " && ".join(_wrap(i) for i in node.items)
    return " || ".join(_wrap(i) if isinstance(i, Or) else unparse(i) for i in node.items)


def _wrap(node: Node) -> str:
    return f"({unparse(node)})" if isinstance(node, And | Or) else unparse(node)
