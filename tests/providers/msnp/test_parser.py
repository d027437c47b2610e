"""MsnpStreamParser: framing, payloads by length, splits, dialect shapes, mid-session starts."""

from __future__ import annotations

import pytest

from providers.msnp import Command, MsnpStreamParser, ParseError


def commands(*chunks: bytes, parser: MsnpStreamParser | None = None) -> list[Command]:
    parser = parser or MsnpStreamParser()
    items = [item for chunk in chunks for item in parser.feed(chunk)]
    assert all(isinstance(i, Command) for i in items), items
    return items  # type: ignore[return-value]


def shape(command: Command) -> tuple:
    return command.verb, command.trid, command.args, command.payload_len, command.payload


TYPING = b"MIME-Version: 1.0\r\nContent-Type: text/x-msmsgscontrol\r\nTypingUser: a@b.c\r\n\r\n\r\n"
SESSION = (
    b"VER 1 MSNP8 CVR0\r\n"
    b"CVR 2 0x0409 winnt 5.1 i386 MSNMSGR 6.0.0602 MSMSGS a@b.c\r\n"
    b"USR 3 TWN I a@b.c\r\n"
    b"MSG 4 N %d\r\n%s"
    b"PNG\r\n"
    b"NOT 10\r\n<NOTIFY/>\r\n"
    b"OUT\r\n"
) % (len(TYPING), TYPING)


def test_crlf_framed_commands_with_trid_and_args():
    """Each CRLF-terminated line becomes one command with its verb, trid and arguments."""
    got = commands(b"VER 1 MSNP8 CVR0\r\nUSR 3 TWN I a@b.c\r\n")
    assert [shape(c) for c in got] == [
        ("VER", 1, ("MSNP8", "CVR0"), 0, b""),
        ("USR", 3, ("TWN", "I", "a@b.c"), 0, b""),
    ]


def test_payload_is_read_by_length_not_by_crlf():
    """A payload containing CRLFs and command-like lines is consumed whole, by its length."""
    body = b"MIME-Version: 1.0\r\n\r\nUSR 9 fake line\r\nOUT\r\n"
    got = commands(b"MSG 5 A %d\r\n%sACK 5\r\n" % (len(body), body))
    assert [shape(c) for c in got] == [
        ("MSG", 5, ("A", str(len(body))), len(body), body),
        ("ACK", 5, (), 0, b""),
    ]


def test_payload_without_trailing_crlf_is_followed_by_next_command():
    """A payload ending without CRLF is directly followed by the next command's line."""
    got = commands(b"MSG 1 N 5\r\nhelloMSG 2 N 2\r\nhi")
    assert [c.payload for c in got] == [b"hello", b"hi"]


@pytest.mark.parametrize("cut", range(1, len(SESSION)))
def test_split_at_every_byte_position(cut):
    """Splitting the stream at any byte gives the same commands as one chunk."""
    assert [shape(c) for c in commands(SESSION[:cut], SESSION[cut:])] == [
        shape(c) for c in commands(SESSION)
    ]


