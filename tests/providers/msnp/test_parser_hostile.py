"""MsnpStreamParser on hostile input: counted errors, bounded memory, never an exception."""

from __future__ import annotations

import tracemalloc

from hypothesis import given, settings
from hypothesis import strategies as st

from providers.msnp import Command, MsnpStreamParser, ParseError


def test_endless_line_without_crlf_is_an_error_and_memory_stays_bounded():
    """An endless line is reported once, discarded, and the parser keeps only a bounded tail."""
    parser = MsnpStreamParser(max_line=4096)
    errors = []
    tracemalloc.start()
    for _ in range(2000):
        errors += parser.feed(b"A" * 1000)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert [e.kind for e in errors] == ["line_too_long"]
    assert parser.stats.line_too_long == 1
    assert peak < 64 * 1024
    # the stream recovers at the next line end
    assert [c.verb for c in parser.feed(b"\r\nOUT\r\n")] == ["OUT"]


def test_long_line_arriving_byte_by_byte_is_cheap():
    """A long line trickling in one byte at a time is not re-copied on every byte."""
    parser = MsnpStreamParser(max_line=64 * 1024)
    for _ in range(60_000):
        parser.feed(b"x")
    assert parser.feed(b"\r\n") == []
    assert parser.stats.errors == 0


def test_two_gigabyte_length_field_is_an_error_not_an_allocation():
    """A 2 GB payload length is refused, counted, and the parser resyncs on the next command."""
    parser = MsnpStreamParser()
    items = parser.feed(b"MSG 1 N 2147483648\r\nMIME-Version: 1.0\r\n\r\nrubbish\r\nOUT\r\n")
    assert isinstance(items[0], ParseError)
    assert (items[0].kind, items[0].action) == ("payload_too_large", "resync")
    assert [i.verb for i in items if isinstance(i, Command)] == ["OUT"]
    assert parser.stats.payload_too_large == 1


def test_absurdly_long_numbers_do_not_raise():
    """Thousands of digits as TrID or length are handled, not passed to int() unchecked."""
    parser = MsnpStreamParser()
    digits = b"9" * 5000
    items = parser.feed(b"MSG " + digits + b" N " + digits + b"\r\nCHG " + digits + b" NLN\r\n")
    assert getattr(items[0], "kind", None) == "payload_too_large"
    chg = items[-1]
    assert isinstance(chg, Command) and chg.trid is None and chg.args[0] == digits.decode()


def test_too_many_errors_drops_the_stream_with_a_reason():
    """After max_errors errors the stream is given up; later bytes are only counted."""
    parser = MsnpStreamParser(max_errors=3)
    parser.feed(b"OUT\r\n")
    items = parser.feed(b"junk\r\n" * 5)
    assert [i.kind for i in items] == ["invalid_line"] * 3 + ["too_many_errors"]
    assert items[-1].action == "dropped"
    assert parser.failed
    assert parser.feed(b"OUT\r\n") == []
    assert parser.stats.dropped_bytes > 0


def test_payload_of_max_size_is_accepted_but_one_more_byte_is_not():
    """The payload bound is inclusive."""
    parser = MsnpStreamParser(max_payload=100)
    ok = parser.feed(b"MSG 1 N 100\r\n" + b"x" * 100)
    bad = parser.feed(b"MSG 2 N 101\r\n")
    assert isinstance(ok[0], Command) and ok[0].payload_len == 100
    assert isinstance(bad[0], ParseError)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=30))
def test_fuzzed_bytes_never_raise(chunks):
    """Arbitrary byte chunks never raise and every item is a Command or ParseError."""
    parser = MsnpStreamParser(max_line=256, max_payload=512)
    for chunk in chunks:
        for item in parser.feed(chunk):
            assert isinstance(item, Command | ParseError) or type(item).__name__ == "HttpEnvelope"
    assert len(parser._rest) <= 256 + 300
    assert len(parser._payload) <= 512 + 300


_WORDS = st.sampled_from(
    [
        b"MSG",
        b"USR",
        b"ADL",
        b"241",
        b"POST",
        b"HTTP/1.1",
        b"1",
        b"N",
        b"99",
        b"4",
        b"OK",
        b"\r\n",
        b" ",
        b"\r",
        b"\n",
        b"\xff",
        b"Content-Length: 5",
        b"\r\n\r\n",
        b"a@b.c",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_WORDS, max_size=60), st.integers(min_value=1, max_value=20))
def test_fuzzed_near_protocol_input_never_raises(words, step):
    """Protocol-like token soup, fed in any chunk size, never raises and stays bounded."""
    data = b"".join(words)
    parser = MsnpStreamParser(max_line=128, max_payload=64)
    for i in range(0, len(data), step):
        parser.feed(data[i : i + step])
    assert parser.stats.bytes_in == len(data)
