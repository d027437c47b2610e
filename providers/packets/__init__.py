"""Offline and live packet machinery: sources, decoding, flows and TCP reassembly."""

from ._decode import Decoder
from ._linktypes import (
    LINKTYPE_ETHERNET,
    LINKTYPE_IPV4,
    LINKTYPE_IPV6,
    LINKTYPE_LINUX_SLL,
    LINKTYPE_LINUX_SLL2,
    LINKTYPE_LOOP,
    LINKTYPE_NULL,
    LINKTYPE_RAW,
)
from ._packet import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, Packet
from ._pcap import PcapFileSource, open_capture
from ._pcapwrite import PcapngWriter, PcapWriter
from ._source import CaptureFormatError, Frame, PacketSource
from ._stats import DecodeStats

__all__ = [
    "LINKTYPE_ETHERNET",
    "LINKTYPE_IPV4",
    "LINKTYPE_IPV6",
    "LINKTYPE_LINUX_SLL",
    "LINKTYPE_LINUX_SLL2",
    "LINKTYPE_LOOP",
    "LINKTYPE_NULL",
    "LINKTYPE_RAW",
    "TCP_ACK",
    "TCP_FIN",
    "TCP_PSH",
    "TCP_RST",
    "TCP_SYN",
    "CaptureFormatError",
    "DecodeStats",
    "Decoder",
    "Frame",
    "Packet",
    "PacketSource",
    "PcapFileSource",
    "PcapWriter",
    "PcapngWriter",
    "open_capture",
]
