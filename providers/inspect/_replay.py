"""Offline mode: classify a capture and trace the verdicts the inspector would give.

``wfptrace replay --provider inspect FILE`` builds this consumer; the address
and mode come from the usual configuration (file, ``WFPTRACE_INSPECT_REMOTE``,
``WFPTRACE_INSPECT_BLOCK``), or from :func:`make_replay_consumer` arguments.
A flow is inspected when either end is an inspected address; that end is the
remote one. The decision is the static one (``block_traffic``), taken once per
flow and traced with ConnectionPended / ConnectionVerdict, each packet with
PacketVerdict (keyword packet) and the flow's end with ConnectionClosed.
ICMP errors and other protocols are not inspected, as live.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from ._config import InspectConfig, load_config
from ._events import (
    CONNECTION_CLOSED,
    CONNECTION_PENDED,
    CONNECTION_VERDICT,
    PACKET_VERDICT,
    PROVIDER,
)
from ._stats import InspectStats

__all__ = ["InspectReplay", "make_replay_consumer"]

_PROTOS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}
_CLOSED = 3  # providers.packets FlowState.CLOSED


class InspectReplay:
    """A packet consumer (``providers.packets.PacketConsumer``) for the inspect provider."""

    provider = PROVIDER

    def __init__(self, config: InspectConfig) -> None:
        self.config = config
        self.stats = InspectStats()
        self._ids: dict[str, tuple[int, str]] = {}  # flow id -> (conn id, verdict)
        self._closed: dict[str, tuple[int, str]] = {}
        self._next = 1

    def _inspected_side(self, flow: Any) -> int | None:
        """0 or 1: the flow's side holding an inspected address; None if neither."""
        for side in (1 - flow.local_side, flow.local_side):
            if self.config.matches(ipaddress.ip_address(flow.addrs[side])):
                return side
        return None

    def _wanted(self, pkt: Any, flow: Any, remote_side: int) -> bool:
        proto = _PROTOS.get(pkt.proto)
        if proto is None or proto not in self.config.protocols or pkt.is_icmp_error:
            return False
        if self.config.ports:
            return proto != "icmp" and flow.ports[remote_side] in self.config.ports
        return True

    def on_packet(self, pkt: Any, flow: Any, direction: Any) -> None:
        """Decide the flow on its first inspected packet; trace every packet's verdict."""
        remote = self._inspected_side(flow)
        if remote is None or not self._wanted(pkt, flow, remote):
            return
        entry = self._ids.get(flow.id)
        if entry is None and flow.state == _CLOSED:
            # The pipeline ends a flow before it hands over the packet that closed it.
            entry = self._closed.pop(flow.id, None)
            if entry is None:
                return
        elif entry is None:
            entry = self._pend(flow, remote)
        self.stats.packets += 1
        if PACKET_VERDICT.enabled:
            sender = 0 if (pkt.src, pkt.sport) == (flow.addrs[0], flow.ports[0]) else 1
            PACKET_VERDICT.write(flow.id, "inbound" if sender == remote else "outbound",
                                 pkt.wire_len, entry[1])

    def _pend(self, flow: Any, remote: int) -> tuple[int, str]:
        conn_id, self._next = self._next, self._next + 1
        local = 1 - remote
        outbound = local == 0  # the local side sent the first packet: connect
        verdict = "block" if self.config.block_traffic else "permit"
        self._ids[flow.id] = (conn_id, verdict)
        self.stats.connections += 1
        if verdict == "permit":
            self.stats.permitted += 1
        else:
            self.stats.blocked += 1
        direction = "outbound" if outbound else "inbound"
        if CONNECTION_PENDED.enabled:
            CONNECTION_PENDED.write(conn_id, flow.id, flow.proto_name,
                                    *flow.endpoint(local), *flow.endpoint(remote), direction,
                                    "connect" if outbound else "recv-accept", "", 0)
        if CONNECTION_VERDICT.enabled:
            CONNECTION_VERDICT.write(conn_id, flow.id, direction, verdict, "static", 0)
        return conn_id, verdict

    def on_flow_end(self, flow: Any, reason: str) -> None:
        """Trace the end of an inspected flow."""
        entry = self._ids.pop(flow.id, None)
        if entry is None:
            return
        self._closed[flow.id] = entry
        if len(self._closed) > 1024:
            del self._closed[next(iter(self._closed))]
        if CONNECTION_CLOSED.enabled:
            CONNECTION_CLOSED.write(entry[0], flow.id, entry[1], reason,
                                    flow.packets[0] + flow.packets[1],
                                    flow.bytes[0] + flow.bytes[1])

    def close(self) -> None:
        """Nothing to release."""


def make_replay_consumer(remote: str | None = None, block: bool | None = None,
                         config: str | None = None) -> InspectReplay:
    """The replay consumer; arguments override the file and environment.

    Raises InspectConfigError (with the usual message) when no address is set.
    """
    return InspectReplay(load_config(config, remote_address=remote, block_traffic=block))
