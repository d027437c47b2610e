"""The decoded form of one captured frame: addresses, ports, flags and where the payload is.

A msgspec Struct with positional construction: the decoder builds one per frame on the
hot path (from C too, through the constructor), and a Struct's constructor is C code;
addresses stay raw bytes (4 or 16) until something renders them.
"""

from __future__ import annotations

import ipaddress
import socket

import msgspec

__all__ = ["TCP_ACK", "TCP_FIN", "TCP_PSH", "TCP_RST", "TCP_SYN", "TCP_URG", "Packet"]

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10
TCP_URG = 0x20

_PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}


def address_text(addr: bytes) -> str:
    """A packed IPv4 or IPv6 address in its usual text form (``inet_ntoa`` for IPv4:
    the same text as :mod:`ipaddress`, several times faster)."""
    return socket.inet_ntoa(addr) if len(addr) == 4 else str(ipaddress.ip_address(addr))


class Packet(msgspec.Struct, gc=False, eq=False):
    """One decoded IP packet (outermost IP header; ``inner`` holds an ICMP-quoted header).

    ``payload_off``/``payload_len`` locate the captured transport payload in ``data``;
    ``l4_len`` is the payload length the headers declare (tshark's ``tcp.len``), which
    is larger than ``payload_len`` when the capture was cut by a snap length. For ICMP,
    ``sport``/``dport`` hold type/code (as Community ID does). The last five fields are
    rare (ICMP, quotes, the capture interface). Packets compare by identity.
    """

    ts_ns: int
    data: bytes
    wire_len: int
    version: int
    src: bytes
    dst: bytes
    proto: int
    frag: bool
    sport: int = 0
    dport: int = 0
    seq: int = 0
    ack: int = 0
    flags: int = 0
    payload_off: int = 0
    payload_len: int = 0
    l4_len: int = 0
    icmp_type: int = -1
    icmp_code: int = -1
    icmp_id: int = -1
    inner: Packet | None = None
    iface: int = 0

    @property
    def payload(self) -> bytes:
        """The captured transport payload bytes (a copy)."""
        return self.data[self.payload_off : self.payload_off + self.payload_len]

    @property
    def proto_name(self) -> str:
        """Transport protocol as a short lower-case name (``tcp``, ``udp``, ... or a number)."""
        return _PROTO_NAMES.get(self.proto, str(self.proto))

    @property
    def src_str(self) -> str:
        """Source address in its usual text form."""
        return address_text(self.src)

    @property
    def dst_str(self) -> str:
        """Destination address in its usual text form."""
        return address_text(self.dst)

    @property
    def is_icmp_error(self) -> bool:
        """True for ICMP/ICMPv6 error messages (they quote the offending header in ``inner``)."""
        if self.proto == 1:
            return self.icmp_type in (3, 4, 5, 11, 12)
        if self.proto == 58:
            return 0 <= self.icmp_type < 128
        return False

    def __repr__(self) -> str:
        return (
            f"Packet({self.proto_name} {self.src_str}:{self.sport} -> "
            f"{self.dst_str}:{self.dport} flags={self.flags:#x} len={self.l4_len})"
        )
