"""The monitor as a packet consumer of ``wfptrace replay --provider msnmon``.

The replay pipeline tracks flows and reassembles TCP streams itself; this adapter
gives each TCP packet to :meth:`MsnMonitor.observe` (which makes the flow
contexts) and forwards the reassembled streams, which the monitor ignores for
flows without a context. The application is unknown unless ``app_hint`` names it.
"""

from __future__ import annotations

from providers.packets import Direction, Flow, Packet

from ._events import PROVIDER
from ._monitor import MsnMonitor

__all__ = ["MsnmonConsumer", "replay_consumer"]


class MsnmonConsumer:
    """``PacketConsumer`` + ``StreamConsumer`` over one :class:`MsnMonitor`."""

    provider = PROVIDER

    def __init__(self, app_hint: str | None = None, capture_bodies: bool = False) -> None:
        self.monitor = MsnMonitor(app_hint=app_hint, capture_bodies=capture_bodies)
        observe = self.monitor.observe
        self.on_data = self.monitor.on_data
        self.on_gap = self.monitor.on_gap
        self.on_end = self.monitor.on_end
        self._observe = observe

    def on_packet(self, pkt: Packet, flow: Flow, direction: Direction) -> None:
        """Every decoded packet with its flow; only TCP matters here."""
        self.monitor.stats.packets += 1
        if pkt.proto == 6:
            self._observe(pkt, flow)

    def on_flow_end(self, flow: Flow, reason: str) -> None:
        """The pipeline ended a flow (its streams were flushed just before)."""
        self.monitor.flow_ended(flow, reason)

    def close(self) -> None:
        """End of the replay."""
        self.monitor.close()


def replay_consumer(app_hint: str | None = None, capture_bodies: bool = False
                    ) -> MsnmonConsumer:
    """Factory for the ``wfptrace.packet_consumers`` entry point ``msnmon``."""
    return MsnmonConsumer(app_hint=app_hint, capture_bodies=capture_bodies)
