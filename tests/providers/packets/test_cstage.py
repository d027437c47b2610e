"""The compiled reassembler (``_cstage.Reassembler``) behaves exactly as TcpReassembler."""

from __future__ import annotations

import gc
import tracemalloc
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from providers.packets import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN
from providers.packets._accel import CSTAGE, STAGE_REASON
from providers.packets._reassembly import CompiledReassembler, TcpReassembler

if CSTAGE is None:
    print(f"skipping: providers.packets._cstage is off ({STAGE_REASON})")
    pytest.skip(f"the compiled packet stage is off ({STAGE_REASON})", allow_module_level=True)


class _Notes:
    """A stream consumer noting every callback; ``close_on`` closes a flow from inside."""

    def __init__(self) -> None:
        self.events: list[tuple] = []
        self.reassembler: TcpReassembler | CompiledReassembler | None = None
        self.close_on: bytes | None = None

    def on_data(self, flow, side, data):
        self.events.append(("data", flow, side, data))
        if self.close_on is not None and self.close_on in data and self.reassembler:
            self.reassembler.close(flow)

    def on_gap(self, flow, side, nbytes):
        self.events.append(("gap", flow, side, nbytes))

    def on_end(self, flow, side, reason):
        self.events.append(("end", flow, side, reason))


def _segment(seq: int, flags: int, payload: bytes, cut: int) -> SimpleNamespace:
    """A segment as the reassembler reads it (a frame of 10 header bytes, then payload)."""
    data = b"H" * 10 + payload
    return SimpleNamespace(seq=seq % (1 << 32), flags=flags, data=data[: len(data) - cut],
                           payload_off=10, payload_len=len(payload))


def _run(compiled: bool, segments, bounds, close_on=None) -> tuple[list, dict]:
    notes = _Notes()
    notes.close_on = close_on
    cls = CompiledReassembler if compiled else TcpReassembler
    r = cls(notes, max_stream_buffer=bounds[0], max_total_buffer=bounds[1])
    notes.reassembler = r
    for flow, side, seg in segments:
        r.feed(flow, side, seg)
    for flow in ("a", "b"):
        r.close(flow)
    return notes.events, r.stats.as_dict()


_FLAGS = st.sampled_from([TCP_ACK, TCP_ACK, TCP_ACK, TCP_SYN, TCP_SYN | TCP_ACK,
                          TCP_FIN | TCP_ACK, TCP_RST, TCP_ACK | 0x08])
_SEGMENTS = st.lists(
    st.tuples(st.sampled_from(["a", "b"]), st.integers(0, 1),
              st.builds(_segment, st.integers(-40, 120).map(lambda d: (1 << 32) - 30 + d),
                        _FLAGS, st.binary(max_size=30), st.sampled_from([0, 0, 0, 3]))),
    max_size=40,
)


@settings(max_examples=600, deadline=None)
@given(segments=_SEGMENTS, bounds=st.sampled_from([(1 << 20, 64 << 20), (16, 1 << 20),
                                                   (64, 40), (0, 0)]))
def test_any_segments_give_the_same_callbacks_and_counters(segments, bounds):
    """Segments anywhere around the 32-bit wrap, with any flags, cut or not, under any
    bounds: the same callbacks in the same order, and the same counters."""
    assert _run(True, segments, bounds) == _run(False, segments, bounds)


@settings(max_examples=200, deadline=None)
@given(segments=_SEGMENTS)
def test_a_consumer_closing_the_flow_from_a_callback_changes_nothing(segments):
    """The consumer closes the flow while its data is delivered: no crash, the same."""
    for close_on in (b"\x00", b"A"):
        args = (segments, (64, 1 << 20), close_on)
        assert _run(True, *args) == _run(False, *args)


def test_in_order_data_and_fin_close_the_stream():
    """A handshake, data in two segments and a FIN: the bytes in order, then 'fin'."""
    segs = [("a", 0, _segment(99, TCP_SYN, b"", 0)), ("a", 0, _segment(100, TCP_ACK, b"he", 0)),
            ("a", 0, _segment(102, TCP_ACK | TCP_FIN, b"llo", 0))]
    events, stats = _run(True, segs, (1 << 20, 64 << 20))
    assert events[:3] == [("data", "a", 0, b"he"), ("data", "a", 0, b"llo"),
                          ("end", "a", 0, "fin")]
    assert stats["delivered_bytes"] == 5


def test_parked_bytes_are_released():
    """Many flows with parked data, closed: memory returns to where it was."""
    notes = _Notes()
    r = CompiledReassembler(notes)

    def cycle() -> None:
        for i in range(2000):
            r.feed(i, 0, _segment(1000, TCP_ACK, b"x" * 50, 0))
            r.feed(i, 0, _segment(1100, TCP_ACK, b"y" * 50, 0))  # parked
            r.close(i)
        notes.events.clear()

    cycle()
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(5):
        cycle()
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert grown < 100_000 and r.stats.buffered_bytes == 0


def test_misuse_raises():
    """Uninitialised, wrong arguments or a bad side: an exception, not a crash."""
    bare = CSTAGE.Reassembler.__new__(CSTAGE.Reassembler)
    with pytest.raises(RuntimeError, match="not initialised"):
        bare.feed("a", 0, 1, 0, b"", 0, 0)
    with pytest.raises(TypeError):
        CSTAGE.Reassembler(1, 2, 3)
    r = CSTAGE.Reassembler(print, print, print)
    with pytest.raises(ValueError):
        r.feed("a", 2, 1, 0, b"x", 0, 1)
    with pytest.raises(TypeError):
        r.feed("a", 0, 1, 0, "text", 0, 1)
    with pytest.raises(TypeError):
        r.feed([], 0, 1, 0, b"x", 0, 1)  # unhashable flow key
