"""The packet-source seam: anything that yields captured frames (file, live socket, NFQUEUE).

A frame is a plain tuple ``(linktype, ts_ns, data, wire_len, iface)`` because sources sit
on the hot path; :class:`Frame` names its fields for readers of the code.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple, Protocol, runtime_checkable

__all__ = ["CaptureFormatError", "Frame", "PacketSource"]


class Frame(NamedTuple):
    """One captured frame as sources yield it."""

    linktype: int
    ts_ns: int
    data: bytes
    wire_len: int
    iface: int


class CaptureFormatError(ValueError):
    """A capture file is not pcap/pcapng or is corrupt beyond the last good frame."""


@runtime_checkable
class PacketSource(Protocol):
    """Yields frames; ``close`` releases the file or socket. Used as a context manager."""

    name: str

    def __iter__(self) -> Iterator[tuple[int, int, bytes, int, int]]: ...

    def close(self) -> None: ...
