"""TCP reassembly: ordering, duplicates, overlaps, gaps, wrap-around and memory bounds."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from providers.packets import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Packet
from providers.packets._reassembly import TcpReassembler

A, B = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2])


class Collector:
    """A consumer that records what the reassembler hands out."""

    def __init__(self) -> None:
        self.data: dict[int, bytearray] = {0: bytearray(), 1: bytearray()}
        self.events: list[tuple] = []

    def on_data(self, flow, side, data):
        self.data[side] += data
        self.events.append(("data", side, bytes(data)))

    def on_gap(self, flow, side, nbytes):
        self.events.append(("gap", side, nbytes))

    def on_end(self, flow, side, reason):
        self.events.append(("end", side, reason))


def seg(seq: int, payload: bytes = b"", flags: int = TCP_ACK) -> Packet:
    data = b"\0" * 54 + payload
    return Packet(0, data, len(data), 4, A, B, 6, False, 1234, 80, seq % (1 << 32), 0, flags,
                  54, len(payload), len(payload))


def feed_all(r: TcpReassembler, segments) -> None:
    for s in segments:
        r.feed("f", 0, s)


def test_in_order_stream_after_handshake() -> None:
    """Data after a SYN is delivered in order and the FIN ends the direction."""
    c = Collector()
    r = TcpReassembler(c)
    feed_all(r, [seg(100, flags=TCP_SYN), seg(101, b"hello "), seg(107, b"world"),
                 seg(112, flags=TCP_FIN | TCP_ACK)])
    assert bytes(c.data[0]) == b"hello world"
    assert c.events[-1] == ("end", 0, "fin")


def test_retransmission_is_counted_not_repeated() -> None:
    """A retransmitted segment is counted and its bytes are not delivered twice."""
    c = Collector()
    r = TcpReassembler(c)
    feed_all(r, [seg(1, b"abc"), seg(1, b"abc"), seg(4, b"def")])
    assert bytes(c.data[0]) == b"abcdef"
    assert r.stats.retransmitted_bytes == 3


def test_overlap_keeps_first_data() -> None:
    """Overlapping segments with different bytes keep what arrived first, and count it."""
    c = Collector()
    r = TcpReassembler(c)
    feed_all(r, [seg(1, b"ab"), seg(5, b"EFGH"), seg(3, b"cdXXXX"), seg(9, b"i")])
    assert bytes(c.data[0]) == b"abcdEFGHi"
    assert r.stats.overlap_bytes == 4


def test_gap_is_reported_and_stream_goes_on() -> None:
    """A hole never filled is reported as a gap of N bytes when the flow closes, then data."""
    c = Collector()
    r = TcpReassembler(c)
    feed_all(r, [seg(1, b"abc"), seg(10, b"xyz")])
    r.close("f")
    assert ("gap", 0, 6) in c.events
    assert bytes(c.data[0]) == b"abcxyz"
    assert r.stats.gap_bytes == 6


def test_midstream_start_uses_first_data() -> None:
    """A stream first seen mid-session (no SYN) starts at the first data segment."""
    c = Collector()
    r = TcpReassembler(c)
    feed_all(r, [seg(5000, flags=TCP_ACK), seg(7000, b"late"), seg(7004, b"r")])
    assert bytes(c.data[0]) == b"later"


def test_sequence_wraparound() -> None:
    """Data crossing the 2^32 sequence boundary reassembles in order."""
    c = Collector()
    r = TcpReassembler(c)
    isn = (1 << 32) - 3
    feed_all(r, [seg(isn, flags=TCP_SYN), seg(isn + 1 + 4, b"EFGH"), seg(isn + 1, b"ABCD")])
    assert bytes(c.data[0]) == b"ABCDEFGH"


def test_rst_ends_direction() -> None:
    """A RST ends the direction; later data is ignored."""
    c = Collector()
    r = TcpReassembler(c)
    feed_all(r, [seg(1, b"ab"), seg(3, flags=TCP_RST), seg(3, b"cd")])
    assert bytes(c.data[0]) == b"ab"
    assert ("end", 0, "rst") in c.events


def test_out_of_order_flood_is_bounded() -> None:
    """A flood of out-of-order data never parks more than the bound; excess is counted."""
    c = Collector()
    r = TcpReassembler(c, max_stream_buffer=10_000, max_total_buffer=20_000)
    r.feed("f", 0, seg(1, b"a"))
    for i in range(1000):
        r.feed("f", 0, seg(100 + i * 2000, b"z" * 1000))
        assert r.stats.buffered_bytes <= 10_000
    assert r.stats.gaps > 0
    assert r.stats.delivered_bytes + r.stats.buffered_bytes + r.stats.dropped_bytes \
        == 1 + 1000 * 1000


def test_total_bound_across_flows() -> None:
    """Parked bytes summed over all flows stay under the total bound."""
    c = Collector()
    r = TcpReassembler(c, max_stream_buffer=10_000, max_total_buffer=15_000)
    for f in range(20):
        r.feed(f, 0, seg(1, b"a"))
        r.feed(f, 0, seg(1000, b"q" * 5000))
        assert r.stats.buffered_bytes <= 15_000


@settings(max_examples=150, deadline=None)
@given(
    payload=st.binary(min_size=1, max_size=3000),
    cuts=st.lists(st.integers(min_value=1, max_value=3000), max_size=30),
    isn=st.integers(min_value=0, max_value=(1 << 32) - 1),
    order=st.randoms(use_true_random=False),
    dups=st.lists(st.integers(min_value=0, max_value=40), max_size=10),
)
def test_any_reordering_and_duplication_reassembles(payload, cuts, isn, order, dups) -> None:
    """Any permutation and duplication of a random stream's segments gives the original."""
    bounds = sorted({0, len(payload), *(c for c in cuts if c < len(payload))})
    segments = [seg(isn + 1 + s, payload[s:e]) for s, e in itertools.pairwise(bounds)]
    segments += [segments[d % len(segments)] for d in dups]
    # overlapping re-cut retransmissions of the same bytes
    if len(bounds) > 2:
        s, e = bounds[0], bounds[2]
        segments.append(seg(isn + 1 + s, payload[s:e]))
    order.shuffle(segments)
    c = Collector()
    r = TcpReassembler(c)
    r.feed("f", 0, seg(isn, flags=TCP_SYN))
    feed_all(r, segments)
    r.close("f")
    assert bytes(c.data[0]) == payload
    assert not [e for e in c.events if e[0] == "gap"]
