"""Minimal netlink framing: headers, attributes, and request/ack round trips.

Only what NFQUEUE and sock_diag need; kept separate so both clients share it.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

from ._errors import NetlinkError

__all__ = [
    "NLMSG_DONE",
    "NLMSG_ERROR",
    "NLM_F_ACK",
    "NLM_F_DUMP",
    "NLM_F_REQUEST",
    "align",
    "attr",
    "iter_attrs",
    "iter_messages",
    "message",
    "request",
]

NETLINK_NETFILTER = 12
NETLINK_SOCK_DIAG = 4
NLMSG_ERROR = 2
NLMSG_DONE = 3
NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_DUMP = 0x300
NLA_F_NESTED = 0x8000
NLA_TYPE_MASK = 0x3FFF

#: What the readers accept: a receive buffer, a view of one, or bytes.
Bytes = bytes | bytearray | memoryview

_HDR = struct.Struct("=IHHII")
_ATTR = struct.Struct("=HH")


def align(n: int) -> int:
    """Round ``n`` up to netlink's 4-byte alignment."""
    return (n + 3) & ~3


def attr(kind: int, payload: bytes) -> bytes:
    """Encode one netlink attribute (type-length-value, padded)."""
    length = 4 + len(payload)
    return _ATTR.pack(length, kind) + payload + b"\0" * (align(length) - length)


def message(kind: int, flags: int, seq: int, body: bytes) -> bytes:
    """Encode one netlink message with its header."""
    return _HDR.pack(16 + len(body), kind, flags, seq, 0) + body


def iter_messages(buf: Bytes, size: int) -> Iterator[tuple[int, int, int, int, int]]:
    """Yield ``(type, flags, seq, offset_of_body, end)`` for each message in ``buf[:size]``.

    Stops at the first truncated header instead of raising.
    """
    off = 0
    while off + 16 <= size:
        length, kind, flags, seq, _pid = _HDR.unpack_from(buf, off)
        if length < 16 or off + length > size:
            return
        yield kind, flags, seq, off + 16, off + length
        off += align(length)


def iter_attrs(buf: Bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """Yield ``(type, value_offset, value_end)`` for attributes in ``buf[start:end]``."""
    off = start
    while off + 4 <= end:
        length, kind = _ATTR.unpack_from(buf, off)
        if length < 4 or off + length > end:
            return
        yield kind & NLA_TYPE_MASK, off + 4, off + length
        off += align(length)


def check_error(buf: Bytes, body: int, what: str, exc: type = NetlinkError) -> None:
    """Raise ``exc`` if the NLMSG_ERROR body at ``body`` carries a non-zero errno."""
    (err,) = struct.unpack_from("=i", buf, body)
    if err:
        raise exc(-err, what)


def request(sock: socket.socket, kind: int, flags: int, seq: int, body: bytes, what: str,
            exc: type = NetlinkError) -> None:
    """Send one request with NLM_F_ACK and wait for its ack; raise ``exc`` on error.

    Unrelated messages (e.g. queued packets) arriving meanwhile are discarded,
    so only call this before traffic flows or while reconfiguring.
    """
    sock.send(message(kind, flags | NLM_F_REQUEST | NLM_F_ACK, seq, body))
    buf = bytearray(65536)
    while True:
        n = sock.recv_into(buf)
        for mkind, _flags, mseq, body_off, _end in iter_messages(buf, n):
            if mkind == NLMSG_ERROR and mseq == seq:
                check_error(buf, body_off, what, exc)
                return
