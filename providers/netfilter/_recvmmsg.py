"""Many netlink datagrams per system call: ``recvmmsg(2)`` through ctypes.

NFQUEUE sends one datagram per packet; reading them one ``recv`` at a time
costs a system call and a Python method call each. This reads up to ``count``
datagrams into fixed slots of one buffer. It needs only libc at run time; when
``recvmmsg`` is missing, :func:`open_receiver` returns None and callers fall
back to ``recv_into``.
"""

from __future__ import annotations

import ctypes
import errno
import struct
from collections.abc import Callable

__all__ = ["MMsgReceiver", "open_receiver"]

MSG_DONTWAIT = 0x40
_MMSG_SIZE = 64  # struct mmsghdr on 64-bit Linux: msghdr (56) + msg_len (4) + pad


class _IoVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class _MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(_IoVec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class _MMsgHdr(ctypes.Structure):
    _fields_ = [("hdr", _MsgHdr), ("len", ctypes.c_uint)]


class MMsgReceiver:
    """Receives up to ``count`` datagrams of at most ``slot`` bytes per call.

    After :meth:`recv` returns ``n``, datagram ``i`` is
    ``buf[i * slot : i * slot + length(i)]``.
    """

    def __init__(self, fd: int, slot: int, count: int, recvmmsg: Callable[..., int]) -> None:
        if ctypes.sizeof(_MMsgHdr) != _MMSG_SIZE:
            raise OSError(errno.ENOSYS, "unexpected struct mmsghdr layout")
        self.fd, self.slot, self.count = fd, slot, count
        self.buf = bytearray(slot * count)
        base = ctypes.addressof((ctypes.c_char * len(self.buf)).from_buffer(self.buf))
        self._iovs = (_IoVec * count)()
        self._msgs = (_MMsgHdr * count)()
        for i in range(count):
            self._iovs[i].base = base + i * slot
            self._iovs[i].len = slot
            self._msgs[i].hdr.iov = ctypes.pointer(self._iovs[i])
            self._msgs[i].hdr.iovlen = 1
        self._lens = memoryview(self._msgs).cast("B")
        self._addr = ctypes.addressof(self._msgs)
        self._call = recvmmsg
        self._len_structs = [struct.Struct("=" + "56xI4x" * k) for k in range(count + 1)]

    def recv(self, limit: int) -> int:
        """Read waiting datagrams without blocking; 0 if none. Raises OSError."""
        n = self._call(self.fd, self._addr, min(limit, self.count), MSG_DONTWAIT, None)
        if n < 0:
            err = ctypes.get_errno()
            if err in (errno.EAGAIN, errno.EWOULDBLOCK):
                return 0
            raise OSError(err, "recvmmsg")
        return n

    def lengths(self, n: int) -> tuple[int, ...]:
        """Lengths of the ``n`` datagrams of the last call."""
        return self._len_structs[n].unpack_from(self._lens, 0)


def open_receiver(fd: int, slot: int, count: int) -> MMsgReceiver | None:
    """A receiver for ``fd``, or None when libc has no usable recvmmsg."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        func = libc.recvmmsg
        func.restype = ctypes.c_int
        func.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int,
                         ctypes.c_void_p]
        return MMsgReceiver(fd, slot, count, func)
    except (OSError, AttributeError):
        return None
