"""The 5-tuple of a packet (IPv4/IPv6, TCP/UDP), read from its raw bytes."""

from __future__ import annotations

import socket
import struct
from dataclasses import dataclass

__all__ = ["Flow", "parse_flow"]

IPPROTO_TCP = 6
IPPROTO_UDP = 17
_IPV6_EXT = {0, 43, 60}  # hop-by-hop, routing, destination options
_IPV6_FRAG = 44
_PORTS = struct.Struct(">HH")


@dataclass(frozen=True, slots=True)
class Flow:
    """A TCP or UDP flow as seen in one packet: ``src`` sent it to ``dst``.

    ``family`` is ``socket.AF_INET`` or ``socket.AF_INET6``; addresses are text.
    """

    family: int
    protocol: int
    src: str
    sport: int
    dst: str
    dport: int

    def reversed(self) -> Flow:
        """The same flow seen from the other end."""
        return Flow(self.family, self.protocol, self.dst, self.dport, self.src, self.sport)

    def __str__(self) -> str:
        proto = {IPPROTO_TCP: "tcp", IPPROTO_UDP: "udp"}.get(self.protocol, str(self.protocol))
        fmt = "[{}]:{}" if self.family == socket.AF_INET6 else "{}:{}"
        return f"{proto} {fmt.format(self.src, self.sport)} -> {fmt.format(self.dst, self.dport)}"


def parse_flow(packet: bytes | memoryview) -> Flow | None:
    """The flow of an IP packet, or None (not TCP/UDP, truncated, later fragment)."""
    if len(packet) < 1:
        return None
    version = packet[0] >> 4
    if version == 4:
        return _parse_v4(packet)
    if version == 6:
        return _parse_v6(packet)
    return None


def _parse_v4(pkt: bytes | memoryview) -> Flow | None:
    if len(pkt) < 20:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    frag = struct.unpack_from(">H", pkt, 6)[0] & 0x1FFF
    proto = pkt[9]
    if frag or proto not in (IPPROTO_TCP, IPPROTO_UDP) or ihl < 20 or len(pkt) < ihl + 4:
        return None
    sport, dport = _PORTS.unpack_from(pkt, ihl)
    return Flow(socket.AF_INET, proto, socket.inet_ntop(socket.AF_INET, bytes(pkt[12:16])),
                sport, socket.inet_ntop(socket.AF_INET, bytes(pkt[16:20])), dport)


def _parse_v6(pkt: bytes | memoryview) -> Flow | None:
    if len(pkt) < 40:
        return None
    nxt, off = pkt[6], 40
    for _ in range(8):
        if nxt in _IPV6_EXT and len(pkt) >= off + 8:
            nxt, off = pkt[off], off + (pkt[off + 1] + 1) * 8
        elif nxt == _IPV6_FRAG and len(pkt) >= off + 8:
            if struct.unpack_from(">H", pkt, off + 2)[0] & 0xFFF8:
                return None  # not the first fragment: no ports here
            nxt, off = pkt[off], off + 8
        else:
            break
    if nxt not in (IPPROTO_TCP, IPPROTO_UDP) or len(pkt) < off + 4:
        return None
    sport, dport = _PORTS.unpack_from(pkt, off)
    return Flow(socket.AF_INET6, nxt, socket.inet_ntop(socket.AF_INET6, bytes(pkt[8:24])),
                sport, socket.inet_ntop(socket.AF_INET6, bytes(pkt[24:40])), dport)
