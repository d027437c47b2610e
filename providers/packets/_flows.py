"""Bidirectional flow table: 5-tuple flows with orientation, state, counters and timeouts.

A flow is keyed by its canonical 5-tuple (ICMP echo by identifier, other ICMP by
type/code). The side that sent the first packet is the initiator; ``local_nets`` decide
which side is local (default: the initiator). The table is an LRU of bounded size: a new
flow beyond ``max_flows`` evicts the least recently seen one, and that is counted.
"""

from __future__ import annotations

import enum
import ipaddress
from collections import OrderedDict
from collections.abc import Callable, Iterable

from ._communityid import community_id
from ._packet import TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, Packet, address_text

__all__ = ["Direction", "Flow", "FlowState", "FlowTable", "FlowTableStats", "FlowView"]

_S = 1_000_000_000
DEFAULT_TIMEOUTS_S = {"tcp": 3600.0, "tcp_handshake": 60.0, "tcp_closed": 10.0,
                      "udp": 120.0, "icmp": 30.0, "other": 120.0}


class FlowState(enum.IntEnum):
    """Lifecycle of a flow as seen on the wire."""

    NEW = 0
    ESTABLISHED = 1
    CLOSING = 2
    CLOSED = 3


#: The members as plain module globals: in the per-packet path, ``FlowState.CLOSED``
#: (a class attribute lookup through the enum machinery) costs several times more.
_NEW, _ESTABLISHED, _CLOSING, _CLOSED = (FlowState.NEW, FlowState.ESTABLISHED,
                                         FlowState.CLOSING, FlowState.CLOSED)


class Direction(enum.IntEnum):
    """Packet direction relative to the local side of its flow."""

    OUT = 0  # local -> remote
    IN = 1  # remote -> local


_OUT, _IN = Direction.OUT, Direction.IN


class FlowView:
    """What every flow offers besides its fields (``addrs``, ``ports``, ``proto``, ``_id``):
    shared by :class:`Flow` and the compiled table's flows."""

    __slots__ = ()
    addrs: tuple[bytes, bytes]
    ports: tuple[int, int]
    proto: int
    local_side: int
    _id: str | None

    @property
    def id(self) -> str:
        """Community ID v1 of this flow (computed once)."""
        if self._id is None:
            # every concrete flow (Flow, the compiled stage's) has an _id slot
            self._id = community_id(  # type: ignore[misc]
                self.addrs[0], self.addrs[1], self.proto, *self.ports)
        return self._id

    def endpoint(self, side: int) -> tuple[str, int]:
        """(address, port) of one side (0: the initiator)."""
        return address_text(self.addrs[side]), self.ports[side]

    @property
    def local(self) -> tuple[str, int]:
        """(address, port) of the local side."""
        return self.endpoint(self.local_side)

    @property
    def remote(self) -> tuple[str, int]:
        """(address, port) of the remote side."""
        return self.endpoint(1 - self.local_side)

    @property
    def proto_name(self) -> str:
        return {6: "tcp", 17: "udp", 1: "icmp", 58: "icmpv6"}.get(self.proto, str(self.proto))

    def side_of(self, pkt: Packet) -> int:
        """0 if ``pkt`` was sent by the initiator, else 1."""
        return 0 if (pkt.src, pkt.sport) == (self.addrs[0], self.ports[0]) else 1

    def __repr__(self) -> str:
        state = self.state  # type: ignore[attr-defined]
        return (f"Flow({self.proto_name} {self.local} <-> {self.remote} "
                f"{state.name} pkts={self.packets})")  # type: ignore[attr-defined]


