"""The differential harness of the packet stage: everything a capture does to it, as data.

The packet stage is what runs between the capture and the providers: decoding, the flow
table and TCP reassembly. :func:`stage_trace` replays a capture through one
implementation of it (:data:`STAGES`: the Python reference, and each compiled twin) and
returns every event a consumer sees (new flows, stream data, gaps, stream ends, flow
ends with the flow's final state), in order, and every counter. Two implementations
agree when their traces are equal. Flows are numbered in the order they appear, so a
trace holds no object identities.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from providers.packets import FlowTable, Pipeline, open_capture
from providers.packets._accel import CDECODE, CSTAGE
from providers.packets._cflows import CompiledFlowTable
from providers.packets._decode import Decoder, PyDecoder
from providers.packets._reassembly import CompiledReassembler

__all__ = ["STAGES", "Follow", "StageRecorder", "stage_trace"]

#: Which flows a selective consumer follows: (flow number, flow) -> follow it.
Follow = Callable[[int, Any], bool]


def _state(flow) -> tuple:
    """What a flow ends with: identity, orientation, state machine and counters."""
    return (flow.key, flow.proto, flow.version, flow.addrs, flow.ports, flow.local_side,
            int(flow.state), tuple(flow.packets), tuple(flow.bytes), flow.first_ns,
            flow.last_ns, tuple(flow.fin_seen), flow.id)


class StageRecorder:
    """A packet and stream consumer that notes what it is given.

    With ``follow``, it is a selective stream consumer deciding on a flow's first packet;
    with ``unfollow_after``, it also stops following a flow once a direction delivered
    that many bytes (the flag going off while a segment is fed).
    """

    provider = None

    def __init__(self, follow: Follow | None = None, unfollow_after: int | None = None) -> None:
        self.selective_streams = follow is not None
        self._follow = follow
        self._unfollow_after = unfollow_after
        self._numbers: dict[int, int] = {}
        self.flows: dict[int, Any] = {}  #: number -> flow (kept alive: id() stays unique)
        self._delivered: dict[tuple[int, int], int] = {}
        self.events: list[tuple] = []

    def _number(self, flow) -> int:
        n = self._numbers.get(id(flow))
        if n is None:
            n = self._numbers[id(flow)] = len(self._numbers)
            self.flows[n] = flow
        return n

    def on_packet(self, pkt, flow, direction) -> None:
        new = id(flow) not in self._numbers
        n = self._number(flow)
        if new:
            self.events.append(("flow", n, flow.key, flow.local_side))
            if self._follow is not None:
                flow.follow = self._follow(n, flow)

    def on_data(self, flow, side: int, data: bytes) -> None:
        n = self._number(flow)
        self.events.append(("data", n, side, bytes(data)))
        if self._unfollow_after is not None:
            total = self._delivered.get((n, side), 0) + len(data)
            self._delivered[(n, side)] = total
            if total > self._unfollow_after:
                flow.follow = False

    def on_gap(self, flow, side: int, nbytes: int) -> None:
        self.events.append(("gap", self._number(flow), side, nbytes))

    def on_end(self, flow, side: int, reason: str) -> None:
        self.events.append(("end", self._number(flow), side, reason))

    def on_flow_end(self, flow, reason: str) -> None:
        self.events.append(("flow_end", self._number(flow), reason, _state(flow)))

    def close(self) -> None:
        pass


def _python(consumers: list, **limits) -> Pipeline:
    pipeline = _compiled(consumers, **limits)
    pipeline.decoder = PyDecoder()
    return pipeline


def _compiled(consumers: list, *, max_flows: int = 100_000, **limits) -> Pipeline:
    return Pipeline(consumers, flows=FlowTable(max_flows), **limits)


def _compiled_streams(consumers: list, **limits) -> Pipeline:
    pipeline = _compiled(consumers, **limits)
    python = pipeline.reassembler
    if python is not None:
        pipeline.reassembler = CompiledReassembler(
            python.consumer, max_stream_buffer=python.max_stream_buffer,
            max_total_buffer=python.max_total_buffer)
    return pipeline


def _compiled_stage(consumers: list, *, max_flows: int = 100_000, **limits) -> Pipeline:
    pipeline = _compiled_streams(consumers, max_flows=max_flows, **limits)
    follow = pipeline.flows.follow
    pipeline.flows = CompiledFlowTable(max_flows, on_end=pipeline.flows.on_end)
    pipeline.flows.follow = follow
    return pipeline


#: name -> a packet stage (a pipeline running ``consumers``; ``max_flows``,
#: ``max_stream_buffer``, ``max_total_buffer``): the Python reference first.
STAGES: dict[str, Callable[..., Pipeline]] = {"python": _python}
if CDECODE is not None and Decoder is not PyDecoder:
    STAGES["compiled"] = _compiled
if CSTAGE is not None:
    STAGES["compiled streams"] = _compiled_streams
    STAGES["compiled flows and streams"] = _compiled_stage


def stage_trace(path: Path, stage: str, *, follow: Follow | None = None,
                unfollow_after: int | None = None, **limits) -> dict[str, Any]:
    """Every event and counter of replaying ``path`` through the stage named ``stage``."""
    recorder = StageRecorder(follow, unfollow_after)
    pipeline = STAGES[stage]([recorder], **limits)
    with open_capture(path) as source:
        pipeline.run(source, path.name)
    stats = pipeline.finish()
    reassembler = pipeline.reassembler
    return {
        "events": recorder.events,
        "decode": stats.as_dict(),
        "flows": pipeline.flows.stats.as_dict(),
        "reassembly": reassembler.stats.as_dict() if reassembler is not None else None,
        "open": len(pipeline.flows),
        "streams_left": _streams_left(reassembler, recorder),
    }


def _streams_left(reassembler, recorder: StageRecorder) -> int:
    """How many flows the reassembler still holds state for (none once all ended)."""
    if reassembler is None:
        return 0
    if isinstance(reassembler, CompiledReassembler):
        return sum(reassembler._c.tracked(flow) for flow in recorder.flows.values())
    return len(reassembler._streams)
