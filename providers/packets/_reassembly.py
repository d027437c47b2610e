"""TCP stream reassembly: ordered bytes per flow direction, with gaps reported, not hidden.

Each direction is a :class:`_Stream` that maps 32-bit sequence numbers onto an unbounded
stream offset (so wrap-around is invisible), delivers in-order data at once and parks
out-of-order data in non-overlapping intervals. Overlaps keep the first data seen.
Parked bytes are bounded per stream and in total: past a bound the stream skips ahead
to its first parked segment (a reported gap), and data that still cannot be parked is
dropped and counted.
"""

from __future__ import annotations

import bisect
from typing import Any, Protocol

from ._accel import CSTAGE
from ._packet import TCP_FIN, TCP_RST, TCP_SYN, Packet

__all__ = ["CompiledReassembler", "ReassemblyStats", "StreamConsumer", "TcpReassembler"]

_MOD = 1 << 32
_HALF = 1 << 31
_SPECIAL = TCP_SYN | TCP_FIN | TCP_RST  # segments the in-order fast path leaves alone


class StreamConsumer(Protocol):
    """Receives ordered stream chunks; ``side`` 0 is the flow initiator's direction.

    ``flow`` is whatever the reassembler was fed with (the pipeline's :class:`Flow`).
    """

    def on_data(self, flow: Any, side: int, data: bytes) -> object:
        """Ordered bytes (what it returns is for the compiled packet stage: a loan)."""

    def on_gap(self, flow: Any, side: int, nbytes: int) -> None: ...

    def on_end(self, flow: Any, side: int, reason: str) -> None: ...


class ReassemblyStats:
    """Byte and event counters over all streams."""

    __slots__ = (
        "buffered_bytes",
        "delivered_bytes",
        "dropped_bytes",
        "gap_bytes",
        "gaps",
        "out_of_order",
        "overlap_bytes",
        "retransmitted_bytes",
    )
    buffered_bytes: int
    delivered_bytes: int
    dropped_bytes: int
    gap_bytes: int
    gaps: int
    out_of_order: int
    overlap_bytes: int
    retransmitted_bytes: int

    def __init__(self) -> None:
        for k in self.__slots__:
            setattr(self, k, 0)

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


class _Stream:
    """One direction of one connection."""

    __slots__ = ("base", "buffered", "chunks", "ended", "fin_at", "next", "starts")

    def __init__(self) -> None:
        self.base: int | None = None  # sequence number at stream offset 0
        self.next = 0  # stream offset of the next byte to deliver
        self.starts: list[int] = []  # parked interval starts, sorted
        self.chunks: dict[int, bytes] = {}
        self.buffered = 0
        self.ended = False
        self.fin_at: int | None = None  # stream offset of the FIN, once seen

    def offset(self, seq: int) -> int:
        """Stream offset of ``seq``, taking the 32-bit value nearest the next offset."""
        assert self.base is not None
        expected = (self.base + self.next) % _MOD
        delta = (seq - expected + _HALF) % _MOD - _HALF
        return self.next + delta


