"""Terminal-safe text: escape_text, message values, and format_event on hostile fields."""

from __future__ import annotations

import ast
import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from tracer import Event, escape_text, format_event, format_json, format_message, format_value

#: Categories no terminal may receive from event data: controls, format characters
#: (bidi overrides, zero-width, tags), surrogates, line and paragraph separators.
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})

#: Characters an attacker would pick, mixed into generated text more often than chance.
HOSTILE = ["\x1b", "\x1b[2J", "\x1b]0;pwned\x07", "\r", "\n", "\r\n", "\t", "\x00", "\x7f",
           "\x9b", "\x85", "\u202e", "\u202d", "\u2066", "\u2069", "\u200e", "\u200f", "\u061c",
           "\u2028", "\u2029", "\u200b", "\ufeff", "\U000e0041", "\\", "[bold]", "[/]", "[link=x]"]

hostile_text = st.lists(st.one_of(st.text(), st.sampled_from(HOSTILE))).map("".join)
field_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | hostile_text | st.binary(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(hostile_text, inner, max_size=4),
    max_leaves=8)
field_dicts = st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True), field_values,
                              max_size=5)


def unsafe_chars(text: str) -> list[str]:
    """The characters of ``text`` a terminal must not receive."""
    return [c for c in text if unicodedata.category(c) in UNSAFE_CATEGORIES]


def event(fields: dict, template: str = "", provider: str = "p", name: str = "E") -> Event:
    return Event(time_ns=1_795_000_000_000_000_000, seq=1, provider=provider, name=name, id=1,
                 level=4, keywords=(), pid=1, tid=2, fields=fields, template=template)


def test_every_unsafe_code_point_is_escaped() -> None:
    """Every control, format, surrogate and separator code point this Python knows is escaped."""
    for cp in range(sys.maxunicode + 1):
        c = chr(cp)
        if unicodedata.category(c) in UNSAFE_CATEGORIES:
            assert not unsafe_chars(escape_text(c)), f"U+{cp:04X} is not escaped"


def test_escapes_are_readable() -> None:
    """CR, LF and tab read as \\r \\n \\t, others as \\xNN or \\uNNNN, and a backslash doubles."""
    assert escape_text("a\r\nb\tc") == "a\\r\\nb\\tc"
    assert escape_text("\x1b[2J\x7f\x9b") == "\\x1b[2J\\x7f\\x9b"
    assert escape_text("abc\u202eexe.txt") == "abc\\u202eexe.txt"
    assert escape_text("tag\U000e0041") == "tag\\U000e0041"
    assert escape_text("C:\\x1b") == "C:\\\\x1b"


def test_printable_text_is_returned_unchanged() -> None:
    """Ordinary text, accents, CJK and emoji pass through as the same object."""
    for text in ("carol@sim.test", "héllo wörld", "中文 テキスト", "🙂 ok", ""):
        assert escape_text(text) is text


@given(hostile_text)
def test_escaping_is_unambiguous_and_safe(text: str) -> None:
    """The escaped text holds no unsafe character and reads back as the original literal."""
    escaped = escape_text(text)
    assert not unsafe_chars(escaped)
    assert ast.literal_eval('"' + escaped.replace('"', '\\"') + '"') == text


def test_message_values_are_not_python_reprs() -> None:
    """Lists read ``a, b``, None and empty values ``-``, bytes as text, dicts as k=v."""
    template = "{direction} {verb} {trid} {args}"
    fields = {"direction": "received", "verb": "BYE", "trid": None, "args": ["carol@sim.test"]}
    assert format_message(template, fields) == "received BYE - carol@sim.test"
    assert format_message("{a}", {"a": ["x", "y", 3]}) == "x, y, 3"
    assert format_message("{a}", {"a": []}) == "-"
    assert format_message("{a}", {"a": b"hello"}) == "hello"
    assert format_message("{a}", {"a": b"\xff\x00"}) == "0xff00"
    assert format_message("{a}", {"a": {"k": 1, "l": [2, 3]}}) == "k=1, l=[2, 3]"
    assert format_message("", {"a": None, "b": [1]}) == "a=- b=1"


def test_format_specs_still_apply_to_plain_values() -> None:
    """Templates with format specs keep working on numbers and strings."""
    assert format_message("{port:>6}|{x:.2f}", {"port": 1863, "x": 1.5}) == "  1863|1.50"
    assert format_value(True) == "True" and format_value(7) == "7"


def test_escape_sequence_in_a_field_is_shown_not_run() -> None:
    """An ESC sequence a peer puts in a field prints as text: no ESC byte on the line."""
    line = format_event(event({"text": "hi\x1b[2J\x1b[H"}, "{text}"))
    assert line.endswith(": hi\\x1b[2J\\x1b[H") and "\x1b" not in line


def test_legacy_crlf_message_stays_on_one_line() -> None:
    """The monitor's legacy messages keep their \\r\\n visible, on one line."""
    template = "Message Received. Local Port: {local_port} Message: {message}"
    line = format_event(event({"local_port": 1863, "message": "MSG 1 N 5\r\nhello\r\n"},
                              template))
    assert "\r" not in line and "\n" not in line
    assert line.endswith("Message: MSG 1 N 5\\r\\nhello\\r\\n")


def test_json_output_keeps_raw_values() -> None:
    """--json keeps the data as is (JSON escapes the C0 controls itself)."""
    text = format_json(event({"text": "a\x1b\r\n"}, "{text}"))
    assert "\x1b" not in text and '"a\\u001b\\r\\n"' in text


@settings(max_examples=300, deadline=None)
@given(fields=field_dicts, provider=hostile_text, name=hostile_text, extra=hostile_text)
def test_fmt_lines_hold_no_unsafe_character(fields: dict, provider: str, name: str,
                                            extra: str) -> None:
    """Whatever the fields, provider and event name hold, a fmt line has no unsafe character."""
    template = extra + "".join(f"{{{k}}}" for k in fields)
    line = format_event(event(fields, template, provider, name))
    assert not unsafe_chars(line)
