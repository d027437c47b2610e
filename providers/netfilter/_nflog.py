"""NFLOG client over raw netlink (``NETLINK_NETFILTER``): a passive packet copy.

Packets an ``NFLOG --nflog-group G`` rule matches are copied to the socket bound
to group ``G``; nothing waits for us (no verdict), so a slow, suspended or dead
reader can never hold or slow a flow: when the socket is full the kernel drops
copies, which the per-instance sequence numbers (``NFULNL_CFG_F_SEQ``) and
``ENOBUFS`` reveal; both are counted as lost (a copy the kernel could not even
allocate gets no sequence number: compare the rule's counter). A copy is at most
:data:`MAX_COPY` bytes (the netlink attribute limit): a longer packet (a GSO
super-packet on loopback, whose MTU is 64 KiB and which may build BIG TCP packets
of more than 64 KiB) arrives truncated, counted in ``truncated``; ``wire_len``
says how long it was when its IP header can tell (a BIG TCP IPv4 header says 0).

The instance lives in the network namespace of the thread that opens it.
"""

from __future__ import annotations

import errno
import select
import socket
import struct
from dataclasses import dataclass

from . import _netlink as nl
from ._errors import QueueBindError
from ._verdicts import nfgen

__all__ = ["MAX_COPY", "LoggedPacket", "NfLog", "NfLogStats"]

NFNL_SUBSYS_ULOG = 4
NFULNL_MSG_PACKET = 0
NFULNL_MSG_CONFIG = 1
NFULA_CFG_CMD = 1
NFULA_CFG_MODE = 2
NFULA_CFG_NLBUFSIZ = 3
NFULA_CFG_TIMEOUT = 4
NFULA_CFG_QTHRESH = 5
NFULA_CFG_FLAGS = 6
NFULNL_CFG_CMD_BIND = 1
NFULNL_CFG_CMD_UNBIND = 2
NFULNL_COPY_PACKET = 2
NFULNL_CFG_F_SEQ = 0x0001
NFULA_PACKET_HDR = 1
NFULA_IFINDEX_INDEV = 4
NFULA_IFINDEX_OUTDEV = 5
NFULA_PAYLOAD = 9
NFULA_SEQ = 12
#: The most bytes of one packet a copy holds (a netlink attribute is at most 64 KiB).
MAX_COPY = 0xFFFF - 4

_MSG_PACKET = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET
_BE32 = struct.Struct(">I")
_BE16 = struct.Struct(">H")


@dataclass(slots=True)
class NfLogStats:
    """What the reader got and what it lost."""

    packets: int = 0
    bytes: int = 0
    #: Copies the kernel could not deliver (sequence-number gaps).
    lost: int = 0
    #: Times the socket overflowed (``ENOBUFS``); the copies lost are in ``lost``.
    enobufs: int = 0
    #: Copies shorter than their packet (see :data:`MAX_COPY`).
    truncated: int = 0
    malformed: int = 0


@dataclass(frozen=True, slots=True)
class LoggedPacket:
    """One copied packet: from its IP header on, and where netfilter saw it."""

    hook: int
    indev: int
    outdev: int
    payload: bytes
    #: The packet's length per its IP header (more than ``len(payload)`` if truncated).
    wire_len: int


def _ip_length(data: bytes) -> int:
    """The total length an IPv4/IPv6 header claims (0 when unreadable)."""
    if len(data) >= 20 and data[0] >> 4 == 4:
        return _BE16.unpack_from(data, 2)[0]
    if len(data) >= 40 and data[0] >> 4 == 6:
        return 40 + _BE16.unpack_from(data, 4)[0]
    return 0


