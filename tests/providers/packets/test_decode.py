"""Decoder: link types, headers, ICMP quotes, and hostile input never raising."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from providers.packets import Decoder, PcapWriter

from .tshark_oracle import TSHARK, tshark_counts

A4, B4 = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])
A6, B6 = bytes(15) + b"\x01", bytes(15) + b"\x02"


def ip4(proto: int, payload: bytes, src=A4, dst=B4, frag: int = 0, tot: int | None = None):
    total = 20 + len(payload) if tot is None else tot
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 1, frag, 64, proto, 0, src, dst) + payload


def ip6(nxt: int, payload: bytes, src=A6, dst=B6):
    return struct.pack("!IHBB16s16s", 0x60000000, len(payload), nxt, 64, src, dst) + payload


def tcp(sport=1234, dport=80, flags=0x18, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, 1000, 1, 0x50, flags, 512, 0, 0) + data


def udp(sport=5353, dport=53, data=b""):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def eth(etype: int, payload: bytes, vlans: int = 0):
    head = bytes(12) + b"".join(struct.pack("!HH", 0x8100, 5) for _ in range(vlans))
    return head + struct.pack("!H", etype) + payload


def test_ethernet_ipv4_tcp_fields() -> None:
    """Ethernet/IPv4/TCP gives addresses, ports, flags and the payload."""
    d = Decoder()
    p = d.decode(1, eth(0x0800, ip4(6, tcp(data=b"hello"))))
    assert (p.src, p.dst, p.sport, p.dport, p.flags) == (A4, B4, 1234, 80, 0x18)
    assert p.payload == b"hello" and p.l4_len == 5
    assert d.stats.tcp_payload_bytes == 5


def test_tcp_options_cut_by_the_snap_length_give_no_payload() -> None:
    """A frame cut inside long TCP options has no captured payload (never a negative one),
    on the fast path as on the general one, for IPv4 and IPv6."""
    head = struct.pack("!HHIIBBHHH", 1234, 80, 1000, 1, 0xF0, 0x11, 512, 0, 0)  # 60-byte TCP
    segment = head + bytes(40) + b"data"
    for frame, tcp_at in ((eth(0x0800, ip4(6, segment)), 34), (eth(0x86DD, ip6(6, segment)), 54),
                          (eth(0x0800, ip4(6, segment), vlans=1), 38)):
        p = Decoder().decode(1, frame[:tcp_at + 30], len(frame))  # 10 bytes into the options
        assert p is not None and p.payload_len == 0 and p.payload == b"" and p.l4_len == 4


def test_vlan_and_qinq() -> None:
    """One and two 802.1Q tags are skipped to reach IP."""
    d = Decoder()
    assert d.decode(1, eth(0x0800, ip4(17, udp()), vlans=1)).dport == 53
    assert d.decode(1, eth(0x86DD, ip6(17, udp()), vlans=2)).version == 6


def test_other_link_types() -> None:
    """SLL, SLL2, BSD null (both byte orders), DLT_LOOP and raw IP all decode to IP."""
    d = Decoder()
    inner4, inner6 = ip4(17, udp()), ip6(6, tcp())
    sll = struct.pack("!HHH8sH", 0, 1, 6, bytes(8), 0x0800) + inner4
    sll2 = struct.pack("!HHIHBB8s", 0x86DD, 0, 2, 1, 0, 6, bytes(8)) + inner6
    assert d.decode(113, sll).version == 4
    assert d.decode(276, sll2).version == 6
    assert d.decode(0, struct.pack("<I", 2) + inner4).version == 4
    assert d.decode(0, struct.pack(">I", 30) + inner6).version == 6
    assert d.decode(108, struct.pack(">I", 24) + inner6).version == 6
    for lt in (101, 12, 14):
        assert d.decode(lt, inner6).proto == 6
    assert d.decode(228, inner4).proto == 17
    assert d.stats.not_ip == 0 and d.stats.decode_errors == 0


def test_not_ip_is_counted() -> None:
    """ARP and unknown link types count as not-IP and give no packet."""
    d = Decoder()
    assert d.decode(1, eth(0x0806, bytes(28))) is None
    assert d.decode(147, bytes(40)) is None
    assert d.stats.not_ip == 2


def test_ipv6_extension_headers_and_fragments() -> None:
    """Hop-by-hop and destination options are walked; a later fragment has no transport."""
    d = Decoder()
    hop = bytes([60, 0]) + bytes(6)
    dst = bytes([6, 0]) + bytes(6)
    p = d.decode(1, eth(0x86DD, ip6(0, hop + dst + tcp(data=b"x"))))
    assert p.proto == 6 and p.payload == b"x"
    first = struct.pack("!BBHI", 17, 0, 1, 99) + udp(data=b"abc")
    later = struct.pack("!BBHI", 17, 0, 8 << 3, 99) + b"tail"
    assert d.decode(1, eth(0x86DD, ip6(44, first))).dport == 53
    assert d.decode(1, eth(0x86DD, ip6(44, later))).sport == 0
    s = d.stats
    assert (s.fragments, s.udp, s.tcp) == (2, 1, 1)


def test_icmp_error_quotes_inner_header() -> None:
    """An ICMP port-unreachable is an error whose quoted UDP header is decoded."""
    quoted = ip4(17, udp(40000, 53), src=B4, dst=A4)[:28]
    icmp = struct.pack("!BBHI", 3, 3, 0, 0) + quoted
    d = Decoder()
    p = d.decode(1, eth(0x0800, ip4(1, icmp)))
    assert p.is_icmp_error and p.inner.proto == 17
    assert (p.inner.sport, p.inner.dport) == (40000, 53)
    assert (d.stats.icmp, d.stats.udp, d.stats.decode_errors) == (1, 1, 0)


def test_icmpv6_error_quotes_inner_header() -> None:
    """An ICMPv6 time-exceeded quotes an IPv6/TCP header that is decoded."""
    icmp = struct.pack("!BBHI", 3, 0, 0, 0) + ip6(6, tcp(5555, 443))[:48]
    p = Decoder().decode(1, eth(0x86DD, ip6(58, icmp)))
    assert p.is_icmp_error and (p.inner.sport, p.inner.dport) == (5555, 443)


def test_truncated_headers_are_errors_or_truncated() -> None:
    """A frame cut inside TCP is a decode error; cut by a snap length it is truncated."""
    frame = eth(0x0800, ip4(6, tcp(data=b"payload")))
    d = Decoder()
    assert d.decode(1, frame[:40]) is None
    assert d.decode(1, frame[:40], wire_len=len(frame)) is None
    assert (d.stats.decode_errors, d.stats.truncated) == (1, 1)


@settings(max_examples=400, deadline=None)
@given(linktype=st.sampled_from([0, 1, 12, 101, 108, 113, 228, 229, 276]),
       data=st.binary(max_size=200), wire_extra=st.integers(0, 50))
def test_random_frames_never_raise(linktype, data, wire_extra) -> None:
    """Random bytes under any link type never raise; each frame is counted exactly once."""
    d = Decoder()
    d.decode(linktype, data, len(data) + wire_extra)
    s = d.stats
    assert s.packets == 1 and s.ipv4 + s.ipv6 + s.not_ip >= 1


@settings(max_examples=300, deadline=None)
@given(cut=st.integers(0, 120), flips=st.lists(st.tuples(st.integers(0, 119),
                                                          st.integers(0, 255)), max_size=6),
       kind=st.integers(0, 3))
def test_corrupted_valid_frames_never_raise(cut, flips, kind) -> None:
    """Valid frames, truncated and with corrupted bytes, decode or count an error; no raise."""
    base = [eth(0x0800, ip4(6, tcp(data=b"x" * 40))),
            eth(0x86DD, ip6(0, bytes([58, 0]) + bytes(6) + struct.pack("!BBHI", 1, 0, 0, 0)
                            + ip6(17, udp())), vlans=1),
            eth(0x0800, ip4(1, struct.pack("!BBHI", 11, 0, 0, 0) + ip4(6, tcp())[:28])),
            eth(0x0800, ip4(4, ip4(17, udp(data=b"zz"))))][kind]
    frame = bytearray(base[:cut] if cut < len(base) else base)
    for pos, val in flips:
        if pos < len(frame):
            frame[pos] = val
    d = Decoder()
    d.decode(1, bytes(frame))
    assert d.stats.packets == 1


def test_synthetic_variety_matches_tshark(tmp_path) -> None:
    """Counters equal tshark's on a generated mix of link types and edge cases."""
    if TSHARK is None:
        print("skipping: tshark absent")
        import pytest
        pytest.skip("tshark absent")
    frames = [
        eth(0x0800, ip4(6, tcp(data=b"abc"))),
        eth(0x0800, ip4(17, udp(data=b"q")), vlans=2),
        eth(0x0800, ip4(6, tcp(data=b"frag" * 5), frag=0x2000)),
        eth(0x0800, ip4(6, b"later-fragment", frag=0x0003)),
        eth(0x0800, ip4(1, struct.pack("!BBHI", 3, 3, 0, 0) + ip4(6, tcp())[:28])),
        eth(0x0800, ip4(1, struct.pack("!BBHHH", 8, 0, 0, 7, 1) + b"ping")),
        eth(0x86DD, ip6(0, bytes([17, 0]) + bytes(6) + udp(data=b"v6"))),
        eth(0x86DD, ip6(58, struct.pack("!BBHI", 1, 4, 0, 0) + ip6(17, udp())[:48])),
        eth(0x0800, ip4(41, ip6(6, tcp()))),
        eth(0x0806, bytes(28)),
        eth(0x0800, ip4(6, tcp(data=b"abc")))[:44],
        eth(0x0800, ip4(6, tcp(), tot=10)),
        eth(0x0800, ip4(17, struct.pack("!HHHH", 1, 2, 4, 0))),
    ]
    path = tmp_path / "mix.pcap"
    d = Decoder()
    with open(path, "wb") as f:
        w = PcapWriter(f)
        for i, fr in enumerate(frames):
            w.write(fr, i * 1000)
            d.decode(1, fr)
    assert d.stats.as_dict() == tshark_counts(path)
