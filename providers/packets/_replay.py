"""The packet pipeline: source -> decoder -> flow table -> consumers (+ TCP streams).

Used by ``wfptrace replay`` for files and by live capture. Paces frames at recorded
speed if asked and draws a progress bar on stderr when it is a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import TextIO

from ._consumers import PacketConsumer
from ._decode import Decoder
from ._flows import Flow, FlowTable
from ._progress import ProgressBar
from ._reassembly import TcpReassembler
from ._stats import DecodeStats

__all__ = ["Pipeline"]

_S = 1_000_000_000


class _StreamFanout:
    """Forwards reassembled stream events to every consumer that wants them."""

    def __init__(self, targets: list) -> None:
        self.targets = targets

    def on_data(self, flow, side, data):
        for t in self.targets:
            t.on_data(flow, side, data)

    def on_gap(self, flow, side, nbytes):
        for t in self.targets:
            t.on_gap(flow, side, nbytes)

    def on_end(self, flow, side, reason):
        for t in self.targets:
            t.on_end(flow, side, reason)


class Pipeline:
    """Runs frames through decoding, flow tracking and the consumers."""

    def __init__(
        self,
        consumers: Sequence[PacketConsumer] = (),
        *,
        flows: FlowTable | None = None,
        speed: str = "max",
        progress: TextIO | None = None,
    ) -> None:
        self.consumers = list(consumers)
        self.decoder = Decoder()
        self.flows = flows or FlowTable()
        self.flows.on_end = self._flow_end
        stream_targets = [c for c in self.consumers if hasattr(c, "on_data")]
        self.reassembler = TcpReassembler(_StreamFanout(stream_targets)) if stream_targets \
            else None
        if speed not in ("max", "recorded"):
            raise ValueError(f"speed must be 'max' or 'recorded', not {speed!r}")
        self.speed = speed
        self._progress = ProgressBar(progress)
        self._pace: tuple[int, float] | None = None

    @property
    def stats(self) -> DecodeStats:
        return self.decoder.stats

    def _flow_end(self, flow: Flow, reason: str) -> None:
        if self.reassembler is not None:
            self.reassembler.close(flow)
        for c in self.consumers:
            c.on_flow_end(flow, reason)

    def run(self, source: Iterable, name: str = "") -> None:
        """Process every frame of ``source`` (flows stay open for the next source)."""
        decode, update = self.decoder.decode, self.flows.update
        consumers, reasm = self.consumers, self.reassembler
        errors = [c for c in consumers if hasattr(c, "decode_error")]
        progress = getattr(source, "progress", None)
        next_expire = 0
        for i, (linktype, ts, data, wire, _iface) in enumerate(source):
            if self.speed == "recorded":
                self._wait(ts)
            pkt = decode(linktype, data, wire, ts)
            if errors and self.decoder.last_was_error:
                for c in errors:
                    c.decode_error(name, i + 1, len(data), ts)
            if pkt is None:
                continue
            flow, direction = update(pkt)
            for c in consumers:
                c.on_packet(pkt, flow, direction)
            if reasm is not None and pkt.proto == 6 and not pkt.frag:
                reasm.feed(flow, flow.side_of(pkt), pkt)
            if ts >= next_expire:
                self.flows.expire(ts)
                next_expire = ts + _S
                if progress is not None:
                    self._progress.show(name, progress(), i + 1)
        if progress is not None:
            self._progress.show(name, 1.0, self.decoder.stats.packets, force=True)

    def _wait(self, ts: int) -> None:
        if self._pace is None:
            self._pace = (ts, time.monotonic())
            return
        due = self._pace[1] + (ts - self._pace[0]) / _S
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)

    def finish(self) -> DecodeStats:
        """End all flows, report totals and close the consumers; returns the counters."""
        self.flows.flush()
        stats = self.decoder.stats
        for c in self.consumers:
            if hasattr(c, "totals"):
                c.totals(stats)
            c.close()
        return stats
