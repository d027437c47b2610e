"""How an NFQUEUE is bound: copy range, queue length, flags, receive tuning."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MAX_COPY_RANGE", "QueueConfig"]

NFQA_CFG_F_FAIL_OPEN = 0x1
NFQA_CFG_F_CONNTRACK = 0x2
NFQA_CFG_F_GSO = 0x4
NFQA_CFG_F_UID_GID = 0x8

MAX_COPY_RANGE = 0xFFFF


@dataclass(slots=True, frozen=True)
class QueueConfig:
    """How to bind a queue.

    ``copy_range`` bytes of each packet are copied (from the IP header).
    ``fail_open``: when the queue is full or we cannot be reached, the kernel
    accepts instead of dropping. ``gso``: hand over unsegmented GSO packets
    (fast TCP; payload checksums may be partial). ``conntrack``: add ct state
    (``Packet.ct_info``). ``uid_gid``: add the socket owner's uid/gid.
    ``rcvbuf``: netlink receive buffer in bytes (forced when root).
    ``batch_size``: most packets per :meth:`NfQueue.receive`. ``recvmmsg``:
    read many datagrams per system call (libc via ctypes; falls back to
    ``recv_into`` when unavailable). ``keep_heap``: raise glibc's heap trim
    threshold for the process (see ``_malloc``); copying 64 KiB GSO packets
    gets ~6x cheaper.
    """

    queue_num: int = 0
    copy_range: int = MAX_COPY_RANGE
    max_len: int = 4096
    fail_open: bool = False
    gso: bool = True
    conntrack: bool = False
    uid_gid: bool = False
    rcvbuf: int = 32 << 20
    batch_size: int = 1024
    recvmmsg: bool = True
    keep_heap: bool = True

    @property
    def flags(self) -> int:
        """The NFQA_CFG_FLAGS bits this config asks for."""
        return ((NFQA_CFG_F_FAIL_OPEN if self.fail_open else 0)
                | (NFQA_CFG_F_GSO if self.gso else 0)
                | (NFQA_CFG_F_CONNTRACK if self.conntrack else 0)
                | (NFQA_CFG_F_UID_GID if self.uid_gid else 0))
