"""The decoded form of one captured frame: addresses, ports, flags and where the payload is.

Kept as a slots class with positional construction because the decoder builds one per
frame on the hot path; addresses stay raw bytes (4 or 16) until something renders them.
"""

from __future__ import annotations

import ipaddress

__all__ = ["TCP_ACK", "TCP_FIN", "TCP_PSH", "TCP_RST", "TCP_SYN", "TCP_URG", "Packet"]

TCP_FIN = 0x01
TCP_SYN = 0x02
TCP_RST = 0x04
TCP_PSH = 0x08
TCP_ACK = 0x10
TCP_URG = 0x20

_PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}


class Packet:
    """One decoded IP packet (outermost IP header; ``inner`` holds an ICMP-quoted header).

    ``payload_off``/``payload_len`` locate the captured transport payload in ``data``;
    ``l4_len`` is the payload length the headers declare (tshark's ``tcp.len``), which
    is larger than ``payload_len`` when the capture was cut by a snap length.
    """

    __slots__ = (
        "ack",
        "data",
        "dport",
        "dst",
        "flags",
        "frag",
        "icmp_code",
        "icmp_id",
        "icmp_type",
        "iface",
        "inner",
        "l4_len",
        "payload_len",
        "payload_off",
        "proto",
        "seq",
        "sport",
        "src",
        "ts_ns",
        "version",
        "wire_len",
    )

    def __init__(
        self,
        ts_ns: int,
        data: bytes,
        wire_len: int,
        version: int,
        src: bytes,
        dst: bytes,
        proto: int,
        frag: bool,
    ) -> None:
        self.ts_ns = ts_ns
        self.data = data
        self.wire_len = wire_len
        self.version = version
        self.src = src
        self.dst = dst
        self.proto = proto
        self.frag = frag
        self.sport = 0
        self.dport = 0
        self.flags = 0
        self.seq = 0
        self.ack = 0
        self.payload_off = 0
        self.payload_len = 0
        self.l4_len = 0
        self.icmp_type = -1
        self.icmp_code = -1
        self.icmp_id = -1
        self.inner: Packet | None = None
        self.iface = 0

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
        return str(ipaddress.ip_address(self.src))

    @property
    def dst_str(self) -> str:
        """Destination address in its usual text form."""
        return str(ipaddress.ip_address(self.dst))

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
