"""The 5-tuple of a packet (IPv4/IPv6, TCP/UDP), read from its raw bytes by the shared
packet decoder (``providers.packets.ip_transport``)."""

from __future__ import annotations

import socket
from dataclasses import dataclass

from providers.packets import ip_transport

__all__ = ["Flow", "parse_flow"]

IPPROTO_TCP = 6
IPPROTO_UDP = 17


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


def parse_flow(packet: bytes | bytearray | memoryview) -> Flow | None:
    """The flow of an IP packet, or None (not TCP/UDP, truncated, later fragment)."""
    pkt = ip_transport(packet)
    if pkt is None or pkt.proto not in (IPPROTO_TCP, IPPROTO_UDP):
        return None
    family = socket.AF_INET if pkt.version == 4 else socket.AF_INET6
    return Flow(family, pkt.proto, socket.inet_ntop(family, pkt.src), pkt.sport,
                socket.inet_ntop(family, pkt.dst), pkt.dport)
