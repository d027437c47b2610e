"""Hand-written pcap and pcapng readers (both byte orders, all timestamp resolutions).

Frames are parsed straight out of large read buffers with precompiled ``struct``
unpackers; a corrupt length ends the file with :class:`CaptureFormatError` instead of
allocating whatever a hostile header asks for. With the optional C extension
(``_accel``), classic pcap records that lie whole in the buffer are cut out in C,
a batch at a time; the Python loop stays the reference and handles the rest.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, NamedTuple

from ._accel import CDECODE
from ._source import CaptureFormatError

__all__ = ["MAX_FRAME", "PcapFileSource", "PcapHeader", "classic_pcap_header", "open_capture"]

_CHUNK = 1 << 22
#: No real capture has a 64 MiB frame: a record claiming more means the file is corrupt.
MAX_FRAME = 1 << 26
_PCAP_MAGICS = {
    b"\xd4\xc3\xb2\xa1": ("<", 1000),
    b"\xa1\xb2\xc3\xd4": (">", 1000),
    b"\x4d\x3c\xb2\xa1": ("<", 1),
    b"\xa1\xb2\x3c\x4d": (">", 1),
}
_SHB = 0x0A0D0D0A
_FrameTuple = tuple[int, int, bytes, int, int]


class PcapHeader(NamedTuple):
    """What a classic pcap file's 24-byte header says about its records."""

    big_endian: bool
    mult: int  # nanoseconds per unit of the timestamps' fraction (1000: microseconds)
    linktype: int


def classic_pcap_header(head: bytes) -> PcapHeader | None:
    """The header of a classic pcap file (its first 24 bytes), or None if it is not one."""
    magic = _PCAP_MAGICS.get(bytes(head[:4]))
    if magic is None or len(head) < 24:
        return None
    order, mult = magic
    linktype = struct.unpack_from(order + "I", head, 20)[0] & 0x0FFFFFFF
    return PcapHeader(order == ">", mult, linktype)
#: pcap_records(buf, pos, big_endian, mult, linktype, max_frame, limit) -> (frames, pos)
_RECORDS = CDECODE.pcap_records if CDECODE is not None else None
_BATCH = 256  # records per C call: few calls, and a short list alive at a time