def test_byte_by_byte_feed():
    """Feeding one byte at a time gives the same commands, with the same offsets and sizes."""
    whole = commands(SESSION)
    trickled = commands(*(SESSION[i : i + 1] for i in range(len(SESSION))))
    assert [(shape(c), c.offset, c.size) for c in trickled] == [
        (shape(c), c.offset, c.size) for c in whole
    ]
    assert whole[-1].offset + whole[-1].size == len(SESSION)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # client and server forms of MSG
        (b"MSG 7 D 3\r\nabc", ("MSG", 7, ("D", "3"), 3)),
        (b"MSG bob@x.com Bob%20B 3\r\nabc", ("MSG", None, ("bob@x.com", "Bob%20B", "3"), 3)),
        (b"MSG Hotmail Hotmail 3\r\nabc", ("MSG", None, ("Hotmail", "Hotmail", "3"), 3)),
        # USR variants
        (b"USR 3 MD5 I a@b.c\r\n", ("USR", 3, ("MD5", "I", "a@b.c"), 0)),
        (b"USR 4 SSO S t=abc\r\n", ("USR", 4, ("SSO", "S", "t=abc"), 0)),
        (b"USR 5 OK a@b.c 1 0\r\n", ("USR", 5, ("OK", "a@b.c", "1", "0"), 0)),
        # XFR, RNG, CAL, JOI, IRO
        (
            b"XFR 3 NS 10.0.0.1:1863 0 10.0.0.2:1863\r\n",
            ("XFR", 3, ("NS", "10.0.0.1:1863", "0", "10.0.0.2:1863"), 0),
        ),
        (
            b"XFR 9 SB 10.0.0.3:1864 CKI 17.3.5\r\n",
            ("XFR", 9, ("SB", "10.0.0.3:1864", "CKI", "17.3.5"), 0),
        ),
        (
            b"RNG 11752013 10.0.0.3:1864 CKI 8491.52 a@b.c A\r\n",
            ("RNG", None, ("11752013", "10.0.0.3:1864", "CKI", "8491.52", "a@b.c", "A"), 0),
        ),
        (b"IRO 1 1 2 c@d.e Carol\r\n", ("IRO", 1, ("1", "2", "c@d.e", "Carol"), 0)),
        (b"BYE c@d.e\r\n", ("BYE", None, ("c@d.e",), 0)),
        # presence
        (b"NLN NLN a@b.c Al 268435492\r\n", ("NLN", None, ("NLN", "a@b.c", "Al", "268435492"), 0)),
        (b"ILN 9 NLN a@b.c Al\r\n", ("ILN", 9, ("NLN", "a@b.c", "Al"), 0)),
        (b"FLN a@b.c\r\n", ("FLN", None, ("a@b.c",), 0)),
        (b"UBX a@b.c 4\r\n<x/>", ("UBX", None, ("a@b.c", "4"), 4)),
        (b"UBX 1:a@b.c 4\r\n<x/>", ("UBX", None, ("1:a@b.c", "4"), 4)),
        (b"QNG 50\r\n", ("QNG", None, ("50",), 0)),
        # payload verbs whose replies carry none
        (b"ADL 7 OK\r\n", ("ADL", 7, ("OK",), 0)),
        (b"ADL 7 4\r\n<x/>", ("ADL", 7, ("4",), 4)),
        (b"QRY 12\r\n", ("QRY", 12, (), 0)),
        (
            b"QRY 12 PROD0090YUAUV{2B 32\r\n" + b"0" * 32,
            ("QRY", 12, ("PROD0090YUAUV{2B", "32"), 32),
        ),
        (b"UUX 10 0\r\n", ("UUX", 10, ("0",), 0)),
        (b"GCF 0 4\r\n<x/>", ("GCF", 0, ("4",), 4)),
        (b"UUN 8 a@b.c 1 2\r\nok", ("UUN", 8, ("a@b.c", "1", "2"), 2)),
        (b"PUT 15 3\r\nabc", ("PUT", 15, ("3",), 3)),
        (b"SDG 16 3\r\nabc", ("SDG", 16, ("3",), 3)),
        (b"NFY PUT 3\r\nabc", ("NFY", None, ("PUT", "3"), 3)),
        # numeric errors, with and without payload
        (b"911 3\r\n", ("911", 3, (), 0)),
        (b"241 7 4\r\n<x/>", ("241", 7, ("4",), 4)),
    ],
)
def test_dialect_shapes(line, expected):
    """Command shapes of MSNP2..MSNP21 give the right trid, arguments and payload length."""
    (command,) = commands(line)
    assert shape(command)[:4] == expected


def test_numeric_error_is_flagged():
    """Numeric verbs are error replies."""
    (command,) = commands(b"911 3\r\n")
    assert command.is_error


