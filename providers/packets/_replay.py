"""The packet pipeline: source -> decoder -> flow table -> consumers (+ TCP streams).

The one driver of every packet provider, offline and live: ``wfptrace replay``,
``wfptrace monitor replay``, the demo and live capture feed frames (:meth:`Pipeline.run`,
:meth:`Pipeline.frame`) or decoded packets (:meth:`Pipeline.packet`). The pipeline owns
the flow table and the TCP reassembler; providers only consume. A flow that ends while
a packet is handled (FIN, RST, eviction) is ended after that packet reached every
consumer and the reassembler, so its last bytes come before its end. Paces frames at
recorded speed if asked and draws a progress bar on stderr when it is a terminal.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from ._consumers import PacketConsumer
from ._decode import Decoder
from ._flows import _CLOSED, _IN, _OUT, Flow, FlowTable
from ._packet import Packet
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
    """Runs frames through decoding, flow tracking, reassembly and the consumers.

    A stream consumer (one with ``on_data``) gets every TCP flow reassembled, unless
    all of them are *selective* (``selective_streams = True``): then only flows whose
    ``follow`` flag a consumer turned on are, and a flow whose flag goes off while its
    segment is fed has its streams closed at once. ``max_stream_buffer`` and
    ``max_total_buffer`` bound the reassembler's parked bytes.
    """

    def __init__(
        self,
        consumers: Sequence[PacketConsumer] = (),
        *,
        flows: FlowTable | None = None,
        speed: str = "max",
        progress: TextIO | None = None,
        max_stream_buffer: int = 1 << 20,
        max_total_buffer: int = 64 << 20,
    ) -> None:
        self.consumers = list(consumers)
        self.decoder = Decoder()
        self.flows = flows if flows is not None else FlowTable()  # (an empty one is falsy)
        self.flows.on_end = self._flow_end
        stream_targets: list[Any] = [c for c in self.consumers if hasattr(c, "on_data")]
        if stream_targets and all(getattr(c, "selective_streams", False)
                                  for c in stream_targets):
            self.flows.follow = False
        target = stream_targets[0] if len(stream_targets) == 1 else _StreamFanout(stream_targets)
        self.reassembler = TcpReassembler(
            target, max_stream_buffer=max_stream_buffer,
            max_total_buffer=max_total_buffer) if stream_targets else None
        if speed not in ("max", "recorded"):
            raise ValueError(f"speed must be 'max' or 'recorded', not {speed!r}")
        self.speed = speed
        self._progress = ProgressBar(progress)
        self._pace: tuple[int, float] | None = None
        self._ended: list[tuple[Flow, str]] = []
        #: Capture time of the next idle-timeout sweep (once per second of packet time).
        self.next_expire = 0

    @property
    def stats(self) -> DecodeStats:
        return self.decoder.stats

    def _flow_end(self, flow: Flow, reason: str) -> None:
        """FlowTable callback: the flow is ended after the current packet."""
        self._ended.append((flow, reason))

    def finish_ended(self) -> None:
        """End the flows that ended during the last packet: streams flushed, then consumers."""
        ended, self._ended = self._ended, []
        reasm = self.reassembler
        for flow, reason in ended:
            if reasm is not None:
                reasm.close(flow)
            for c in self.consumers:
                c.on_flow_end(flow, reason)

    def expire(self, now_ns: int) -> None:
        """End flows idle past their timeouts (done once per second of packet time)."""
        self.next_expire = now_ns + _S
        self.flows.expire(now_ns)
        if self._ended:
            self.finish_ended()

    def packet(self, pkt: Packet, outbound: bool | None = None) -> None:
        """One decoded packet. ``outbound``: sent by this host, when the source knows (a
        live hook); it is then the packet's direction, and it orients a new flow."""
        flow, side = self.flows.account(pkt)
        if outbound is None:
            direction = _OUT if side == flow.local_side else _IN
        else:
            direction = _OUT if outbound else _IN
            if flow.packets[0] + flow.packets[1] == 1:
                flow.local_side = side if outbound else 1 - side
        for c in self.consumers:
            c.on_packet(pkt, flow, direction)
        self._stream(pkt, flow, side)
        if self._ended:
            self.finish_ended()
        if pkt.ts_ns >= self.next_expire:
            self.expire(pkt.ts_ns)

    def _stream(self, pkt: Packet, flow: Flow, side: int) -> None:
        reasm = self.reassembler
        if reasm is not None and flow.follow and pkt.proto == 6 and not pkt.frag:
            if flow.state is _CLOSED and not self._ending(flow):
                return  # a late segment (the last ACK): the streams were closed with the flow
            reasm.feed(flow, side, pkt)
            if not flow.follow:
                reasm.close(flow)

    def _ending(self, flow: Flow) -> bool:
        """Is ``flow`` ended by the current packet (its streams not closed yet)?"""
        return any(f is flow for f, _reason in self._ended)

    def frame(self, linktype: int, ts_ns: int, data: bytes, wire_len: int) -> None:
        """One captured frame: decoded, then as :meth:`packet`."""
        pkt = self.decoder.decode(linktype, data, wire_len, ts_ns)
        if pkt is not None:
            self.packet(pkt)

    def run(self, source: Iterable, name: str = "") -> None:
        """Process every frame of ``source`` (flows stay open for the next source)."""
        decode, account = self.decoder.decode, self.flows.account
        consumers, stream = self.consumers, self._stream
        errors = [c for c in consumers if hasattr(c, "decode_error")]
        progress = getattr(source, "progress", None)
        for i, (linktype, ts, data, wire, _iface) in enumerate(source):
            if self.speed == "recorded":
                self._wait(ts)
            pkt = decode(linktype, data, wire, ts)
            if errors and self.decoder.last_was_error:
                for c in errors:
                    c.decode_error(name, i + 1, len(data), ts)
            if pkt is None:
                continue
            flow, side = account(pkt)
            direction = _OUT if side == flow.local_side else _IN
            for c in consumers:
                c.on_packet(pkt, flow, direction)
            stream(pkt, flow, side)
            if self._ended:
                self.finish_ended()
            if ts >= self.next_expire:
                self.expire(ts)
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

    def end_flows(self) -> None:
        """End every open flow (end of capture or of a live session)."""
        self.flows.flush()
        self.finish_ended()

    def finish(self) -> DecodeStats:
        """End all flows, report totals and close the consumers; returns the counters."""
        self.end_flows()
        stats = self.decoder.stats
        for c in self.consumers:
            if hasattr(c, "totals"):
                c.totals(stats)
            c.close()
        return stats

