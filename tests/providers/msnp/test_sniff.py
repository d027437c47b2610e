"""sniff_msnp: recognise MSNP (and the HTTP gateway) by content, on any port."""

from __future__ import annotations

import pytest

from providers.msnp import Sniff, sniff_msnp


@pytest.mark.parametrize(
    "sample",
    [
        b"VER 1 MSNP15 MSNP14 CVR0\r\n",
        b"USR 93 tesla_brian@hotmail.com 1835953129.20013021.2623242\r\n",
        b"ANS 1 a@b.c 1234.5 987\r\n",
    ],
)
def test_msnp_streams_are_recognised(sample):
    """Plain MSNP from the start of a stream is recognised."""
    assert sniff_msnp(sample) == Sniff.MSNP


def test_mid_session_msnp_is_recognised_when_the_start_was_not_seen():
    """A sample starting inside a payload is MSNP once commands follow, if not from the start."""
    sample = b"ing notification\r\n\r\nMSG 5 U 3\r\nabcACK 5\r\n"
    assert sniff_msnp(sample, from_start=False) == Sniff.MSNP
    assert sniff_msnp(sample, from_start=True) == Sniff.NOT_MSNP


@pytest.mark.parametrize(
    "sample",
    [
        b"220 smtp.example.org ESMTP ready\r\n",
        b"SSH-2.0-OpenSSH_9.2\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(range(256)) * 20,
        b"GET / HTTP/1.1\r\nHost: example.org\r\n\r\n",
        b"EHLO x\r\n" * 600,
    ],
)
def test_other_protocols_are_not_msnp(sample):
    """SMTP, SSH, TLS, plain HTTP and line noise are not MSNP."""
    assert sniff_msnp(sample) == Sniff.NOT_MSNP


def test_gateway_http_is_recognised():
    """HTTP carrying the messenger gateway's marks is MSNP over HTTP."""
    sample = (
        b"POST http://gateway.messenger.hotmail.com/gateway/gateway.dll?Action=open HTTP/1.1\r\n"
        b"Content-Type: application/x-msn-messenger\r\nContent-Length: 0\r\n\r\n"
    )
    assert sniff_msnp(sample) == Sniff.HTTP_GATEWAY


def test_a_partial_first_line_needs_more():
    """Too few bytes to decide asks for more."""
    assert sniff_msnp(b"VER 1 MS") == Sniff.NEED_MORE
