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
_BE32 = struct.Struct(">I")


class Packet:
    """One packet held by the kernel until it receives a verdict.

    Only ``id`` is read on receipt; everything else is parsed from the kept
    message on first access, so an accept-everything consumer pays for none
    of it. The message always starts with NFQA_PACKET_HDR (checked on receipt).

    ``payload`` starts at the network header (IPv4/IPv6). ``cap_len`` is the
    original length when the copy range truncated the payload, else None.
    ``ct_info`` is set only when the queue asked for conntrack information;
    ``uid``/``gid`` only when it asked for socket owners.
    """

    __slots__ = ("_attrs", "_raw", "id")

    def __init__(self, pkt_id: int, raw: bytes | bytearray) -> None:
        self.id = pkt_id
        self._raw = raw
        self._attrs: dict[int, tuple[int, int]] | None = None

    @property
    def hw_protocol(self) -> int:
        """Link-layer protocol (ETH_P_IP 0x0800, ETH_P_IPV6 0x86dd)."""
        return int.from_bytes(self._raw[8:10], "big")

    @property
    def hook(self) -> int:
        """Netfilter hook (:class:`Hook`) the packet was queued from."""
        return self._raw[10]

    def _spans(self) -> dict[int, tuple[int, int]]:
        attrs = self._attrs
        if attrs is None:
            attrs = self._attrs = _attr_spans(self._raw)
        return attrs

    def _u32(self, kind: int) -> int | None:
        span = self._spans().get(kind)
        if span is None or span[1] - span[0] < 4:
            return None
        return _BE32.unpack_from(self._raw, span[0])[0]

    @property
    def payload(self) -> bytes | bytearray:
        """The packet from its IP header on (maybe truncated, see ``cap_len``).

        A fresh copy; a bytearray when the packet came by the receive fast path.
        """
        span = self._spans().get(NFQA_PAYLOAD)
        return self._raw[span[0]:span[1]] if span else b""

    @property
    def mark(self) -> int:
        """The packet mark (0 if unset)."""
        return self._u32(NFQA_MARK) or 0

    @property
    def indev(self) -> int:
        """Input interface index (0: none)."""
        return self._u32(NFQA_IFINDEX_INDEV) or 0

    @property
    def outdev(self) -> int:
        """Output interface index (0: none)."""
        return self._u32(NFQA_IFINDEX_OUTDEV) or 0

    @property
    def cap_len(self) -> int | None:
        """Original packet length when the payload was truncated."""
        return self._u32(NFQA_CAP_LEN)

    @property
    def ct_info(self) -> int | None:
        """Conntrack state (:class:`CtInfo`), when the queue asked for it."""
        return self._u32(NFQA_CT_INFO)

    @property
    def skb_info(self) -> int:
        """NFQA_SKB_* flags (checksum not ready, GSO)."""
        return self._u32(NFQA_SKB_INFO) or 0

    @property
    def uid(self) -> int | None:
        """Owning socket's uid, when the queue asked for it and there is a socket."""
        return self._u32(NFQA_UID)

    @property
    def gid(self) -> int | None:
        """Owning socket's gid, as ``uid``."""
        return self._u32(NFQA_GID)

    @property
    def is_new_flow(self) -> bool:
        """True when conntrack says this packet opens a new flow."""
        return self.ct_info == CtInfo.NEW

    @property
    def truncated(self) -> bool:
        """True when the payload is shorter than the packet (copy range)."""
        cap = self.cap_len
        return cap is not None and cap > len(self.payload)

    @property
    def is_gso(self) -> bool:
        """True for an unsegmented GSO super-packet (needs the GSO queue flag)."""
        return bool(self.skb_info & NFQA_SKB_GSO)

    def __repr__(self) -> str:
        return (f"Packet(id={self.id}, hook={self.hook}, len={len(self.payload)}, "
                f"mark={self.mark})")


def _attr_spans(raw: bytes | bytearray) -> dict[int, tuple[int, int]]:
    """Map attribute type -> (value start, value end) in ``raw``; stops at garbage."""
    spans: dict[int, tuple[int, int]] = {}
    off, end = 0, len(raw)
    while off + 4 <= end:
        alen, atype = _ATTR.unpack_from(raw, off)
        if alen < 4 or off + alen > end:
            break
        spans[atype & 0x3FFF] = (off + 4, off + alen)
        off += (alen + 3) & ~3
    return spans




def parse_packet(buf: memoryview | bytes, start: int, end: int) -> Packet | None:
    """Parse an NFQNL_MSG_PACKET body (after nfgenmsg); None if malformed.

    The kernel always puts NFQA_PACKET_HDR first; anything else is malformed.
    """
    if end - start < 12:
        return None
    alen, atype = _ATTR.unpack_from(buf, start)
    if atype & 0x3FFF != NFQA_PACKET_HDR or alen < 11 or start + alen > end:
        return None
    return Packet(_BE32.unpack_from(buf, start + 4)[0], bytes(buf[start:end]))
