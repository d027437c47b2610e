"""The transport header of one raw IP packet (NFQUEUE, a raw socket), through the decoder.

The one IP/TCP/UDP/ICMP header parser is :class:`Decoder` (Python, with its C twin);
this is its small entry point for consumers that hold a bare IP packet rather than a
captured frame: the inspect worker and the netfilter attribution.
"""

from __future__ import annotations

import threading

from ._decode import Decoder
from ._linktypes import LINKTYPE_RAW
from ._packet import Packet

__all__ = ["ip_transport"]

_TRANSPORTS = frozenset({1, 6, 17, 58})
_local = threading.local()  # a decoder per thread (its counters are not shared)


def ip_transport(data: bytes | bytearray | memoryview, size: int = 0) -> Packet | None:
    """The decoded packet if it is TCP, UDP, ICMP or ICMPv6 with its transport header
    (not a later fragment), else None (other protocols, cut short, malformed).

    ``size`` is the packet's real length when only its start was copied.
    """
    decoder = getattr(_local, "decoder", None)
    if decoder is None:
        decoder = _local.decoder = Decoder()
    if type(data) is not bytes:
        data = bytes(data)
    pkt = decoder.decode(LINKTYPE_RAW, data, size, 0)
    if pkt is None or pkt.proto not in _TRANSPORTS or not pkt.payload_off:
        return None
    return pkt