class _Reader:
    """A forward-only buffered reader that hands out exact byte counts."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        self.buf = b""
        self.pos = 0

    def take(self, n: int) -> bytes | None:
        """Return the next ``n`` bytes, None at a clean end of file; raise if cut short."""
        end = self.pos + n
        if end > len(self.buf):
            self.buf = self.buf[self.pos :] + self.f.read(max(_CHUNK, n))
            self.pos, end = 0, n
            if len(self.buf) < n:
                if not self.buf:
                    return None
                raise CaptureFormatError(f"file ends inside a record ({len(self.buf)}/{n} bytes)")
        out = self.buf[self.pos : end]
        self.pos = end
        return out


class PcapFileSource:
    """Frames of a pcap or pcapng file (detected from its first bytes)."""

    def __init__(self, path: str | Path) -> None:
        self.name = str(path)
        self._f = open(path, "rb")  # noqa: SIM115 - closed by close()
        head = self._f.read(4)
        self._f.seek(0)
        if head in _PCAP_MAGICS:
            self._frames = _pcap_frames(_Reader(self._f))
        elif len(head) == 4 and struct.unpack("<I", head)[0] == _SHB:
            self._frames = _pcapng_frames(_Reader(self._f))
        else:
            self._f.close()
            raise CaptureFormatError(f"{path}: not a pcap or pcapng file")

    def __iter__(self) -> Iterator[_FrameTuple]:
        return self._frames

    def close(self) -> None:
        self._f.close()

    def progress(self) -> float:
        """Fraction of the file read so far (by bytes; coarse, for progress bars)."""
        try:
            size = os.fstat(self._f.fileno()).st_size
            return min(1.0, self._f.tell() / size) if size else 1.0
        except (OSError, ValueError):
            return 1.0

    def __enter__(self) -> PcapFileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_capture(path: str | Path) -> PcapFileSource:
    """Open a pcap/pcapng file as a packet source."""
    return PcapFileSource(path)


def _pcap_frames(r: _Reader) -> Iterator[_FrameTuple]:
    head = r.take(24)
    if head is None:
        return
    header = classic_pcap_header(head)
    assert header is not None  # (the source checked the magic)
    big, mult, linktype = header
    rec = struct.Struct((">" if big else "<") + "IIII").unpack_from
    records = _RECORDS
    buf, pos = r.buf, r.pos
    size = len(buf)  # of buf, kept in step with it
    while True:
        if records is not None:
            frames, pos = records(buf, pos, big, mult, linktype, MAX_FRAME, _BATCH)
            if frames:
                yield from frames
                continue
        if pos + 16 > size:
            r.pos = pos
            hdr = r.take(16)
            if hdr is None:
                return
            buf, pos = r.buf, r.pos
            size = len(buf)
            sec, frac, caplen, wire = rec(hdr)
        else:
            sec, frac, caplen, wire = rec(buf, pos)
            pos += 16
        if caplen > MAX_FRAME:
            raise CaptureFormatError(f"corrupt pcap record: captured length {caplen}")
        end = pos + caplen
        if end > size:
            r.pos = pos
            data = r.take(caplen)
            if data is None:
                raise CaptureFormatError("file ends inside a record")
            buf, pos = r.buf, r.pos
            size = len(buf)
        else:
            data = buf[pos:end]
            pos = end
        yield linktype, sec * 1_000_000_000 + frac * mult, data, wire, 0


class _Iface:
    __slots__ = ("div", "linktype", "mult", "offset_ns", "shift")

    def __init__(self, linktype: int) -> None:
        self.linktype = linktype
        self.mult, self.div, self.shift, self.offset_ns = 1000, 1, 0, 0

    def set_tsresol(self, v: int) -> None:
        """if_tsresol: MSB clear -> 10^-v seconds, MSB set -> 2^-v seconds."""
        v &= 0xFF
        if v & 0x80:
            self.mult, self.div, self.shift = 1_000_000_000, 1, v & 0x7F
        elif v <= 9:
            self.mult, self.div, self.shift = 10 ** (9 - v), 1, 0
        else:
            self.mult, self.div, self.shift = 1, 10 ** (v - 9), 0

    def ts_ns(self, units: int) -> int:
        return ((units * self.mult) >> self.shift) // self.div + self.offset_ns


def _pcapng_frames(r: _Reader) -> Iterator[_FrameTuple]:
    order = "<"
    ifaces: list[_Iface] = []
    while True:
        head = r.take(8)
        if head is None:
            return
        if struct.unpack_from("<I", head)[0] == _SHB:
            body0 = r.take(4)
            if body0 is None:
                raise CaptureFormatError("file ends inside a section header")
            order = "<" if body0 == b"\x4d\x3c\x2b\x1a" else ">"
            if body0 not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
                raise CaptureFormatError("bad pcapng byte-order magic")
            ifaces = []
            btype, blen = struct.unpack(order + "II", head)
            rest = _block_body(r, blen, 12)
            continue
        btype, blen = struct.unpack(order + "II", head)
        rest = _block_body(r, blen, 8)
        if btype == 6:  # Enhanced Packet Block
            frame = _epb(rest, order, ifaces)
            if frame is not None:
                yield frame
        elif btype == 1:  # Interface Description Block
            ifaces.append(_idb(rest, order))
        elif btype == 3 and ifaces:  # Simple Packet Block
            wire = struct.unpack_from(order + "I", rest)[0]
            data = rest[4 : 4 + min(wire, len(rest) - 8)]
            yield ifaces[0].linktype, 0, data, wire, 0
        elif btype == 2:  # obsolete Packet Block
            iface, _drops, hi, lo, cap, wire = struct.unpack_from(order + "HHIIII", rest)
            if iface < len(ifaces) and cap <= len(rest) - 24:
                i = ifaces[iface]
                yield i.linktype, i.ts_ns(hi << 32 | lo), rest[20 : 20 + cap], wire, iface


def _block_body(r: _Reader, blen: int, consumed: int) -> bytes:
    """Read the rest of a block (body and trailing length) after ``consumed`` bytes."""
    if blen < 12 or blen % 4 or blen > MAX_FRAME:
        raise CaptureFormatError(f"corrupt pcapng block length {blen}")
    if blen < consumed:
        raise CaptureFormatError(f"corrupt pcapng block length {blen}")
    rest = r.take(blen - consumed)
    if rest is None:
        raise CaptureFormatError("file ends inside a block")
    return rest


def _epb(rest: bytes, order: str, ifaces: list[_Iface]) -> tuple | None:
    iface, hi, lo, cap, wire = struct.unpack_from(order + "IIIII", rest)
    if iface >= len(ifaces):
        raise CaptureFormatError(f"packet on undeclared interface {iface}")
    if cap > len(rest) - 24:
        raise CaptureFormatError(f"corrupt enhanced packet block: captured length {cap}")
    i = ifaces[iface]
    return i.linktype, i.ts_ns(hi << 32 | lo), rest[20 : 20 + cap], wire, iface


def _idb(rest: bytes, order: str) -> _Iface:
    linktype = struct.unpack_from(order + "H", rest)[0]
    iface = _Iface(linktype)
    pos, end = 8, len(rest) - 4
    while pos + 4 <= end:
        code, olen = struct.unpack_from(order + "HH", rest, pos)
        pos += 4
        if code == 0:
            break
        if code == 9 and olen >= 1:
            iface.set_tsresol(rest[pos])
        elif code == 14 and olen >= 8:
            iface.offset_ns = struct.unpack_from(order + "q", rest, pos)[0] * 1_000_000_000
        pos += (olen + 3) & ~3
    return iface
