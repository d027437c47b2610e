"""``wfptrace-packets``: the pipeline's own provider (flows begin/end, decode errors, totals)."""

from __future__ import annotations

from tracer import Level, Provider

from ._consumers import register_consumer
from ._flows import Direction, Flow
from ._packet import Packet
from ._stats import DecodeStats

__all__ = ["PACKETS_PROVIDER", "PacketsConsumer"]

PACKETS_PROVIDER = Provider("wfptrace-packets", keywords=["flow", "error", "stats"])
#: Units of the DecodeStats counters that are not packet counts.
_UNITS = {"decode_errors": "{error}", "tcp_payload_bytes": "By"}
#: A flow's endpoints in the vocabulary (tracer.VOCABULARY): the source opened it.
_ENDPOINTS = {"@timestamp": (int, "ns"), "network.community_id": str,
              "network.transport": str, "source.ip": str, "source.port": int,
              "destination.ip": str, "destination.port": int, "network.direction": str}
_FLOW_TEXT = ("{network.transport} {source.ip}:{source.port} -> "
              "{destination.ip}:{destination.port} ({network.direction})")
FLOW_NEW = PACKETS_PROVIDER.event(
    1, "FlowNew", Level.INFO, ("flow",), fields=_ENDPOINTS, template="Flow " + _FLOW_TEXT)
FLOW_END = PACKETS_PROVIDER.event(
    2, "FlowEnd", Level.INFO, ("flow",),
    fields={**_ENDPOINTS, "state": str, "reason": str, "source.packets": (int, "{packet}"),
            "destination.packets": (int, "{packet}"), "source.bytes": (int, "By"),
            "destination.bytes": (int, "By"), "event.duration": (int, "ns")},
    template="Flow " + _FLOW_TEXT + " ended ({reason}): "
             "{source.packets}/{destination.packets} packets")
DECODE_ERROR = PACKETS_PROVIDER.event(
    3, "DecodeError", Level.WARNING, ("error",),
    fields={"@timestamp": (int, "ns"), "source": str, "frame": int, "length": (int, "By")},
    template="Malformed frame {frame} ({length} bytes) in {source}")
DECODE_STATS = PACKETS_PROVIDER.event(
    4, "DecodeStats", Level.INFO, ("stats",),
    fields={name: (int, _UNITS.get(name, "{packet}")) for name in DecodeStats.FIELDS},
    template="{packets} packets, {decode_errors} decode errors")


def _endpoints(flow: Flow, ts_ns: int) -> tuple:
    """The endpoint fields: side 0 sent the flow's first packet, so it is the source."""
    (sip, sport), (dip, dport) = flow.endpoint(0), flow.endpoint(1)
    direction = "egress" if flow.local_side == 0 else "ingress"
    return (ts_ns, flow.id, flow.proto_name, sip, sport, dip, dport, direction)


class PacketsConsumer:
    """Writes flow begin/end events; the pipeline calls :meth:`decode_error` and
    :meth:`totals` itself."""

    provider = PACKETS_PROVIDER

    def on_packet(self, pkt: Packet, flow: Flow, direction: Direction) -> None:
        if FLOW_NEW.enabled and flow.packets[0] + flow.packets[1] == 1:
            FLOW_NEW.write(*_endpoints(flow, pkt.ts_ns))

    def on_flow_end(self, flow: Flow, reason: str) -> None:
        if FLOW_END.enabled:
            FLOW_END.write(*_endpoints(flow, flow.last_ns), flow.state.name.lower(), reason,
                           flow.packets[0], flow.packets[1], flow.bytes[0], flow.bytes[1],
                           flow.last_ns - flow.first_ns)

    def decode_error(self, source: str, frame: int, length: int, ts_ns: int) -> None:
        if DECODE_ERROR.enabled:
            DECODE_ERROR.write(ts_ns, source, frame, length)

    def totals(self, stats: DecodeStats) -> None:
        if DECODE_STATS.enabled:
            DECODE_STATS.write(*stats.as_dict().values())

    def close(self) -> None:
        pass


register_consumer("packets", PacketsConsumer)
