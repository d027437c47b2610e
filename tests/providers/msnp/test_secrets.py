"""Secret shapes of MSNP2-21 and the chunk redactor for raw stream text."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.msnp import MsnpStreamParser, StreamRedactor, redact_args, secret_args
from providers.msnp._secrets import MAX_LINE
from tests.providers.msnmon.secretshapes import (
    BODY,
    CONVERSATIONS,
    GUID,
    PUBLIC,
    SECRETS,
)
from tracer import Redactor

R = Redactor(b"k" * 32)


def _token(value: bytes) -> str:
    return R.token(value)


def _args(line: str) -> tuple[str, tuple[str, ...]]:
    """The verb and the args (after the TrID) the real parser gives for one line."""
    [cmd] = MsnpStreamParser().feed(line.encode() + b"\r\n")
    return cmd.verb, cmd.args


SHAPES = [
    # (line as on the wire, the args that are secret)
    ("USR 2 MD5 I alice@example.com", ()),  # MSNP2-7
    ("USR 2 MD5 S 1013928519.693957190", ("1013928519.693957190",)),
    ("USR 3 MD5 S 9a8f7e6d5c4b3a29181716151413f00d", ("9a8f7e6d5c4b3a29181716151413f00d",)),
    ("USR 3 CTP S hunter2", ("hunter2",)),
    ("USR 3 OK alice@example.com Alice", ()),
    ("USR 2 TWN I bob@example.com", ()),  # MSNP8-14
    ("USR 2 TWN S lc=1033,id=507,ct=1062764229,kpp=1", ("lc=1033,id=507,ct=1062764229,kpp=1",)),
    ("USR 3 TWN S t=53*1hAu8ADuD3$$&p=MBbz!j", ("t=53*1hAu8ADuD3$$&p=MBbz!j",)),
    ("USR 3 OK bob@example.com Bob 1 0", ()),
    ("USR 2 SSO I dave@example.com", ()),  # MSNP15-21
    ("USR 2 SSO S MBI_KEY_OLD 8CLhG/xfgYZ7TyRQ==", ("8CLhG/xfgYZ7TyRQ==",)),
    ("USR 3 SSO S t=EwCoARAn&p= HAAAAAEAAAAD==", ("t=EwCoARAn&p=", "HAAAAAEAAAAD==")),
    (f"USR 3 SSO S t=EwDoAW HAAAA== {GUID}", ("t=EwDoAW", "HAAAA==")),
    ("USR 4 SHA A c2hhdGlja2V0", ("c2hhdGlja2V0",)),
    ("USR 3 OK dave@example.com 1 0", ()),
    ("USR 1 bob@example.com 17262740.1050826919.32308", ("17262740.1050826919.32308",)),
    (f"USR 1 bob@example.com;{GUID} 17262740.105", ("17262740.105",)),  # switchboard
    ("USR 1 OK bob@example.com Bob", ()),
    ("XFR 4 SB 10.0.0.9:1863 CKI 17262740.1050826919.32308",
     ("17262740.1050826919.32308",)),
    ("XFR 4 SB 10.0.0.9:1863 CKI 17262740.105 U messenger.msn.com 1", ("17262740.105",)),
    ("XFR 3 NS 10.0.0.7:1863 0 10.0.0.5:1863", ()),
    ("RNG 11752013 10.0.0.8:1863 CKI 849102291.520491113 carol@example.com Carol",
     ("849102291.520491113",)),
    ("ANS 1 carol@example.com 849102291.520491113 11752013", ("849102291.520491113",)),
    ("ANS 1 OK", ()),
    ("CAL 5 carol@example.com", ()),
]


@pytest.mark.parametrize(("line", "secret"), SHAPES)
def test_secret_args_of_every_version_shape(line, secret):
    """Each shape's tickets, cookies, salts, nonces and blobs are its secret args, no more."""
    verb, args = _args(line)
    assert tuple(args[i] for i in secret_args(verb, args)) == secret


@pytest.mark.parametrize(("line", "secret"), SHAPES)
def test_redact_args_replaces_only_the_secrets(line, secret):
    """redact_args keeps public args in place and puts a token for each secret."""
    verb, args = _args(line)
    out = redact_args(verb, args, R.token)
    assert [a for a in out if a not in args] == [R.token(s) for s in secret]
    assert not any(s in " ".join(out) for s in secret)