class NfLog:
    """A bound NFLOG group: :meth:`receive` copies, count what was lost."""

    def __init__(self, group: int, *, copy: int = MAX_COPY, rcvbuf: int = 32 << 20) -> None:
        if not 0 <= group <= 0xFFFF:
            raise ValueError(f"nflog group out of range: {group}")
        if not 0 < copy <= MAX_COPY:
            raise ValueError(f"copy must be 1..{MAX_COPY}: {copy}")
        self.group = group
        self.stats = NfLogStats()
        self._next_seq: int | None = None
        self._seq = 0
        self._buf = bytearray(MAX_COPY + 4096)
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nl.NETLINK_NETFILTER)
        try:
            self._open(copy, rcvbuf)
        except BaseException:
            self._sock.close()
            raise

    def _open(self, copy: int, rcvbuf: int) -> None:
        self._sock.bind((0, 0))
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, 33, rcvbuf)  # SO_RCVBUFFORCE
        except OSError:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self._config(nl.attr(NFULA_CFG_CMD, bytes([NFULNL_CFG_CMD_BIND])), "bind")
        self._config(nl.attr(NFULA_CFG_MODE, struct.pack(">IBx", copy, NFULNL_COPY_PACKET))
                     + nl.attr(NFULA_CFG_QTHRESH, _BE32.pack(1))
                     + nl.attr(NFULA_CFG_FLAGS, _BE16.pack(NFULNL_CFG_F_SEQ)), "mode")
        self._sock.setblocking(False)

    def _config(self, attrs: bytes, what: str) -> None:
        self._seq += 1
        kind = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG
        nl.request(self._sock, kind, 0, self._seq, nfgen(self.group) + attrs,
                   f"nflog group {self.group} {what}", QueueBindError)

    def fileno(self) -> int:
        """The socket's fd (readable when copies wait), for event loops."""
        return self._sock.fileno()

    def wait(self, timeout: float | None) -> bool:
        """Block until a copy is readable or ``timeout`` seconds pass."""
        ready, _, _ = select.select([self._sock], [], [], timeout)
        return bool(ready)

    def receive(self, limit: int = 256) -> list[LoggedPacket]:
        """Up to ``limit`` waiting copies, without blocking (maybe none)."""
        out: list[LoggedPacket] = []
        buf = self._buf
        while len(out) < limit:
            try:
                n = self._sock.recv_into(buf)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                self.stats.enobufs += 1
                continue
            for kind, _flags, _seq, body, end in nl.iter_messages(buf, n):
                if kind == _MSG_PACKET:
                    self._packet(buf, body + 4, end, out)
                elif kind != nl.NLMSG_ERROR:
                    self.stats.malformed += 1
        return out

    def _packet(self, buf: bytearray, start: int, end: int, out: list[LoggedPacket]) -> None:
        hook = indev = outdev = -1
        seq: int | None = None
        payload = b""
        for kind, lo, hi in nl.iter_attrs(buf, start, end):
            if kind == NFULA_PACKET_HDR and hi - lo >= 3:
                hook = buf[lo + 2]
            elif kind == NFULA_PAYLOAD:
                payload = bytes(buf[lo:hi])
            elif kind == NFULA_SEQ and hi - lo >= 4:
                seq = _BE32.unpack_from(buf, lo)[0]
            elif kind == NFULA_IFINDEX_INDEV and hi - lo >= 4:
                indev = _BE32.unpack_from(buf, lo)[0]
            elif kind == NFULA_IFINDEX_OUTDEV and hi - lo >= 4:
                outdev = _BE32.unpack_from(buf, lo)[0]
        if hook < 0 or not payload:
            self.stats.malformed += 1
            return
        self._count_seq(seq)
        claimed = _ip_length(payload)
        wire = max(claimed, len(payload))
        stats = self.stats
        stats.packets += 1
        stats.bytes += len(payload)
        if wire > len(payload) or (len(payload) >= MAX_COPY and claimed != len(payload)):
            stats.truncated += 1
        out.append(LoggedPacket(hook, max(indev, 0), max(outdev, 0), payload, wire))

    def _count_seq(self, seq: int | None) -> None:
        if seq is None:
            return
        expected = self._next_seq
        if expected is not None and seq != expected:
            self.stats.lost += (seq - expected) & 0xFFFFFFFF
        self._next_seq = (seq + 1) & 0xFFFFFFFF

    def close(self) -> None:
        """Unbind the group and close the socket (idempotent)."""
        if self._sock.fileno() < 0:
            return
        try:
            self._sock.setblocking(True)
            self._sock.settimeout(1.0)
            self._config(nl.attr(NFULA_CFG_CMD, bytes([NFULNL_CFG_CMD_UNBIND])), "unbind")
        except (OSError, QueueBindError):
            pass
        finally:
            self._sock.close()

    def __enter__(self) -> NfLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
