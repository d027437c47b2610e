"""The C scan of MSNP command lines gives exactly what the Python parser gives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.msnp import MsnpStreamParser
from providers.msnp import _parser as parser_module
from providers.msnp._accel import CPARSER, REASON

if CPARSER is None:
    print(f"skipping: providers.msnp._cparser is off ({REASON})")
    pytest.skip(f"providers.msnp._cparser is off ({REASON}): the parser runs in pure Python",
                allow_module_level=True)

REPO = Path(__file__).resolve().parents[3]

_VERBS = ["MSG", "USR", "CHG", "NLN", "ILN", "XFR", "ADL", "UBX", "UUX", "QRY", "OUT", "BYE",
          "JOI", "IRO", "ANS", "CAL", "ACK", "NAK", "VER", "CVR", "GCF", "911", "FQY", "XYZ",
          "msg", "M", "PNG", "QNG", "NOT", "RNG", "SBS"]
_WORDS = st.one_of(
    st.sampled_from(["1", "0", "12", "N", "U", "A", "D", "NLN", "bob@example.com", "OK",
                     "4294967295", "99999999999", "9" * 19, "007", "-1", "+5", "\uff11\uff12",
                     "é", "a\x1cb", "b\xa0c", "c\u3000d", "x\x85y", "١٢٣"]),
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=8),
)
_SEPARATORS = st.sampled_from([" ", "  ", "\t", " \x1c", "\x1f", "\x0b", "\x0c", "\xa0",
                               "\u2003"])


@st.composite
def _line(draw) -> bytes:
    """One command line, sometimes with a payload of a right or wrong length."""
    verb = draw(st.sampled_from(_VERBS))
    words = [verb, *draw(st.lists(_WORDS, max_size=5))]
    payload = draw(st.binary(max_size=40))
    length = draw(st.sampled_from([len(payload), len(payload), 0, len(payload) + 3, 1 << 21]))
    if draw(st.booleans()):
        words.append(str(length))
    sep = draw(_SEPARATORS)
    text = sep.join(words)
    if draw(st.booleans()):
        text = sep + text + sep
    return text.encode("utf-8", "surrogatepass") + b"\r\n" + (payload if words[-1] == str(
        length) else b"")


@st.composite
def _stream(draw) -> tuple[bytes, list[int]]:
    """Lines (and sometimes junk) and the cut points of the chunks they arrive in."""
    parts = draw(st.lists(st.one_of(_line(), st.binary(max_size=12),
                                    st.just(b"\r\n"), st.just(b"\xff\xfe\r\n")),
                          min_size=1, max_size=30))
    data = b"".join(parts)
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=8)))
    return data, cuts


def _parse(data: bytes, cuts: list[int], *, c: bool, **limits) -> tuple[list, dict, object]:
    """Everything a fresh parser gives for the chunks, and its counters and verdict."""
    saved = parser_module._scan_lines
    parser_module._scan_lines = saved if c else None
    try:
        parser = MsnpStreamParser(**limits)
        items = []
        for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
            items += parser.feed(data[a:b])
        return items, parser.stats.as_dict(), parser.failed
    finally:
        parser_module._scan_lines = saved


@settings(max_examples=400, deadline=None)
@given(_stream(), st.sampled_from([{}, {"max_line": 16}, {"max_payload": 8},
                                   {"max_errors": 2}]))
def test_c_scan_gives_the_same_items_counters_and_verdict(stream, limits):
    """For any bytes cut anywhere, the C scan and the Python parser agree on every item."""
    data, cuts = stream
    assert _parse(data, cuts, c=True, **limits) == _parse(data, cuts, c=False, **limits)


def test_unicode_whitespace_splits_arguments_as_str_split_does():
    """Arguments split on every separator str.split knows, ASCII or not, in both paths."""
    data = "CHG 5\x1cNLN\xa0extra\u3000more 0\r\n".encode()
    c_items, _, _ = _parse(b"VER 1 MSNP8\r\n" + data, [], c=True)
    assert c_items[1].args == ("NLN", "extra", "more", "0")
    assert c_items == _parse(b"VER 1 MSNP8\r\n" + data, [], c=False)[0]


def test_the_common_path_goes_through_the_c_scan():
    """Well-formed lines are parsed by the C scan (the Python fast path is not used)."""
    calls = []
    real = MsnpStreamParser._fast_lines
    MsnpStreamParser._fast_lines = lambda *a: calls.append(a) or real(*a)  # type: ignore
    try:
        parser = MsnpStreamParser()
        items = parser.feed(b"VER 1 MSNP8\r\nCHG 2 NLN 0\r\nMSG 3 N 5\r\nhello")
    finally:
        MsnpStreamParser._fast_lines = real  # type: ignore[method-assign]
    assert [i.verb for i in items] == ["VER", "CHG", "MSG"] and calls == []
    assert items[2].payload == b"hello" and parser.stats.commands == 3


def test_parser_tests_pass_without_the_c_scan():
    """The whole parser test suite passes in pure Python (WFPTRACE_PURE=1) too."""
    env = {**os.environ, "WFPTRACE_PURE": "1"}
    tests = [str(REPO / "tests" / "providers" / "msnp" / name)
             for name in ("test_parser.py", "test_parser_hostile.py", "test_http.py",
                          "test_parser_real_capture.py", "test_verbs.py")]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *tests], cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]


@pytest.mark.parametrize("words", [31, 32, 33, 200])
def test_lines_with_many_words_agree(words):
    """Lines with more words than the ASCII path splits itself take the generic path."""
    line = ("CHG 7 " + " ".join(f"w{i}" for i in range(words)) + "\r\n").encode()
    data = b"VER 1 MSNP8\r\n" + line + b"MSG 8 N 3\r\nabc"
    c_items = _parse(data, [], c=True)
    assert c_items == _parse(data, [], c=False)
    assert len(c_items[0][1].args) == words and c_items[0][2].payload == b"abc"


def test_verbs_share_one_string_object():
    """A known verb is not a new str per command (the ASCII path reuses the table's)."""
    items, _, _ = _parse(b"VER 1 MSNP8\r\nOUT\r\nOUT\r\n", [], c=True)
    assert items[1].verb is items[2].verb == "OUT"


def test_scan_lines_takes_the_state_in_and_gives_it_back():
    """The scan is a pure function: the sync flag, counters and a held command's header
    come back in its result, and it needs no parser object."""
    out: list = []
    data = b"junk\r\nVER 1 MSNP8\r\nMSG 2 N 10\r\nhel"
    stop, commands, payload_bytes, synced, pending = CPARSER.scan_lines(
        data, 6, 100, False, 1024, 1 << 20, 1000, None, out)
    assert (commands, payload_bytes, synced) == (1, 0, True) and out[0].offset == 1006
    assert pending == ("MSG", 2, ("N", "10"), "MSG 2 N 10", 119, 12, 10)
    assert data[stop:] == b"hel"
    assert CPARSER.scan_lines(data, 0, 0, False, 1024, 1 << 20, 0, None, []) \
        == (0, 0, 0, False, None)  # unsynced junk first: left to the general path


def test_scan_lines_rejects_bad_arguments():
    """Wrong types or a position outside the bytes raise instead of reading out of bounds."""
    with pytest.raises(TypeError):
        CPARSER.scan_lines(object(), b"", 0, 0, False)
    with pytest.raises(ValueError, match="pos out of range"):
        CPARSER.scan_lines(b"VER 1 MSNP8\r\n", 99, 0, False, 1024, 1024, 0, None, [])


@given(args=st.lists(_WORDS, max_size=12).map(tuple))
def test_arg_list_is_a_new_list_of_the_arguments(args):
    """arg_list gives a new list equal to list(args), which the caller may change freely."""
    made = CPARSER.arg_list(args)
    assert type(made) is list and made == list(args)
    made.append("more")
    assert CPARSER.arg_list(args) == list(args)


@pytest.mark.parametrize("args", [["a", "b"], ("a", 1), ("a", b"b"), (), "ab"])
def test_arg_list_of_anything_else_is_an_ordinary_list(args):
    """A list, a tuple holding other than strings, or a string: list(args), never an error."""
    assert CPARSER.arg_list(args) == list(args)
