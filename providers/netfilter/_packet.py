"""A queued packet as the kernel hands it over, and its verdict vocabulary.

Parsing is the hot path: one ``struct.unpack_from`` per attribute on the receive
buffer, and a single copy of the payload.
"""

from __future__ import annotations

import struct
from enum import IntEnum

__all__ = ["CtInfo", "Hook", "Packet", "Verdict", "parse_packet"]


class Verdict(IntEnum):
    """Kernel verdicts (``NF_*``) a queued packet can receive."""

    DROP = 0
    ACCEPT = 1
    REPEAT = 4  # re-inject at the same hook: the packet walks the chain again


class Hook(IntEnum):
    """Netfilter hook the packet was queued from."""

    PRE_ROUTING = 0
    LOCAL_IN = 1
    FORWARD = 2
    LOCAL_OUT = 3
    POST_ROUTING = 4


class CtInfo(IntEnum):
    """Conntrack state of the packet (``enum ip_conntrack_info``)."""

    ESTABLISHED = 0
    RELATED = 1
    NEW = 2
    ESTABLISHED_REPLY = 3
    RELATED_REPLY = 4


# nfqueue attribute types (include/uapi/linux/netfilter/nfnetlink_queue.h)
NFQA_PACKET_HDR = 1
NFQA_VERDICT_HDR = 2
NFQA_MARK = 3
NFQA_TIMESTAMP = 4
NFQA_IFINDEX_INDEV = 5
NFQA_IFINDEX_OUTDEV = 6
NFQA_PAYLOAD = 10
NFQA_CT = 11
NFQA_CT_INFO = 12
NFQA_CAP_LEN = 13
NFQA_SKB_INFO = 14
NFQA_UID = 16
NFQA_GID = 17

NFQA_SKB_CSUMNOTREADY = 1
NFQA_SKB_GSO = 2

_ATTR = struct.Struct("=HH")
_PKT_HDR = struct.Struct(">IHB")
_BE32 = struct.Struct(">I")


class Packet:
    """One packet held by the kernel until it receives a verdict.

    ``payload`` starts at the network header (IPv4/IPv6). ``cap_len`` is the
    original length when the copy range truncated the payload, else None.
    ``ct_info`` is set only when the queue asked for conntrack information;
    ``uid``/``gid`` only when it asked for socket owners.
    """

    __slots__ = (
        "cap_len",
        "ct_info",
        "gid",
        "hook",
        "hw_protocol",
        "id",
        "indev",
        "mark",
        "outdev",
        "payload",
        "skb_info",
        "uid",
    )

    def __init__(self, pkt_id: int, hw_protocol: int, hook: int) -> None:
        self.id = pkt_id
        self.hw_protocol = hw_protocol
        self.hook = hook
        self.mark = 0
        self.indev = 0
        self.outdev = 0
        self.payload = b""
        self.cap_len: int | None = None
        self.ct_info: int | None = None
        self.skb_info = 0
        self.uid: int | None = None
        self.gid: int | None = None

    @property
    def is_new_flow(self) -> bool:
        """True when conntrack says this packet opens a new flow."""
        return self.ct_info == CtInfo.NEW

    @property
    def truncated(self) -> bool:
        """True when the payload is shorter than the packet (copy range)."""
        return self.cap_len is not None and self.cap_len > len(self.payload)

    @property
    def is_gso(self) -> bool:
        """True for an unsegmented GSO super-packet (needs the GSO queue flag)."""
        return bool(self.skb_info & NFQA_SKB_GSO)

    def __repr__(self) -> str:
        return (f"Packet(id={self.id}, hook={self.hook}, len={len(self.payload)}, "
                f"mark={self.mark}, ct_info={self.ct_info})")


def parse_packet(buf: memoryview, start: int, end: int) -> Packet | None:
    """Parse an NFQNL_MSG_PACKET body (after nfgenmsg); None if malformed."""
    pkt: Packet | None = None
    off = start
    unpack_attr = _ATTR.unpack_from
    while off + 4 <= end:
        alen, atype = unpack_attr(buf, off)
        if alen < 4 or off + alen > end:
            return None
        atype &= 0x3FFF
        v = off + 4
        if atype == NFQA_PAYLOAD:
            if pkt is None:
                return None
            pkt.payload = bytes(buf[v:off + alen])
        elif atype == NFQA_PACKET_HDR:
            if alen < 11:
                return None
            pkt = Packet(*_PKT_HDR.unpack_from(buf, v))
        elif pkt is None:
            return None
        elif alen >= 8:
            if atype == NFQA_MARK:
                pkt.mark = _BE32.unpack_from(buf, v)[0]
            elif atype == NFQA_IFINDEX_OUTDEV:
                pkt.outdev = _BE32.unpack_from(buf, v)[0]
            elif atype == NFQA_IFINDEX_INDEV:
                pkt.indev = _BE32.unpack_from(buf, v)[0]
            elif atype == NFQA_CT_INFO:
                pkt.ct_info = _BE32.unpack_from(buf, v)[0]
            elif atype == NFQA_CAP_LEN:
                pkt.cap_len = _BE32.unpack_from(buf, v)[0]
            elif atype == NFQA_SKB_INFO:
                pkt.skb_info = _BE32.unpack_from(buf, v)[0]
            elif atype == NFQA_UID:
                pkt.uid = _BE32.unpack_from(buf, v)[0]
            elif atype == NFQA_GID:
                pkt.gid = _BE32.unpack_from(buf, v)[0]
        off += (alen + 3) & ~3
    return pkt
