"""Hostile event data never reaches the terminal: rows, detail pane and the whole screen."""

from __future__ import annotations

import unicodedata

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.cells import cell_len

from tracer import Event
from viewer import LocalDecisionSource, TraceViewApp
from viewer._columns import row_segments
from viewer._detail import detail_text
from viewer._ring import EventRing

from .conftest import T0, wait_for

UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
HOSTILE = ["\x1b", "\x1b[2J", "\x1b]0;pwned\x07", "\r", "\n", "\r\n", "\t", "\x00", "\x7f",
           "\x9b", "\x85", "\u202e", "\u2066", "\u200f", "\u061c", "\u2028", "\u2029", "\u200b",
           "\ufeff", "\U000e0041", "\\", "[bold]", "[/]", "[link=x]", "中", "🙂", "e\u0301"]

hostile_text = st.lists(st.one_of(st.text(), st.sampled_from(HOSTILE))).map("".join)
field_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 60), 1 << 60) | hostile_text | st.binary(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(hostile_text, inner, max_size=3),
    max_leaves=6)
field_dicts = st.dictionaries(hostile_text, field_values, max_size=4)


def unsafe_chars(text: str) -> list[str]:
    return [c for c in text if unicodedata.category(c) in UNSAFE_CATEGORIES]


def hostile_event(seq: int, fields: dict, template: str = "", provider: str = "msnmon",
                  name: str = "Message", kind: str = "event") -> Event:
    return Event(time_ns=T0 + seq, seq=seq, provider=provider, name=name, id=3, level=4,
                 keywords=("message",), pid=10, tid=11, fields=fields, template=template,
                 kind=kind)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fields=field_dicts, provider=hostile_text, name=hostile_text, extra=hostile_text,
       width=st.integers(58, 160))  # the fixed columns take 57 cells
def test_rows_hold_no_unsafe_character_and_fit_the_width(fields: dict, provider: str, name: str,
                                                         extra: str, width: int) -> None:
    """Whatever an event holds, its row has no control/bidi character and is ``width`` cells."""
    ring = EventRing(10)
    template = extra + "".join(f"{{{k}}}" for k in fields)
    ring.append(hostile_event(1, fields, template, provider, name))
    segments = row_segments(ring, ring.start, width)
    text = "".join(s.text for s in segments)
    assert not unsafe_chars(text)
    assert cell_len(text) == width


@settings(max_examples=200, deadline=None)
@given(fields=field_dicts, provider=hostile_text, name=hostile_text)
def test_detail_pane_holds_no_unsafe_character(fields: dict, provider: str, name: str) -> None:
    """The detail pane shows every field on its own line, each free of unsafe characters."""
    text = detail_text(hostile_event(1, fields, "", provider, name)).plain
    lines = text.split("\n")
    assert len(lines) == 3 + len(fields)  # envelope, message, one per field, final newline
    assert not any(unsafe_chars(line) for line in lines)


def test_legacy_crlf_message_is_one_row_with_visible_escapes() -> None:
    """A legacy monitor message's \\r\\n shows as text in one row; the row does not smear."""
    ring = EventRing(10)
    ring.append(hostile_event(1, {"message": "MSG a@b 5\r\nhello\r\n"}, "Message: {message}"))
    text = "".join(s.text for s in row_segments(ring, ring.start, 120))
    assert "Message: MSG a@b 5\\r\\nhello\\r\\n" in text and "\r" not in text


def test_escape_sequence_in_a_field_is_shown_not_run() -> None:
    """A screen-clearing ESC sequence in a field is drawn as the characters \\x1b[2J."""
    ring = EventRing(10)
    ring.append(hostile_event(1, {"text": "hi\x1b[2J\x1b[H"}, "{text}"))
    text = "".join(s.text for s in row_segments(ring, ring.start, 80))
    assert "hi\\x1b[2J\\x1b[H" in text and "\x1b" not in text


def _hostile_events() -> list[Event]:
    evil = "\x1b[2J\x1b[Hgot you\r\n[bold red]fake[/] [/] \u202eexe.txt\u202c\x9b31m\U000e0041"
    return [
        hostile_event(1, {"message": "MSG 1 N 5\r\nhello\r\n", "local_port": 1863},
                      "Message Received. Local Port: {local_port} Message: {message}"),
        hostile_event(2, {"text": evil, "to": ["carol@sim.test", evil], "trid": None},
                      "{text} {to} {trid}", provider="evil\x1b[31m[b]", name="N\u202eame"),
        hostile_event(3, {"count": 5, "first_ns": T0, "last_ns": T0}, kind="lost"),
    ]


async def test_screen_with_hostile_events_holds_no_unsafe_character() -> None:
    """The composed screen (rows, detail pane, decisions) holds no control or bidi character."""
    source = LocalDecisionSource(timeout=60)
    source.submit(process="evil\x1b]0;x\x07[/]", pid=1, protocol="tcp", local="10.0.0.1",
                  local_port=1, remote="\u202e10.0.0.2", remote_port=2)
    app = TraceViewApp(None, decisions=source)
    app.ring.extend(_hostile_events())
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: len(app.rows) == 3)
        await pilot.press("up", "enter")  # the detail pane of the hostile event
        await pilot.pause(0.3)
        strips = app.screen._compositor.render_strips()
        text = "\n".join("".join(seg.text for seg in strip) for strip in strips)
        assert not [line for line in text.split("\n") if unsafe_chars(line)]
        assert all(strip.cell_length == 100 for strip in strips)
        assert "got you\\r\\n[bold red]fake[/]" in text  # shown, neither run nor styled
        assert "Received. Local Port: 1863 Message" in text  # the legacy row, on one line
        assert "evil\\x1b]0;x\\x07[/][1]" in text  # the decisions panel


def _screen_text(app: TraceViewApp) -> str:
    return "\n".join("".join(seg.text for seg in strip)
                     for strip in app.screen._compositor.render_strips())


async def test_filter_dialog_and_search_echo_show_data_literally() -> None:
    """Provider names in the filter dialog and a search's "not found" echo are not markup."""
    app = TraceViewApp(None)
    app.ring.extend(_hostile_events())
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await wait_for(pilot, lambda: len(app.rows) == 3)
        await pilot.press("slash", *"[/]x", "enter")
        await pilot.pause(0.3)
        text = _screen_text(app)
        assert "not found: [/]x" in text and not unsafe_chars(text.replace("\n", ""))
        await pilot.press("f")
        await pilot.pause(0.3)
        text = _screen_text(app)
        assert "evil\\x1b[31m[b]" in text and not unsafe_chars(text.replace("\n", ""))
