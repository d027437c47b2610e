"""Offline and live packet machinery: sources, decoding, flows and TCP reassembly."""

from ._bpf import BpfError, compile_filter, parse_dd
from ._communityid import community_id
from ._consumers import PacketConsumer, consumer_names, make_consumer, register_consumer
from ._decode import Decoder
from ._flows import Direction, Flow, FlowState, FlowTable
from ._headers import ip_transport
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
from ._live import LiveSource, in_netns
from ._packet import TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN, Packet, address_text
from ._pcap import MAX_FRAME, PcapFileSource, PcapHeader, classic_pcap_header, open_capture
from ._pcapwrite import PcapngWriter, PcapWriter
from ._progress import ProgressBar
from ._reassembly import StreamConsumer, TcpReassembler
from ._replay import Pipeline
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
    "MAX_FRAME",
    "TCP_ACK",
    "TCP_FIN",
    "TCP_PSH",
    "TCP_RST",
    "TCP_SYN",
    "BpfError",
    "CaptureFormatError",
    "DecodeStats",
    "Decoder",
    "Direction",
    "Flow",
    "FlowState",
    "FlowTable",
    "Frame",
    "LiveSource",
    "Packet",
    "PacketConsumer",
    "PacketSource",
    "PcapFileSource",
    "PcapHeader",
    "PcapWriter",
    "PcapngWriter",
    "Pipeline",
    "ProgressBar",
    "StreamConsumer",
    "TcpReassembler",
    "address_text",
    "classic_pcap_header",
    "community_id",
    "compile_filter",
    "consumer_names",
    "in_netns",
    "ip_transport",
    "make_consumer",
    "open_capture",
    "parse_dd",
    "register_consumer",
]