class Flow(FlowView):
    """One bidirectional conversation; side 0 is the initiator (first packet's source)."""

    __slots__ = (
        "_id",
        "addrs",
        "bytes",
        "fin_seen",
        "first_ns",
        "follow",
        "key",
        "last_ns",
        "local_side",
        "packets",
        "ports",
        "proto",
        "state",
        "user",
        "version",
    )

    def __init__(self, key: tuple, pkt: Packet, local_side: int, follow: bool = True) -> None:
        self.key = key
        self.proto = pkt.proto
        self.version = pkt.version
        self.addrs = (pkt.src, pkt.dst)
        self.ports = (pkt.sport, pkt.dport)
        self.local_side = local_side
        self.state = FlowState.NEW
        self.packets = [0, 0]  # per side: sent by initiator, sent by responder
        self.bytes = [0, 0]
        self.first_ns = self.last_ns = pkt.ts_ns
        self.fin_seen = [False, False]
        self._id: str | None = None
        self.user: dict = {}
        #: Reassemble this flow's TCP streams (see Pipeline: selective stream consumers).
        self.follow = follow


class FlowTableStats:
    """Counters of the flow table."""

    __slots__ = ("closed", "created", "evicted", "expired")

    def __init__(self) -> None:
        self.created = self.evicted = self.expired = self.closed = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


