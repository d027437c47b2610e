"""Minimal pcap and pcapng writers (benchmarks, tests, and saving live captures)."""

from __future__ import annotations

import struct
from typing import BinaryIO

__all__ = ["PcapWriter", "PcapngWriter"]


class PcapWriter:
    """Writes a classic pcap file: one link type, micro- or nanosecond timestamps."""

    def __init__(
        self, f: BinaryIO, linktype: int = 1, *, nano: bool = False, big_endian: bool = False,
        snaplen: int = 262144,
    ) -> None:
        self._f = f
        self._order = ">" if big_endian else "<"
        self._nano = nano
        self._rec = struct.Struct(self._order + "IIII").pack
        magic = 0xA1B23C4D if nano else 0xA1B2C3D4
        f.write(struct.pack(self._order + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype))

    def write(self, data: bytes, ts_ns: int = 0, wire_len: int | None = None) -> None:
        """Append one frame (``wire_len`` defaults to the captured length)."""
        sec, ns = divmod(ts_ns, 1_000_000_000)
        frac = ns if self._nano else ns // 1000
        wire = len(data) if wire_len is None else wire_len
        self._f.write(self._rec(sec, frac, len(data), wire) + data)


class PcapngWriter:
    """Writes pcapng: one section, any number of interfaces each with its own link type
    and ``if_tsresol`` (given as the pcapng option byte, e.g. 6 = us, 9 = ns, 0x80|n)."""

    def __init__(self, f: BinaryIO, *, big_endian: bool = False) -> None:
        self._f = f
        self._o = ">" if big_endian else "<"
        self._resol: list[int] = []
        body = struct.pack(self._o + "IHHq", 0x1A2B3C4D, 1, 0, -1)
        self._block(0x0A0D0D0A, body)

    def _block(self, btype: int, body: bytes) -> None:
        body += b"\0" * (-len(body) % 4)
        n = len(body) + 12
        self._f.write(struct.pack(self._o + "II", btype, n) + body + struct.pack(self._o + "I", n))

    def add_interface(self, linktype: int, tsresol: int = 6, snaplen: int = 262144) -> int:
        """Declare an interface; returns its id for :meth:`write`."""
        opts = struct.pack(self._o + "HH", 9, 1) + bytes([tsresol]) + b"\0\0\0"
        opts += struct.pack(self._o + "HH", 0, 0)
        self._block(1, struct.pack(self._o + "HHI", linktype, 0, snaplen) + opts)
        self._resol.append(tsresol)
        return len(self._resol) - 1

    def write(self, iface: int, data: bytes, ts_ns: int = 0, wire_len: int | None = None) -> None:
        """Append one Enhanced Packet Block on interface ``iface``."""
        r = self._resol[iface]
        if r & 0x80:
            units = (ts_ns << (r & 0x7F)) // 1_000_000_000
        elif r <= 9:
            units = ts_ns // 10 ** (9 - r)
        else:
            units = ts_ns * 10 ** (r - 9)
        wire = len(data) if wire_len is None else wire_len
        hi, lo = units >> 32, units & 0xFFFFFFFF
        hdr = struct.pack(self._o + "IIIII", iface, hi, lo, len(data), wire)
        self._block(6, hdr + data)
