"""The flow table with its state in C (``providers.packets._cstage.FlowTable``).

:class:`CompiledFlowTable` has :class:`FlowTable`'s interface and behaviour (the Python
class stays the reference: the differential tests compare both on every capture); its
flows are :class:`CompiledFlow` objects, whose counters and state only the C table
changes. Not the pipeline's default yet: it is the flow table of the compiled packet
stage to come (alone, the call per packet costs what the Python table's work does).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from ._accel import CSTAGE
from ._flows import _OUT, DEFAULT_TIMEOUTS_S, Direction, FlowState, FlowTableStats, FlowView
from ._packet import Packet

__all__ = ["CompiledFlow", "CompiledFlowTable"]

_S = 1_000_000_000
_TIMEOUT_ORDER = ("tcp", "tcp_handshake", "tcp_closed", "udp", "icmp", "other")
_STATES = (FlowState.NEW, FlowState.ESTABLISHED, FlowState.CLOSING, FlowState.CLOSED)

if CSTAGE is not None or TYPE_CHECKING:
    _Base: Any = CSTAGE.FlowBase if CSTAGE is not None else object

    class CompiledFlow(_Base, FlowView):
        """A flow of the compiled table (fields as :class:`Flow`'s)."""

        __slots__ = ()


class CompiledFlowTable:
    """:class:`FlowTable` with its state in C (see the module docstring)."""

    def __init__(
        self,
        max_flows: int = 100_000,
        *,
        local_nets: Iterable[str] = (),
        timeouts_s: dict[str, float] | None = None,
        on_end: Callable[[Any, str], None] | None = None,
    ) -> None:
        if CSTAGE is None:
            raise RuntimeError("the compiled packet stage is not built")
        nets = [ipaddress.ip_network(n) for n in local_nets]
        t = {**DEFAULT_TIMEOUTS_S, **(timeouts_s or {})}
        self.max_flows = max_flows
        self._c = CSTAGE.FlowTable(
            CompiledFlow, _STATES, max_flows, tuple(int(t[k] * _S) for k in _TIMEOUT_ORDER),
            [(n.version, n.network_address.packed, n.prefixlen) for n in nets])
        self._c.on_end = on_end
        self._account = self._c.account
        self.expire_ns = self._c.expire
        self.flush = self._c.flush

    @property
    def on_end(self) -> Callable[[Any, str], None] | None:
        return self._c.on_end

    @on_end.setter
    def on_end(self, value: Callable[[Any, str], None] | None) -> None:
        self._c.on_end = value

    @property
    def follow(self) -> bool:
        """The ``follow`` flag of new flows."""
        return self._c.follow

    @follow.setter
    def follow(self, value: bool) -> None:
        self._c.follow = value

    @property
    def stats(self) -> FlowTableStats:
        """A snapshot of the counters."""
        stats = FlowTableStats()
        for name, value in self._c.stats().items():
            setattr(stats, name, value)
        return stats

    def __len__(self) -> int:
        return len(self._c)

    def __iter__(self) -> Iterator[CompiledFlow]:
        return iter(self._c.flows())

    def account(self, pkt: Packet) -> tuple[CompiledFlow, int]:
        """The packet's flow (made if new) and the side that sent it (0: initiator)."""
        return self._account(pkt.proto, pkt.src, pkt.sport, pkt.dst, pkt.dport, pkt.icmp_id,
                             pkt.flags, pkt.wire_len, pkt.ts_ns, pkt.version)

    def update(self, pkt: Packet) -> tuple[CompiledFlow, Direction]:
        """Account ``pkt`` to its flow; returns the flow and direction."""
        flow, side = self.account(pkt)
        return flow, _OUT if side == flow.local_side else Direction.IN

    def expire(self, now_ns: int) -> int:
        """Drop flows idle longer than their protocol's timeout; returns how many."""
        return self.expire_ns(now_ns)
