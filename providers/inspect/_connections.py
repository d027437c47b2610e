"""The connection table: one record per inspected flow, keyed from the local side.

A connection is created by the first packet of a new flow (the connection
layer), stays ``pending`` until its decider answers, then is ``permitted`` or
``blocked``. It ends on TCP FIN (both ways) or RST, or after an idle timeout,
with a ConnectionClosed event. Each pending connection is completed exactly
once: completing removes it from the pending set (upstream's never-reset
"found" flag could complete a decided connection again).
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from providers.packets import address_text
from providers.packets._communityid import community_id

from ._events import CONNECTION_CLOSED, RUNDOWN_CONNECTION
from ._headers import ICMP, ICMPV6, TCP, UDP, Headers

__all__ = ["Connection", "ConnectionTable"]

PROTO_NAMES = {TCP: "tcp", UDP: "udp", ICMP: "icmp", ICMPV6: "icmpv6"}
_IDLE_S = {TCP: 300.0, UDP: 60.0, ICMP: 30.0, ICMPV6: 30.0}
_BLOCKED_IDLE_S = 10.0
_FIN, _RST = 0x01, 0x04


@dataclass(slots=True)
class Connection:
    """One inspected flow; ``held`` keeps queued packets waiting for the decision."""

    id: int
    key: tuple
    flow_id: str
    protocol: str
    local_addr: str
    local_port: int
    remote_addr: str
    remote_port: int
    direction: str
    layer: str
    created_ns: int
    process_path: str = ""
    process_pid: int = 0
    state: str = "pending"
    decided_by: str = ""
    held: list[Any] = field(default_factory=list)
    packets: int = 0
    bytes: int = 0
    last_seen: float = 0.0
    fins: int = 0

    @property
    def net_direction(self) -> str:
        """``network.direction`` of the connection: egress (outbound) or ingress."""
        return "egress" if self.direction == "outbound" else "ingress"

    def endpoint_fields(self) -> tuple:
        """The flow's vocabulary fields (inspect's _FLOW): the source opened it."""
        local, remote = (self.local_addr, self.local_port), (self.remote_addr, self.remote_port)
        (sip, sport), (dip, dport) = ((local, remote) if self.direction == "outbound"
                                      else (remote, local))
        return (self.flow_id, self.protocol, sip, sport, dip, dport, self.net_direction)

    @property
    def pending(self) -> bool:
        """True until the decision is made."""
        return self.state == "pending"

    @property
    def verdict(self) -> str:
        """``permit``, ``block`` or ``pending``."""
        return {"permitted": "permit", "blocked": "block"}.get(self.state, "pending")


class ConnectionTable:
    """Connections by key, with ids, idle expiry and the rundown."""

    def __init__(self, max_connections: int = 100_000) -> None:
        self.max_connections = max_connections
        self._by_key: dict[tuple, Connection] = {}
        self._by_id: dict[int, Connection] = {}
        self._ids = itertools.count(1)
        self.closed = 0

    def __len__(self) -> int:
        return len(self._by_key)

    def get(self, key: tuple) -> Connection | None:
        """The connection of a flow key, if tracked."""
        return self._by_key.get(key)

    def by_id(self, conn_id: int) -> Connection | None:
        """The connection with this id, if tracked."""
        return self._by_id.get(conn_id)

    def create(self, key: tuple, h: Headers, outbound: bool) -> Connection:
        """A new pending connection for the first packet ``h`` of a flow."""
        local, remote = (h.src, h.dst) if outbound else (h.dst, h.src)
        if h.proto in (ICMP, ICMPV6):
            lport, rport = h.sport, h.dport  # type and code, as Community ID
        else:
            lport, rport = (h.sport, h.dport) if outbound else (h.dport, h.sport)
        conn = Connection(
            id=next(self._ids), key=key,
            flow_id=community_id(h.src, h.dst, h.proto, h.sport, h.dport),
            protocol=PROTO_NAMES.get(h.proto, str(h.proto)),
            local_addr=address_text(local), local_port=lport,
            remote_addr=address_text(remote), remote_port=rport,
            direction="outbound" if outbound else "inbound",
            layer="connect" if outbound else "recv-accept",
            created_ns=time.monotonic_ns(), last_seen=time.monotonic())
        if len(self._by_id) >= self.max_connections:
            self._evict()
        self._by_key[key] = conn
        self._by_id[conn.id] = conn
        return conn

    def _evict(self) -> None:
        """Close the oldest decided connection to make room (a flood of new flows)."""
        for old in self._by_id.values():
            if not old.pending:
                self.close(old, "evicted")
                return

    def pending(self) -> list[Connection]:
        """Connections still waiting for a decision, oldest first."""
        return [c for c in list(self._by_id.values()) if c.pending]

    def all(self) -> list[Connection]:
        """Every tracked connection, oldest first."""
        return list(self._by_id.values())

    def seen(self, conn: Connection, h: Headers, now: float) -> None:
        """Count a packet of ``conn``; close it on RST or on FIN from both sides.

        A pending connection is never closed here: its held packets need a verdict.
        """
        conn.packets += 1
        conn.bytes += h.size
        conn.last_seen = now
        if h.proto == TCP and h.flags & (_FIN | _RST) and not conn.pending:
            if h.flags & _RST:
                self.close(conn, "reset")
                return
            conn.fins |= 1 if h.src == conn.key[1] else 2
            if conn.fins == 3:
                self.close(conn, "fin")

    def close(self, conn: Connection, reason: str) -> None:
        """Forget a decided connection and trace its end."""
        if self._by_key.get(conn.key) is conn:
            del self._by_key[conn.key]
        if self._by_id.pop(conn.id, None) is None:
            return
        self.closed += 1
        if CONNECTION_CLOSED.enabled:
            CONNECTION_CLOSED.write(time.time_ns(), conn.id, conn.flow_id, conn.verdict,
                                    reason, conn.packets, conn.bytes)

    def expire(self, now: float) -> int:
        """Close decided connections idle past their protocol's timeout."""
        stale = [c for c in self._by_id.values() if not c.pending and now - c.last_seen > (
            _BLOCKED_IDLE_S if c.state == "blocked" else _IDLE_S.get(c.key[0], 60.0))]
        for conn in stale:
            self.close(conn, "idle")
        return len(stale)

    def rundown(self) -> None:
        """One RundownConnection event per tracked connection (capture-state)."""
        if not RUNDOWN_CONNECTION.enabled:
            return
        now = time.monotonic_ns()
        for c in self.all():
            RUNDOWN_CONNECTION.write(time.time_ns(), c.id, *c.endpoint_fields(), c.state,
                                     c.process_path, c.process_pid,
                                     (now - c.created_ns) // 1_000_000)
