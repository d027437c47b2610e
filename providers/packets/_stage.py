"""The compiled packet stage: frames -> decode -> flow table -> reassembly -> framing, in C.

:class:`CompiledPipeline` is the twin of :class:`~providers.packets.Pipeline` for one
stream consumer that *frames* (the MSN monitor): the C type
``providers.packets._cstage.Stage`` owns the flow table, the TCP streams and, for the
directions the consumer lends it, the framing state; it talks to the consumer only
through callables, with plain values, bytes, flows (C objects with getters) and the
consumer's own items. The Python pipeline stays the reference: the differential tests
compare both, every event, counter and final flow state.

What the consumer offers besides a stream consumer's methods:

- ``on_packet(pkt, flow, direction)`` returns True when the flow's later packets need
  only be counted: they are, and ``count_packets(n)`` hears their number;
- ``on_data(flow, side, data)`` may return a loan of its parser's state, ``(synced,
  base, max_line, max_payload, resume[, hold[, charge]])``: the stage then frames that
  direction itself with ``framer``, ``(scan, complete)`` (the consumer's line scan and
  payload rule, e.g. ``providers.msnp``'s, which carry every MSNP rule), keeping the
  parser's state (a line cut by a chunk's end, a payload still to come; with ``hold``
  false it keeps none between chunks: such a chunk's state is given back at once),
  and hands the items over in batches, ``on_framed([(flow, side, ts_ns, nbytes,
  items), ...])``. With ``charge`` (a shared memory budget's ``adjust(delta) ->
  bool``), what the stage holds is charged at each chunk's end as the parser would
  charge it; a refused growth gives the state back at once, marked overdrawn. A line
  the scan does not take, a gap, the stream's or the flow's end give the state back
  first: ``resume(synced, base, rest, pending, payload, nbytes, commands,
  payload_bytes, leftover, ts_ns[, charged, overdrawn])`` (the last two when the loan
  had ``charge``: the bytes charged for the state, and whether that charge overdrew
  the budget), which may lend it again (after a leftover only).
- ``lend(flow, side)``, if the consumer has it, is asked before ``on_data`` for a
  direction not lent: a loan (as above) or None, without side effects (it may be asked
  before the framed batch goes out). With a loan the stage frames the chunk itself: a
  stream's first chunk need not be parsed in Python.

Everything reaches the consumer in the order the Python pipeline would deliver it:
framed batches go out before any other call.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from ._accel import CSTAGE
from ._cflows import CompiledFlowTable
from ._decode import Decoder
from ._flows import Direction
from ._packet import Packet
from ._pcap import MAX_FRAME, classic_pcap_header
from ._reassembly import CompiledReassembler
from ._source import CaptureFormatError
from ._stats import DecodeStats

__all__ = ["CompiledPipeline", "FramingConsumer"]

#: A frame: (linktype, ts_ns, data, wire_len, interface).
_Frame = tuple[int, int, bytes, int, int]


class FramingConsumer(Protocol):
    """What the compiled stage needs of its consumer (see the module docstring)."""

    framer: tuple[Callable[..., Any], Callable[..., Any]] | None
    selective_streams: bool

    def on_packet(self, pkt: Packet, flow: Any, direction: Direction) -> bool | None: ...

    def count_packets(self, n: int) -> None: ...

    def on_data(self, flow: Any, side: int, data: bytes) -> tuple | None: ...

    def on_gap(self, flow: Any, side: int, nbytes: int) -> None: ...

    def on_end(self, flow: Any, side: int, reason: str) -> None: ...

    def on_flow_end(self, flow: Any, reason: str) -> None: ...

    def on_framed(self, batch: list[tuple[Any, int, int, int, list]]) -> None: ...

    def close(self) -> None: ...


class CompiledPipeline:
    """:class:`Pipeline` for one framing consumer, with the packet path in C."""

    def __init__(self, consumer: FramingConsumer, *, max_flows: int = 100_000,
                 max_stream_buffer: int = 1 << 20, max_total_buffer: int = 64 << 20) -> None:
        if CSTAGE is None:
            raise RuntimeError("the compiled packet stage is not built")
        self.consumers = [consumer]
        self.decoder = Decoder()
        self.flows = CompiledFlowTable(max_flows)
        self.flows.follow = not getattr(consumer, "selective_streams", False)
        if consumer.framer is None:
            raise RuntimeError("the consumer has no framer to lend its parsers to")
        self.reassembler = CompiledReassembler(consumer, max_stream_buffer=max_stream_buffer,
                                               max_total_buffer=max_total_buffer)
        self._c = CSTAGE.Stage(
            self.flows._c, self.reassembler._c, Packet, (Direction.OUT, Direction.IN),
            consumer.on_packet, consumer.count_packets, consumer.on_data, consumer.on_gap,
            consumer.on_end, consumer.on_flow_end, consumer.on_framed, *consumer.framer,
            getattr(consumer, "lend", None))
        self._packet = self._c.packet
        self._decode = self.decoder.decode

    @property
    def stats(self) -> DecodeStats:
        """The decoder's counters, the frames decoded in C included."""
        return self.decoder.stats_with(*self._c.counts())

    def frame(self, linktype: int, ts_ns: int, data: bytes, wire_len: int) -> None:
        """A frame the C decoder did not take: the Python decoder's packet, to the stage."""
        pkt = self._decode(linktype, data, wire_len, ts_ns)
        if pkt is None:
            return
        raw = pkt.data
        self._packet(pkt, pkt.proto, pkt.src, pkt.sport, pkt.dst, pkt.dport, pkt.icmp_id,
                     pkt.flags, pkt.wire_len, pkt.ts_ns, pkt.version, pkt.frag, pkt.seq,
                     raw if type(raw) is bytes else bytes(raw), pkt.payload_off,
                     pkt.payload_len)

    def run(self, source: Iterable[_Frame], name: str = "") -> None:
        """Process every frame of ``source`` (flows stay open for the next source)."""
        self._c.run(source, self.frame)

    def run_file(self, path: str | Path,
                 progress: Callable[[float], None] | None = None) -> bool:
        """Like :meth:`run` over a classic pcap file, read in C from a memory map (the
        pages read are let go every 16 MB, so memory stays flat whatever the file's
        size); False, having done nothing, for any other format. Corrupt records raise
        what the Python reader raises. ``progress`` hears the fraction read every 16 MB."""
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            header = classic_pcap_header(f.read(24))
            if header is None:
                return False
            with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as image:
                image.madvise(mmap.MADV_SEQUENTIAL)

                def done(offset: int) -> None:  # what was read leaves the resident set
                    image.madvise(mmap.MADV_DONTNEED, 0, offset - offset % mmap.PAGESIZE)
                    if progress is not None:
                        progress(offset / size)

                self._c.run_pcap(image, *header, MAX_FRAME, self.frame, CaptureFormatError,
                                 done)
                return True

    def end_flows(self) -> None:
        """End every open flow (end of capture)."""
        self._c.end_flows()

    def finish(self) -> DecodeStats:
        """End all flows, report totals and close the consumers; returns the counters."""
        self.end_flows()
        stats = self.stats
        for c in self.consumers:
            if hasattr(c, "totals"):
                c.totals(stats)
            c.close()
        return stats
