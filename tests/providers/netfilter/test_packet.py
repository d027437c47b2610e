"""Parsing NFQNL_MSG_PACKET bodies into Packet objects."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from providers.netfilter import CtInfo, Hook, Packet
from providers.netfilter._netlink import attr
from providers.netfilter._packet import (
    NFQA_CAP_LEN,
    NFQA_CT_INFO,
    NFQA_IFINDEX_OUTDEV,
    NFQA_MARK,
    NFQA_PACKET_HDR,
    NFQA_PAYLOAD,
    NFQA_SKB_GSO,
    NFQA_SKB_INFO,
    NFQA_UID,
    parse_packet,
)


def _body(*attrs: bytes, pkt_id: int = 42) -> bytes:
    header = struct.pack(">IHB", pkt_id, 0x0800, Hook.LOCAL_OUT)
    return attr(NFQA_PACKET_HDR, header) + b"".join(attrs)


def test_header_fields_and_optional_attributes_are_parsed() -> None:
    """Id, protocol, hook, mark, device, ct state, uid, payload and lengths are read."""
    body = _body(attr(NFQA_MARK, struct.pack(">I", 7)),
                 attr(NFQA_IFINDEX_OUTDEV, struct.pack(">I", 3)),
                 attr(NFQA_CT_INFO, struct.pack(">I", CtInfo.NEW)),
                 attr(NFQA_UID, struct.pack(">I", 1000)),
                 attr(NFQA_SKB_INFO, struct.pack(">I", NFQA_SKB_GSO)),
                 attr(NFQA_CAP_LEN, struct.pack(">I", 3000)),
                 attr(NFQA_PAYLOAD, b"\x45abc"))
    pkt = parse_packet(body, 0, len(body))
    assert pkt is not None
    assert (pkt.id, pkt.hw_protocol, pkt.hook) == (42, 0x0800, Hook.LOCAL_OUT)
    assert (pkt.mark, pkt.outdev, pkt.indev, pkt.uid, pkt.gid) == (7, 3, 0, 1000, None)
    assert pkt.is_new_flow and pkt.is_gso and pkt.truncated
    assert pkt.payload == b"\x45abc" and pkt.cap_len == 3000


def test_absent_attributes_have_neutral_values() -> None:
    """Without optional attributes, fields read as 0/None/empty."""
    body = _body()
    pkt = parse_packet(body, 0, len(body))
    assert pkt is not None
    assert (pkt.mark, pkt.payload, pkt.ct_info, pkt.is_new_flow, pkt.truncated) == \
        (0, b"", None, False, False)


def test_message_without_packet_header_first_is_rejected() -> None:
    """A body whose first attribute is not NFQA_PACKET_HDR is malformed (None)."""
    body = attr(NFQA_PAYLOAD, b"x") + _body()
    assert parse_packet(body, 0, len(body)) is None
    assert parse_packet(b"\x01", 0, 1) is None


def test_truncated_attribute_chain_keeps_what_was_complete() -> None:
    """A cut-off attribute after the header leaves the packet usable, field absent."""
    body = _body(attr(NFQA_MARK, struct.pack(">I", 7)), attr(NFQA_PAYLOAD, b"abcdef"))[:-6]
    pkt = parse_packet(body, 0, len(body))
    assert pkt is not None and pkt.mark == 7 and pkt.payload == b""


@given(st.binary(max_size=200))
def test_garbage_never_raises(data: bytes) -> None:
    """Arbitrary bytes after a valid header parse without exceptions."""
    body = _body() + data
    pkt = parse_packet(body, 0, len(body))
    assert isinstance(pkt, Packet)
    _ = (pkt.payload, pkt.mark, pkt.uid, pkt.ct_info, pkt.truncated, repr(pkt))
