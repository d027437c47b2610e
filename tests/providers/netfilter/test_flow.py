"""5-tuple extraction from raw IPv4/IPv6 packets."""

from __future__ import annotations

import socket

from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP
from scapy.layers.inet6 import IPv6, IPv6ExtHdrFragment, IPv6ExtHdrHopByHop

from providers.netfilter import Flow, parse_flow


def test_ipv4_tcp_flow() -> None:
    """An IPv4 TCP packet yields its addresses and ports."""
    pkt = bytes(IP(src="10.201.1.1", dst="10.201.1.2") / TCP(sport=1234, dport=80))
    assert parse_flow(pkt) == Flow(socket.AF_INET, 6, "10.201.1.1", 1234, "10.201.1.2", 80)


def test_ipv6_udp_flow_behind_extension_headers() -> None:
    """IPv6 hop-by-hop and first-fragment headers are skipped to reach the UDP ports."""
    pkt = bytes(IPv6(src="fd00:201::1", dst="fd00:201::2") / IPv6ExtHdrHopByHop()
                / IPv6ExtHdrFragment(offset=0, m=1) / UDP(sport=5000, dport=53))
    flow = parse_flow(pkt)
    assert flow == Flow(socket.AF_INET6, 17, "fd00:201::1", 5000, "fd00:201::2", 53)
    assert str(flow) == "udp [fd00:201::1]:5000 -> [fd00:201::2]:53"


def test_packets_without_ports_have_no_flow() -> None:
    """ICMP, later fragments and truncated headers give None."""
    assert parse_flow(bytes(IP() / ICMP())) is None
    assert parse_flow(bytes(IP(frag=10, proto=6) / (b"\0" * 20))) is None
    assert parse_flow(bytes(IPv6() / IPv6ExtHdrFragment(offset=5) / UDP())) is None
    assert parse_flow(bytes(IP() / TCP())[:22]) is None
    assert parse_flow(b"") is None


def test_reversed_swaps_ends() -> None:
    """reversed() gives the flow as the other end sees it."""
    flow = Flow(socket.AF_INET, 6, "1.1.1.1", 1, "2.2.2.2", 2)
    assert flow.reversed() == Flow(socket.AF_INET, 6, "2.2.2.2", 2, "1.1.1.1", 1)


@given(st.binary(max_size=120))
def test_garbage_never_raises(data: bytes) -> None:
    """Arbitrary bytes parse to a Flow or None, never an exception."""
    result = parse_flow(data)
    assert result is None or isinstance(result, Flow)
