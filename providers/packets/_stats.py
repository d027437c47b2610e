"""Decoder counters, with the same meaning as tshark's per-packet view (see ``_decode``)."""

from __future__ import annotations

__all__ = ["DecodeStats"]

_FIELDS = (
    "packets",
    "ipv4",
    "ipv6",
    "tcp",
    "udp",
    "icmp",
    "icmpv6",
    "fragments",
    "not_ip",
    "decode_errors",
    "tcp_payload_bytes",
)


class DecodeStats:
    """Counts of frames seen and of frames carrying each header (once per frame).

    ``truncated`` counts frames whose headers were cut by the capture's snap length
    (tshark's "packet size limited during capture"): they are not decode errors.
    """

    __slots__ = (*_FIELDS, "truncated")
    FIELDS = _FIELDS
    packets: int
    ipv4: int
    ipv6: int
    tcp: int
    udp: int
    icmp: int
    icmpv6: int
    fragments: int
    not_ip: int
    decode_errors: int
    tcp_payload_bytes: int
    truncated: int

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    def as_dict(self) -> dict[str, int]:
        """The counters the CLI prints with ``--stats-json`` (issue 3's keys, in order)."""
        return {name: getattr(self, name) for name in _FIELDS}

    def add(self, other: DecodeStats) -> None:
        """Add another decoder's counters into this one (several files, one report)."""
        for name in self.__slots__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v}" for k, v in self.as_dict().items())
        return f"DecodeStats({inner})"