def _streams() -> list[bytes]:
    """Each direction of each conversation of the secret capture, as one byte stream."""
    out = []
    for _, _, turns in CONVERSATIONS:
        for side in (True, False):
            out.append(b"".join(data for c, data in turns if c is side))
    return out


def _redact(stream: bytes, cuts: list[int], **flags: bool) -> bytes:
    r = StreamRedactor(_token, **flags)
    points = sorted({c % (len(stream) + 1) for c in cuts})
    return b"".join(r.redact(stream[a:b]) for a, b in zip([0, *points], [*points, len(stream)],
                                                           strict=True))


def _leaks(text: bytes) -> list[str]:
    return [s for s in SECRETS if s.encode() in text]


def test_whole_streams_show_no_secret_and_keep_the_public_values():
    """Every stream of the capture redacted whole: no secret left, identities kept."""
    streams = _streams()
    shown = b"".join(StreamRedactor(_token).redact(s) for s in streams)
    assert _leaks(shown) == []
    assert all(p.encode() in shown for p in PUBLIC)
    assert R.token(b"17262740.1050826919.32308").encode() in shown


def test_no_cut_point_lets_a_secret_through():
    """Cut anywhere into two chunks, no stream shows any secret (nor part of one: checked
    by its first 8 bytes)."""
    for stream in _streams():
        for cut in range(1, len(stream)):
            shown = _redact(stream, [cut])
            assert [s for s in SECRETS if s[:8].encode() in shown] == [], (cut, shown)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=2000), max_size=30))
def test_any_chunking_lets_no_secret_through(cuts):
    """However a stream is cut into chunks, no secret is shown."""
    for stream in _streams():
        assert _leaks(_redact(stream, cuts)) == []


def test_with_nothing_redacted_the_stream_is_unchanged():
    """secrets=False and bodies=False give every chunk back byte for byte."""
    for stream in _streams():
        assert _redact(stream, [7, 50, 51, 300], secrets=False, bodies=False) == stream


def test_bodies_and_secrets_are_separate_choices():
    """Bodies captured: the text shows, tickets do not; secrets captured: the reverse."""
    stream = b"".join(_streams())
    bodies_shown = StreamRedactor(_token, bodies=False).redact(stream)
    assert BODY.encode() in bodies_shown and _leaks(bodies_shown) == [BODY]
    secrets_shown = StreamRedactor(_token, secrets=False).redact(stream)
    assert BODY.encode() not in secrets_shown and b"cookiesecret123" in secrets_shown


def test_a_body_over_several_chunks_stays_redacted_and_other_payloads_show():
    """A MSG body cut in three is redacted piece by piece; a UUX payload and an empty
    typing body are shown as they are."""
    body = b"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n" + b"secret words " * 20
    uux = b"<Data><PSM>at lunch</PSM></Data>"
    stream = (b"MSG 5 N %d\r\n" % len(body)) + body + (b"UUX 6 %d\r\n" % len(uux)) + uux
    stream += b"MSG 7 U 47\r\nMIME-Version: 1.0\r\nTypingUser: a@b.c\r\n\r\n\r\n"
    shown = _redact(stream, [60, 140, 200])
    assert b"secret" not in shown and uux in shown and b"TypingUser: a@b.c\r\n\r\n\r\n" in shown


def test_a_length_over_the_bound_is_no_payload():
    """A declared length over max_payload does not hide the commands after it: they are
    read as lines (as the parser resyncs), so their secrets are still found."""
    stream = b"UUX 1 99999999\r\nUSR 3 TWN S t=ticketsecret\r\n"
    shown = StreamRedactor(_token, max_payload=1 << 20).redact(stream)
    assert b"ticketsecret" not in shown and shown.startswith(b"UUX 1 99999999\r\nUSR 3 TWN S <")


def test_lines_that_are_no_command_are_redacted():
    """Text where a command should start (a body after a desync) is shown as a token."""
    shown = StreamRedactor(_token).redact(b"my password is hunter2\r\nCHG 9 NLN 0\r\n")
    assert b"hunter2" not in shown and shown.endswith(b"\r\nCHG 9 NLN 0\r\n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=3000), max_size=8))
def test_hostile_bytes_never_crash_and_the_kept_line_is_bounded(chunks):
    """Any bytes are redacted without an error; the unfinished line kept stays bounded."""
    r = StreamRedactor(_token)
    for chunk in chunks:
        r.redact(chunk)
        assert len(r._line) <= MAX_LINE
