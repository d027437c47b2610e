"""Header parsing for the worker: ports, flags, ICMP type/code and echo ids; both directions."""

from __future__ import annotations

import struct

from providers.inspect._headers import ICMP, ICMPV6, TCP, UDP, flow_key, parse_headers

A4, B4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
A6, B6 = bytes(15) + b"\x01", bytes(15) + b"\x02"


def v4(proto: int, body: bytes, src: bytes = A4, dst: bytes = B4) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0, 64, proto, 0,
                       src, dst) + body


def v6(proto: int, body: bytes, src: bytes = A6, dst: bytes = B6) -> bytes:
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), proto, 64, src, dst) + body


def test_tcp_ports_and_flags() -> None:
    """A SYN gives its ports and the SYN flag."""
    h = parse_headers(v4(TCP, struct.pack("!HHIIBBHHH", 1234, 80, 0, 0, 0x50, 0x02, 0, 0, 0)))
    assert h is not None and (h.proto, h.sport, h.dport, h.flags) == (TCP, 1234, 80, 0x02)


def test_both_directions_share_one_key() -> None:
    """The outbound datagram and the inbound reply map to the same flow key."""
    out = parse_headers(v4(UDP, struct.pack("!HHHH", 5000, 53, 8, 0)))
    back = parse_headers(v4(UDP, struct.pack("!HHHH", 53, 5000, 8, 0), src=B4, dst=A4))
    assert out and back and flow_key(out, True) == flow_key(back, False)


def test_echo_request_and_reply_share_a_key_by_identifier() -> None:
    """ICMPv6 echo request and reply with the same id are one flow; type/code fill the ports."""
    req = parse_headers(v6(ICMPV6, struct.pack("!BBHHH", 128, 0, 0, 77, 1)))
    rep = parse_headers(v6(ICMPV6, struct.pack("!BBHHH", 129, 0, 0, 77, 1), src=B6, dst=A6))
    assert req and rep and (req.sport, req.ident) == (128, 77)
    assert flow_key(req, True) == flow_key(rep, False)


def test_ipv4_icmp_echo() -> None:
    """An IPv4 echo request yields type 8 and its identifier."""
    h = parse_headers(v4(ICMP, struct.pack("!BBHHH", 8, 0, 0, 9, 1)))
    assert h is not None and (h.proto, h.sport, h.dport, h.ident) == (ICMP, 8, 0, 9)


def test_other_protocols_and_garbage_are_not_parsed() -> None:
    """GRE, truncated headers and non-IP bytes give None."""
    assert parse_headers(v4(47, b"\0" * 8)) is None
    assert parse_headers(v4(TCP, b"\0\1")) is None
    assert parse_headers(b"") is None and parse_headers(b"\x10" * 40) is None


def test_pings_in_opposite_directions_with_one_identifier_are_two_flows() -> None:
    """Our echo request to the peer and the peer's echo request to us never share a key."""
    ours = parse_headers(v4(ICMP, struct.pack("!BBHHH", 8, 0, 0, 5, 1)))
    theirs = parse_headers(v4(ICMP, struct.pack("!BBHHH", 8, 0, 0, 5, 1), src=B4, dst=A4))
    assert ours and theirs and flow_key(ours, True) != flow_key(theirs, False)
