"""``wfptrace-packets``: the pipeline's own provider (flows begin/end, decode errors, totals)."""

from __future__ import annotations

from tracer import Level, Provider

from ._consumers import register_consumer
from ._flows import Direction, Flow
from ._packet import Packet
from ._stats import DecodeStats

__all__ = ["PACKETS_PROVIDER", "PacketsConsumer"]

PACKETS_PROVIDER = Provider("wfptrace-packets", keywords=["flow", "error", "stats"])
_ENDPOINTS = {"flow_id": str, "proto": str, "local": str, "lport": int, "remote": str,
              "rport": int}
FLOW_NEW = PACKETS_PROVIDER.event(
    1, "FlowNew", Level.INFO, ("flow",),
    fields={**_ENDPOINTS, "direction": str, "capture_ns": int},
    template="Flow {proto} {local}:{lport} {direction} {remote}:{rport}")
FLOW_END = PACKETS_PROVIDER.event(
    2, "FlowEnd", Level.INFO, ("flow",),
    fields={**_ENDPOINTS, "state": str, "reason": str, "pkts_out": int, "pkts_in": int,
            "bytes_out": int, "bytes_in": int, "duration_ns": int},
    template="Flow {proto} {local}:{lport} <-> {remote}:{rport} ended ({reason}): "
             "{pkts_out}/{pkts_in} packets")
DECODE_ERROR = PACKETS_PROVIDER.event(
    3, "DecodeError", Level.WARNING, ("error",),
    fields={"source": str, "frame": int, "length": int, "capture_ns": int},
    template="Malformed frame {frame} ({length} bytes) in {source}")
DECODE_STATS = PACKETS_PROVIDER.event(
    4, "DecodeStats", Level.INFO, ("stats",),
    fields={name: int for name in DecodeStats.FIELDS},
    template="{packets} packets, {decode_errors} decode errors")


def _endpoints(flow: Flow) -> tuple:
    local, remote = flow.local, flow.remote
    return (flow.id, flow.proto_name, local[0], local[1], remote[0], remote[1])


class PacketsConsumer:
    """Writes flow begin/end events; the pipeline calls :meth:`decode_error` and
    :meth:`totals` itself."""

    provider = PACKETS_PROVIDER

    def on_packet(self, pkt: Packet, flow: Flow, direction: Direction) -> None:
        if FLOW_NEW.enabled and flow.packets[0] + flow.packets[1] == 1:
            FLOW_NEW.write(*_endpoints(flow), "out" if direction is Direction.OUT else "in",
                           pkt.ts_ns)

    def on_flow_end(self, flow: Flow, reason: str) -> None:
        if FLOW_END.enabled:
            s = flow.local_side
            FLOW_END.write(*_endpoints(flow), flow.state.name.lower(), reason,
                           flow.packets[s], flow.packets[1 - s], flow.bytes[s],
                           flow.bytes[1 - s], flow.last_ns - flow.first_ns)

    def decode_error(self, source: str, frame: int, length: int, ts_ns: int) -> None:
        if DECODE_ERROR.enabled:
            DECODE_ERROR.write(source, frame, length, ts_ns)

    def totals(self, stats: DecodeStats) -> None:
        if DECODE_STATS.enabled:
            DECODE_STATS.write(*stats.as_dict().values())

    def close(self) -> None:
        pass


register_consumer("packets", PacketsConsumer)