class FlowTable:
    """Tracks flows; ``on_end(flow, reason)`` is called when one closes, expires or is evicted.

    Call :meth:`expire` with the current (capture) time to apply idle timeouts; replay
    does so once per second of capture time.
    """

    def __init__(
        self,
        max_flows: int = 100_000,
        *,
        local_nets: Iterable[str] = (),
        timeouts_s: dict[str, float] | None = None,
        on_end: Callable[[Flow, str], None] | None = None,
    ) -> None:
        self.max_flows = max_flows
        self._nets = [ipaddress.ip_network(n) for n in local_nets]
        t = {**DEFAULT_TIMEOUTS_S, **(timeouts_s or {})}
        self._timeouts_ns = {k: int(v * _S) for k, v in t.items()}
        self._flows: OrderedDict[tuple, Flow] = OrderedDict()
        # The flow of the packet accounted last, so at the end of _flows; None once any
        # flow left the table. Consecutive packets mostly belong to the same flow.
        self._last: Flow | None = None
        self.on_end = on_end
        self.stats = FlowTableStats()
        #: The ``follow`` flag of new flows.
        self.follow = True

    def __len__(self) -> int:
        return len(self._flows)

    def __iter__(self):
        return iter(list(self._flows.values()))

    def update(self, pkt: Packet) -> tuple[Flow, Direction]:
        """Account ``pkt`` to its flow (created if new); returns the flow and direction."""
        flow, side = self.account(pkt)
        return flow, _OUT if side == flow.local_side else _IN

    def account(self, pkt: Packet) -> tuple[Flow, int]:
        """Like :meth:`update`, but returns the side that sent ``pkt`` (0: initiator).

        The per-packet hot path: a packet of the same flow as the previous one is
        recognised without a table lookup, and the common case of :meth:`_advance` (an
        established flow, no FIN or RST) is inlined.
        """
        last = self._last
        side = -1
        if last is not None and last.state is not _CLOSED and pkt.proto == last.proto \
                and pkt.icmp_id < 0:
            src, sport, dst, dport = pkt.src, pkt.sport, pkt.dst, pkt.dport
            (a0, a1), (p0, p1) = last.addrs, last.ports
            if sport == p0 and dport == p1 and src == a0 and dst == a1:
                side = 0
            elif sport == p1 and dport == p0 and src == a1 and dst == a0:
                side = 1
            flow = last
        if side < 0:
            flow, side = self._lookup(pkt)
            self._last = flow
        flow.packets[side] += 1
        flow.bytes[side] += pkt.wire_len
        flow.last_ns = pkt.ts_ns
        if flow.state is not _ESTABLISHED or pkt.flags & (TCP_FIN | TCP_RST):
            self._advance(flow, pkt, side)  # else it would change nothing
        return flow, side

    def _lookup(self, pkt: Packet) -> tuple[Flow, int]:
        """The flow of ``pkt`` by its canonical, direction-free key (created if new,
        moved to the end of the LRU order) and the side that sent ``pkt``."""
        src, sport, dst, dport = pkt.src, pkt.sport, pkt.dst, pkt.dport
        icmp_id = pkt.icmp_id
        if icmp_id >= 0:  # echo-like ICMP: both directions share the identifier
            a, b = (src, icmp_id), (dst, icmp_id)
        else:
            a, b = (src, sport), (dst, dport)
        key = (pkt.proto, a, b) if a <= b else (pkt.proto, b, a)
        flows = self._flows
        flow = flows.get(key)
        if flow is not None and flow.state is _CLOSED and pkt.flags & TCP_SYN \
                and not pkt.flags & TCP_ACK:
            del flows[key]  # its end was reported when it closed
            flow = None
        if flow is None:
            flow = self._create(key, pkt)
        else:
            flows.move_to_end(key)
        addrs = flow.addrs
        if icmp_id >= 0:
            side = 0 if src == addrs[0] else 1
        else:
            side = 0 if src == addrs[0] and sport == flow.ports[0] else 1
        return flow, side

    def _create(self, key: tuple, pkt: Packet) -> Flow:
        if len(self._flows) >= self.max_flows:
            _old_key, old = self._flows.popitem(last=False)
            self._last = None
            self.stats.evicted += 1
            if self.on_end is not None:
                self.on_end(old, "evicted")
        local_side = 0
        if self._nets:
            dst = ipaddress.ip_address(pkt.dst)
            src = ipaddress.ip_address(pkt.src)
            if any(dst in n for n in self._nets) and not any(src in n for n in self._nets):
                local_side = 1
        flow = Flow(key, pkt, local_side, self.follow)
        self._flows[key] = flow
        self.stats.created += 1
        return flow

    def _advance(self, flow: Flow, pkt: Packet, side: int) -> None:
        """Move the state machine: both sides heard -> established; FIN -> closing; RST or
        FIN from both sides -> closed."""
        if flow.state is _CLOSED:
            return
        if flow.proto == 6:
            f = pkt.flags
            if f & TCP_RST:
                self._close(flow)
                return
            if f & TCP_FIN:
                flow.fin_seen[side] = True
                if flow.fin_seen[0] and flow.fin_seen[1]:
                    self._close(flow)
                else:
                    flow.state = _CLOSING
                return
        if flow.state is _NEW and flow.packets[0] and flow.packets[1]:
            flow.state = _ESTABLISHED

    def _close(self, flow: Flow) -> None:
        flow.state = _CLOSED
        self.stats.closed += 1
        if self.on_end is not None:
            self.on_end(flow, "closed")

    def _timeout(self, flow: Flow) -> int:
        t = self._timeouts_ns
        if flow.proto == 6:
            if flow.state is FlowState.ESTABLISHED:
                return t["tcp"]
            return t["tcp_closed"] if flow.state is FlowState.CLOSED else t["tcp_handshake"]
        if flow.proto == 17:
            return t["udp"]
        if flow.proto in (1, 58):
            return t["icmp"]
        return t["other"]

    def expire(self, now_ns: int) -> int:
        """Drop flows idle longer than their protocol's timeout; returns how many."""
        shortest = min(self._timeouts_ns.values())
        gone = []
        for key, flow in self._flows.items():  # least recently seen first
            idle = now_ns - flow.last_ns
            if idle <= shortest:
                break  # every later flow was seen more recently: none can have expired
            if idle > self._timeout(flow):
                gone.append((key, flow))
        if gone:
            self._last = None
        for key, flow in gone:
            if flow.state is not FlowState.CLOSED:
                self.stats.expired += 1
                self._end(key, flow, "expired")
            else:
                del self._flows[key]
        return len(gone)

    def _end(self, key: tuple, flow: Flow, reason: str) -> None:
        del self._flows[key]
        self._last = None
        if self.on_end is not None:
            self.on_end(flow, reason)

    def flush(self) -> None:
        """End every open flow (end of capture)."""
        self._last = None
        for key, flow in list(self._flows.items()):
            if flow.state is FlowState.CLOSED:
                del self._flows[key]
            else:
                self._end(key, flow, "end")
