"""Exact socket lookup by 5-tuple over NETLINK_SOCK_DIAG (inet_diag_req_v2).

One request, one answer: the kernel's own hash lookup for TCP (established,
then listener) and UDP (connected, then bound) sockets, IPv4 and IPv6. The
lookup runs in the network namespace the :class:`SockDiag` was created in.
"""

from __future__ import annotations

import errno
import socket
import struct
from dataclasses import dataclass

from . import _netlink as nl
from ._errors import NetlinkError
from ._flow import IPPROTO_TCP, IPPROTO_UDP

__all__ = ["SockDiag", "SocketInfo"]

SOCK_DIAG_BY_FAMILY = 20
_NOCOOKIE = 0xFFFFFFFF
_ALL_STATES = 0xFFFFFFFF
_REQ = struct.Struct("=BBBxI")
_PORTS = struct.Struct(">HH")
_TAIL = struct.Struct("=III")
_MSG = struct.Struct("=BBBB")  # family, state, timer, retrans
_OWNER = struct.Struct("=II")  # uid, inode at offset 64


@dataclass(frozen=True, slots=True)
class SocketInfo:
    """What sock_diag says about a socket: its inode (0: no owner, e.g. TIME_WAIT)."""

    inode: int
    uid: int
    state: int
    family: int


def _addr(family: int, text: str) -> bytes:
    raw = socket.inet_pton(family, text)
    return raw + b"\0" * (16 - len(raw))


class SockDiag:
    """A sock_diag netlink socket for exact lookups. Not thread-safe; one per thread."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, nl.NETLINK_SOCK_DIAG)
        self._sock.bind((0, 0))
        self._sock.settimeout(1.0)
        self._seq = 0
        self._buf = bytearray(8192)

    def lookup(self, protocol: int, family: int, local: tuple[str, int],
               remote: tuple[str, int]) -> SocketInfo | None:
        """The socket owning ``local``<->``remote``, or None when there is none."""
        if protocol not in (IPPROTO_TCP, IPPROTO_UDP):
            return None
        if protocol == IPPROTO_UDP:  # udp_diag swaps src and dst (kernel comment)
            local, remote = remote, local
        body = (_REQ.pack(family, protocol, 0, _ALL_STATES)
                + _PORTS.pack(local[1], remote[1])
                + _addr(family, local[0]) + _addr(family, remote[0])
                + _TAIL.pack(0, _NOCOOKIE, _NOCOOKIE))
        self._seq = (self._seq + 1) & 0xFFFFFFFF
        self._sock.send(nl.message(SOCK_DIAG_BY_FAMILY, nl.NLM_F_REQUEST, self._seq, body))
        return self._answer(self._seq)

    def _answer(self, seq: int) -> SocketInfo | None:
        while True:
            n = self._sock.recv_into(self._buf)
            for kind, _flags, mseq, off, end in nl.iter_messages(self._buf, n):
                if mseq != seq:
                    continue  # a late answer to an earlier, timed-out request
                if kind == nl.NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", self._buf, off)
                    if -err in (errno.ENOENT, 0):
                        return None
                    raise NetlinkError(-err, "sock_diag lookup")
                if kind == SOCK_DIAG_BY_FAMILY and end - off >= 72:
                    fam, state, _t, _r = _MSG.unpack_from(self._buf, off)
                    uid, inode = _OWNER.unpack_from(self._buf, off + 64)
                    return SocketInfo(inode, uid, state, fam)
            # nothing for us in this datagram: read the next one

    def close(self) -> None:
        """Close the netlink socket."""
        self._sock.close()

    def __enter__(self) -> SockDiag:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