def test_stream_starting_mid_payload_resyncs_on_a_known_verb():
    """A capture starting inside a payload skips bytes until a line with a known verb."""
    parser = MsnpStreamParser()
    noise = b"ed to say\r\nLOL nope\r\nhello there\r\n"
    got = commands(noise + b"ACK 5\r\nMSG 6 N 2\r\nhi", parser=parser)
    assert [(c.verb, c.trid) for c in got] == [("ACK", 5), ("MSG", 6)]
    assert parser.stats.skipped_bytes == len(noise)
    assert parser.stats.errors == 0


def test_invalid_line_after_sync_is_counted_and_skipped():
    """Once in sync, a line that is not a command is an error and parsing goes on."""
    parser = MsnpStreamParser()
    items = parser.feed(b"VER 1 MSNP8\r\nthis is junk\r\nOUT\r\n")
    assert [type(i).__name__ for i in items] == ["Command", "ParseError", "Command"]
    assert items[1].kind == "invalid_line"
    assert parser.stats.invalid_lines == 1


def test_empty_lines_are_ignored():
    """Blank lines between commands yield nothing and are not errors."""
    parser = MsnpStreamParser()
    assert [c.verb for c in commands(b"PNG\r\n\r\n\r\nQNG 5\r\n", parser=parser)] == ["PNG", "QNG"]
    assert parser.stats.errors == 0


def test_non_utf8_line_is_kept_losslessly_and_counted():
    """A command line that is not UTF-8 shows its bytes escaped, keeps them raw, is counted."""
    parser = MsnpStreamParser()
    line = b"USR 5 TWN I caf\xe9@x.test \xff\xfe"
    (command,) = commands(line + b"\r\n", parser=parser)
    assert command.args == ("TWN", "I", "caf\\xe9@x.test", "\\xff\\xfe")
    assert command.raw == line
    assert parser.stats.decode_errors == 1


def test_raw_args_give_each_argument_as_its_bytes():
    """raw_args splits a non-UTF-8 line's bytes as args splits its text (TrID left out)."""
    (usr, msg) = commands(b"USR 5 TWN I caf\xe9@x.test\r\nMSG b\xf6b@x B 0\r\n")
    assert usr.raw_args == (b"TWN", b"I", b"caf\xe9@x.test")
    assert msg.raw_args == (b"b\xf6b@x", b"B", b"0")
    assert commands(b"PNG\r\n")[0].raw_args is None


def test_utf8_lines_carry_no_raw_bytes():
    """Every UTF-8 command line (the common case) has raw None: nothing is duplicated."""
    assert [c.raw for c in commands("JOI a@b.c Zoë\r\nPNG\r\n".encode())] == [None, None]


def test_non_utf8_payload_command_keeps_its_raw_line_across_chunks():
    """A payload command with a non-UTF-8 header keeps its raw line when the payload is late."""
    line = b"MSG b\xf6b@x.test B\xf6b 5"
    (command,) = commands(line + b"\r\nhe", b"llo")
    assert (command.raw, command.payload, command.args[0]) == (line, b"hello", "b\\xf6b@x.test")


def test_utf8_display_names_survive_a_split_inside_a_character():
    """A multi-byte UTF-8 character split between chunks is decoded intact."""
    line = "JOI a@b.c Zoë\r\n".encode()
    cut = line.index(b"\xc3") + 1
    (command,) = commands(line[:cut], line[cut:])
    assert command.args == ("a@b.c", "Zoë")


def test_stats_count_bytes_commands_and_payloads():
    """The statistics object counts input bytes, commands and payload bytes."""
    parser = MsnpStreamParser()
    parser.feed(SESSION)
    assert parser.stats.bytes_in == len(SESSION)
    assert parser.stats.commands == 7
    assert parser.stats.payload_bytes == len(TYPING) + 10
    assert parser.stats.as_dict()["errors"] == 0


def test_parse_error_carries_offset():
    """A parse error reports where in the stream it happened."""
    parser = MsnpStreamParser()
    items = parser.feed(b"OUT\r\nbad line\r\n")
    error = items[-1]
    assert isinstance(error, ParseError)
    assert error.offset == 5