class TcpReassembler:
    """Feeds TCP segments per flow and direction; ordered bytes go to ``consumer``."""

    def __init__(
        self,
        consumer: StreamConsumer,
        *,
        max_stream_buffer: int = 1 << 20,
        max_total_buffer: int = 64 << 20,
    ) -> None:
        self.consumer = consumer
        self.max_stream_buffer = max_stream_buffer
        self.max_total_buffer = max_total_buffer
        self.stats = ReassemblyStats()
        self._streams: dict[object, list[_Stream]] = {}

    def streams(self, flow: object) -> list[_Stream] | None:
        """The two directions' stream states of ``flow`` (None before its first segment),
        for a fast path that applies :meth:`feed`'s in-order case to them itself."""
        return self._streams.get(flow)

    def feed(self, flow: object, side: int, pkt: Packet) -> None:
        """Account one TCP segment sent by ``side`` (0: initiator) of ``flow``."""
        pair = self._streams.get(flow)
        if pair is None:
            pair = self._streams[flow] = [_Stream(), _Stream()]
        st = pair[side]
        if st.ended:
            return
        n = pkt.payload_len
        if n and not pkt.flags & _SPECIAL and not st.starts and st.base is not None \
                and pkt.seq == (st.base + st.next) % _MOD:
            # The common case: the next data in order, nothing parked, no SYN, FIN or
            # RST; what _segment and _deliver do then, without their other checks.
            off = pkt.payload_off
            data = pkt.data[off : off + n]
            n = len(data)  # the same unless a hand-made packet's data is cut short
            if n:
                st.next += n
                self.stats.delivered_bytes += n
                self.consumer.on_data(flow, side, data)
        else:
            self._feed(flow, side, st, pkt, n)
        if st.fin_at is not None and st.next >= st.fin_at and not st.ended:
            self._finish(flow, side, st, "fin")

    def _feed(self, flow: object, side: int, st: _Stream, pkt: Packet, n: int) -> None:
        """Any segment: SYN, data anywhere, FIN, RST (``n``: its payload length)."""
        flags = pkt.flags
        seq = pkt.seq
        if flags & TCP_SYN:
            if st.base is None or not st.next:
                st.base = (seq + 1) % _MOD
                st.next = 0
            seq = (seq + 1) % _MOD
        if n and st.base is None:  # first seen mid-session: start at the first data
            st.base = seq
        if n:
            data = pkt.data[pkt.payload_off : pkt.payload_off + n]
            self._segment(flow, side, st, st.offset(seq), data)
        if flags & TCP_RST:
            self._finish(flow, side, st, "rst")
        elif flags & TCP_FIN and st.base is not None:
            st.fin_at = st.offset((seq + n) % _MOD)

    def close(self, flow: object) -> None:
        """The flow ended: flush both directions (gaps reported) and forget them."""
        pair = self._streams.pop(flow, None)
        if pair is None:
            return
        for side, st in enumerate(pair):
            if not st.ended:
                self._finish(flow, side, st, "close")
                st.ended = True

    def _segment(self, flow: object, side: int, st: _Stream, pos: int, data: bytes) -> None:
        stats = self.stats
        end = pos + len(data)
        if end <= st.next:
            stats.retransmitted_bytes += len(data)
            return
        if pos < st.next:
            stats.overlap_bytes += st.next - pos
            data = data[st.next - pos :]
            pos = st.next
        if pos == st.next and not (st.starts and st.starts[0] < end):
            self._deliver(flow, side, st, data)
            self._drain(flow, side, st)
            return
        if pos > st.next:
            stats.out_of_order += 1
        self._park(flow, side, st, pos, data)
        self._drain(flow, side, st)

    def _park(self, flow: object, side: int, st: _Stream, pos: int, data: bytes) -> None:
        """Keep the parts of ``data`` no parked interval covers yet (first data wins)."""
        stats = self.stats
        pieces: list[tuple[int, bytes]] = []
        cur, end = pos, pos + len(data)
        i = bisect.bisect_right(st.starts, cur) - 1
        if i < 0:
            i = 0
        while cur < end and i < len(st.starts):
            s = st.starts[i]
            e = s + len(st.chunks[s])
            if e <= cur:
                i += 1
                continue
            if s >= end:
                break
            if s > cur:
                pieces.append((cur, data[cur - pos : s - pos]))
            overlap = min(e, end) - max(s, cur)
            stats.overlap_bytes += overlap
            cur = e
            i += 1
        if cur < end:
            pieces.append((cur, data[cur - pos :]))
        for p, chunk in pieces:
            if not self._room(flow, side, st, len(chunk)):
                stats.dropped_bytes += len(chunk)
                continue
            if p < st.next:  # a forced skip moved past it
                stats.dropped_bytes += len(chunk)
                continue
            bisect.insort(st.starts, p)
            st.chunks[p] = chunk
            st.buffered += len(chunk)
            stats.buffered_bytes += len(chunk)

    def _room(self, flow: object, side: int, st: _Stream, n: int) -> bool:
        """Make room for ``n`` parked bytes by skipping ahead if a bound would be crossed."""
        while st.starts and (st.buffered + n > self.max_stream_buffer
                             or self.stats.buffered_bytes + n > self.max_total_buffer):
            self._skip_gap(flow, side, st)
        return (st.buffered + n <= self.max_stream_buffer
                and self.stats.buffered_bytes + n <= self.max_total_buffer)

    def _skip_gap(self, flow: object, side: int, st: _Stream) -> None:
        """Declare the hole before the first parked segment lost and deliver what follows."""
        first = st.starts[0]
        if first > st.next:
            gap = first - st.next
            self.stats.gaps += 1
            self.stats.gap_bytes += gap
            self.consumer.on_gap(flow, side, gap)
            st.next = first
        self._drain(flow, side, st)

    def _drain(self, flow: object, side: int, st: _Stream) -> None:
        """Deliver parked data that has become contiguous."""
        starts, chunks = st.starts, st.chunks
        while starts and starts[0] <= st.next:
            s = starts.pop(0)
            chunk = chunks.pop(s)
            st.buffered -= len(chunk)
            self.stats.buffered_bytes -= len(chunk)
            if s + len(chunk) <= st.next:
                self.stats.overlap_bytes += len(chunk)
                continue
            if s < st.next:
                self.stats.overlap_bytes += st.next - s
                chunk = chunk[st.next - s :]
            self._deliver(flow, side, st, chunk)

    def _deliver(self, flow: object, side: int, st: _Stream, data: bytes) -> None:
        st.next += len(data)
        self.stats.delivered_bytes += len(data)
        self.consumer.on_data(flow, side, data)

    def _finish(self, flow: object, side: int, st: _Stream, reason: str) -> None:
        while st.starts:
            self._skip_gap(flow, side, st)
        st.ended = True
        self.consumer.on_end(flow, side, reason)


class CompiledReassembler:
    """:class:`TcpReassembler` with its state in C (``providers.packets._cstage``): the
    same callbacks in the same order and the same counters; the Python class stays the
    reference. It has no Python stream objects (:meth:`streams` is always None)."""

    def __init__(
        self,
        consumer: StreamConsumer,
        *,
        max_stream_buffer: int = 1 << 20,
        max_total_buffer: int = 64 << 20,
    ) -> None:
        if CSTAGE is None:
            raise RuntimeError("the compiled packet stage is not built")
        self.consumer = consumer
        self.max_stream_buffer = max_stream_buffer
        self.max_total_buffer = max_total_buffer
        self._c = CSTAGE.Reassembler(consumer.on_data, consumer.on_gap, consumer.on_end,
                                     max_stream_buffer, max_total_buffer)
        self._feed = self._c.feed
        #: The flow ended: flush both directions (gaps reported) and forget them.
        self.close = self._c.close

    @property
    def stats(self) -> ReassemblyStats:
        """A snapshot of the counters."""
        stats = ReassemblyStats()
        for name, value in self._c.stats().items():
            setattr(stats, name, value)
        return stats

    def streams(self, flow: object) -> None:
        """Always None: the stream state is the C type's own."""
        return None

    def feed(self, flow: object, side: int, pkt: Packet) -> None:
        """Account one TCP segment sent by ``side`` (0: initiator) of ``flow``."""
        data = pkt.data
        self._feed(flow, side, pkt.seq, pkt.flags, data if type(data) is bytes else bytes(data),
                   pkt.payload_off, pkt.payload_len)
