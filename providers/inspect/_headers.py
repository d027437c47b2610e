"""The few header fields the worker needs, read from a queued IP packet.

TCP/UDP give ports and TCP flags; ICMP/ICMPv6 give type and code (in the port
slots, as Community ID does) and the echo identifier, which keys ping flows.
"""

from __future__ import annotations

import struct
from typing import NamedTuple

__all__ = ["ICMP", "ICMPV6", "TCP", "UDP", "Headers", "flow_key", "parse_headers"]

TCP, UDP, ICMP, ICMPV6 = 6, 17, 1, 58
_ECHO = {ICMP: (0, 8, 13, 14), ICMPV6: (128, 129)}
_REQUESTS = frozenset({8, 13, 128})
_V6_EXT = {0, 43, 44, 60}
_HH = struct.Struct(">HH")
_U16 = struct.Struct(">H")


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
    """Headers of an IPv4/IPv6 packet, or None when it is not TCP/UDP/ICMP or is cut.

    ``size`` is the packet's real length when only its start was copied.
    """
    if not pkt:
        return None
    version = pkt[0] >> 4
    if version == 4:
        if len(pkt) < 20:
            return None
        off, proto, src, dst = (pkt[0] & 0x0F) * 4, pkt[9], bytes(pkt[12:16]), bytes(pkt[16:20])
    elif version == 6:
        if len(pkt) < 40:
            return None
        proto, off, src, dst = pkt[6], 40, bytes(pkt[8:24]), bytes(pkt[24:40])
        while proto in _V6_EXT and len(pkt) >= off + 8:
            proto, off = pkt[off], off + (8 if proto == 44 else (pkt[off + 1] + 1) * 8)
    else:
        return None
    return _transport(pkt, version, proto, src, dst, off, size or len(pkt))


def _transport(pkt: bytes | bytearray, version: int, proto: int, src: bytes, dst: bytes,
               off: int, size: int) -> Headers | None:
    if len(pkt) < off + 4:
        return None
    if proto == TCP:
        flags = pkt[off + 13] if len(pkt) > off + 13 else 0
        return Headers(version, proto, src, dst, *_HH.unpack_from(pkt, off), flags, 0, size)
    if proto == UDP:
        return Headers(version, proto, src, dst, *_HH.unpack_from(pkt, off), 0, 0, size)
    if proto in (ICMP, ICMPV6):
        kind, code = pkt[off], pkt[off + 1]
        ident = _U16.unpack_from(pkt, off + 4)[0] if (
            kind in _ECHO[proto] and len(pkt) >= off + 6) else 0
        return Headers(version, proto, src, dst, kind, code, 0, ident, size)
    return None


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
