"""The few header fields the worker needs, read from a queued IP packet.

The parsing is the shared packet decoder's (``providers.packets.ip_transport``); this
keeps the worker's view of it: TCP/UDP give ports and TCP flags; ICMP/ICMPv6 give type
and code (in the port slots, as Community ID does) and the echo identifier, which keys
ping flows.
"""

from __future__ import annotations

from typing import NamedTuple

from providers.packets import ip_transport

__all__ = ["ICMP", "ICMPV6", "TCP", "UDP", "Headers", "flow_key", "parse_headers"]

TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
_ECHO = {ICMP: (0, 8, 13, 14), ICMPV6: (128, 129)}
_REQUESTS = frozenset({8, 13, 128})


class Headers(NamedTuple):
    """``src``/``dst`` are packed addresses; for ICMP ``sport``/``dport`` = type/code."""

    version: int
    proto: int
    src: bytes
    dst: bytes
    sport: int
    dport: int
    flags: int
    ident: int
    size: int


def parse_headers(pkt: bytes | bytearray, size: int | None = None) -> Headers | None:
    """Headers of an IPv4/IPv6 packet, or None when it is not TCP/UDP/ICMP, is cut
    before its transport header, is malformed or is a later fragment.

    ``size`` is the packet's real length when only its start was copied.
    """
    p = ip_transport(pkt, size or 0)
    if p is None:
        return None
    proto = p.proto
    ident = 0
    if proto in (ICMP, ICMPV6):
        if p.icmp_type in _ECHO[proto]:
            ident = p.icmp_id
        return Headers(p.version, proto, p.src, p.dst, p.icmp_type, p.icmp_code, 0, ident,
                       size or len(pkt))
    return Headers(p.version, proto, p.src, p.dst, p.sport, p.dport, p.flags, 0,
                   size or len(pkt))


def flow_key(h: Headers, outbound: bool) -> tuple:
    """A key equal for both directions of a flow: (proto, local, remote, lport, rport).

    For ICMP echo the "ports" are the identifier and who sent the request, so
    pings in both directions with the same identifier stay two flows.
    """
    if h.proto in (ICMP, ICMPV6):
        mine = outbound == (h.sport in _REQUESTS)  # did the local side send the request?
        return (h.proto, h.src, h.dst, h.ident, mine) if outbound else (
            h.proto, h.dst, h.src, h.ident, mine)
    if outbound:
        return (h.proto, h.src, h.dst, h.sport, h.dport)
    return (h.proto, h.dst, h.src, h.dport, h.sport)
