"""Offline mode: classify a capture and trace the verdicts the inspector would give.

``wfptrace replay --provider inspect FILE`` builds this consumer; the address
and mode come from the usual configuration (file, ``WFPTRACE_INSPECT_REMOTE``,
``WFPTRACE_INSPECT_BLOCK``), or from :func:`make_replay_consumer` arguments.
A flow is inspected when either end is an inspected address; that end is the
remote one. It is traced with ConnectionPended / ConnectionVerdict, each packet
with PacketVerdict (keyword packet) and the flow's end with ConnectionClosed.
ICMP errors and other protocols are not inspected, as live.

The decision is the static one (``block_traffic``), taken once per flow, unless
``decider="external"`` is asked for (TraceView's demo does): then each connection
waits, as live, for a verdict through the provider's control requests
(``pending``, ``decide``, ``hold``: the hub's ``control`` or a
:class:`HubDecisionClient`) or for its timeout, which applies ``block_traffic``.
Its packets are held meanwhile (their PacketVerdict and the ConnectionClosed of a
flow that ended follow the verdict); a replay cannot stop packets that were
captured, so the other providers still see them.
"""

from __future__ import annotations

import collections
import ipaddress
import threading
import time
from typing import Any

from ._config import InspectConfig, load_config
from ._connections import Connection
from ._deciders import ExternalDecider
from ._events import (
    CONFIGURATION,
    CONNECTION_CLOSED,
    CONNECTION_PENDED,
    CONNECTION_VERDICT,
    DECISION_TIMEOUT,
    PACKET_VERDICT,
    PROVIDER,
    STOP,
    TIMEOUT_DEFAULT,
)
from ._stats import InspectStats

__all__ = ["InspectReplay", "make_replay_consumer"]

_PROTOS = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}
_CLOSED = 3  # providers.packets FlowState.CLOSED
#: Packets of one pending connection whose verdicts wait; later ones are counted
#: (``held_dropped``) as the kernel queue would drop them.
MAX_HELD = 1024
_POLL_S = 0.05


class InspectReplay:
    """A packet consumer (``providers.packets.PacketConsumer``) for the inspect provider."""

    provider = PROVIDER

    def __init__(self, config: InspectConfig, decider: ExternalDecider | None = None) -> None:
        self.config = config
        self.stats = InspectStats()
        self.held_dropped = 0
        self.decider = decider
        self._conns: dict[str, Connection] = {}  # open flow id -> connection
        self._closed: dict[str, Connection] = {}  # recently ended flows
        #: The last connection verdicts (TraceView's decided-by column), oldest first.
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=16)
        self._pending: dict[int, Connection] = {}
        self._ends: dict[int, tuple[str, int, int]] = {}  # pending conn id -> its flow's end
        self._next = 1
        self._next_poll = 0.0
        #: The replay's clock: the capture time of the latest packet (events' @timestamp).
        self._clock_ns = 0
        self._lock = threading.RLock()
        if decider is not None:
            decider.complete = self._completed
            PROVIDER.on_control(self.handle)

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
        """Pend the flow on its first inspected packet; trace every packet's verdict."""
        remote = self._inspected_side(flow)
        if remote is None or not self._wanted(pkt, flow, remote):
            return
        if self._pending:
            self.poll()
        sender = 0 if (pkt.src, pkt.sport) == (flow.addrs[0], flow.ports[0]) else 1
        way = "ingress" if sender == remote else "egress"
        self._clock_ns = pkt.ts_ns
        with self._lock:
            conn = self._conns.get(flow.id)
            if conn is None and flow.state == _CLOSED:
                # A late packet of a flow that already ended (its last ACK): traced once.
                conn = self._closed.pop(flow.id, None)
                if conn is None:
                    return
            elif conn is None:
                conn = self._pend(flow, remote)
            self.stats.packets += 1
            if not conn.pending:
                self._packet_verdict(conn, way, pkt.wire_len)
            elif len(conn.held) < MAX_HELD:
                conn.held.append((way, pkt.wire_len))
            else:
                self.held_dropped += 1

    def _pend(self, flow: Any, remote: int) -> Connection:
        local = 1 - remote
        outbound = local == 0  # the local side sent the first packet: connect
        (local_addr, local_port), (remote_addr, remote_port) = (flow.endpoint(local),
                                                                flow.endpoint(remote))
        conn = Connection(id=self._next, key=(flow.id,), flow_id=flow.id,
                          protocol=flow.proto_name, local_addr=local_addr,
                          local_port=local_port, remote_addr=remote_addr,
                          remote_port=remote_port,
                          direction="outbound" if outbound else "inbound",
                          layer="connect" if outbound else "recv-accept",
                          created_ns=time.monotonic_ns())
        self._next += 1
        self._conns[flow.id] = conn
        self.stats.connections += 1
        if CONNECTION_PENDED.enabled:
            CONNECTION_PENDED.write(self._clock_ns, conn.id, *conn.endpoint_fields(),
                                    conn.layer, "", 0)
        if self.decider is None:
            self._complete(conn, self._static_verdict(), CONFIGURATION, latency_ns=0)
        else:
            self._pending[conn.id] = conn
            self.decider.submit(conn)
        return conn

    def _static_verdict(self) -> str:
        return "block" if self.config.block_traffic else "permit"

    def _complete(self, conn: Connection, verdict: str, decided_by: str,
                  latency_ns: int | None = None) -> None:
        """Decide ``conn`` once; then its held packets and, if it ended, its close."""
        if not conn.pending:
            return
        self._pending.pop(conn.id, None)
        conn.state = "permitted" if verdict == "permit" else "blocked"
        conn.decided_by = decided_by
        if decided_by == STOP:
            self.stats.dropped_at_stop += 1
        elif verdict == "permit":
            self.stats.permitted += 1
        else:
            self.stats.blocked += 1
        if latency_ns is None:
            latency_ns = time.monotonic_ns() - conn.created_ns
        arrow = "->" if conn.direction == "outbound" else "<-"
        self._recent.append({
            "id": conn.id, "process": conn.process_path, "pid": conn.process_pid,
            "five_tuple": f"{conn.protocol} {conn.local_addr}:{conn.local_port} {arrow} "
                          f"{conn.remote_addr}:{conn.remote_port}",
            "verdict": verdict, "decided_by": decided_by, "latency_ns": latency_ns})
        if CONNECTION_VERDICT.enabled:
            CONNECTION_VERDICT.write(self._clock_ns, conn.id, conn.flow_id,
                                     conn.net_direction, verdict, decided_by, latency_ns)
        for way, size in conn.held:
            self._packet_verdict(conn, way, size)
        conn.held.clear()
        end = self._ends.pop(conn.id, None)
        if end is not None:
            self._trace_close(conn, *end)

    def _packet_verdict(self, conn: Connection, way: str, size: int) -> None:
        if conn.verdict == "permit":
            self.stats.packets_permitted += 1
        else:
            self.stats.packets_dropped += 1
        if PACKET_VERDICT.enabled:
            PACKET_VERDICT.write(self._clock_ns, conn.flow_id, way, size, conn.verdict,
                                 conn.decided_by, 0)

    def _trace_close(self, conn: Connection, reason: str, packets: int, nbytes: int) -> None:
        self.stats.closed += 1
        if CONNECTION_CLOSED.enabled:
            CONNECTION_CLOSED.write(self._clock_ns, conn.id, conn.flow_id, conn.verdict, reason,
                                    packets, nbytes)

    def on_flow_end(self, flow: Any, reason: str) -> None:
        """Trace the end of an inspected flow (after its verdict, if that is pending)."""
        with self._lock:
            conn = self._conns.pop(flow.id, None)
            if conn is None:
                return
            self._clock_ns = max(self._clock_ns, flow.last_ns)
            self._closed[flow.id] = conn
            if len(self._closed) > 1024:
                del self._closed[next(iter(self._closed))]
            end = (reason, flow.packets[0] + flow.packets[1], flow.bytes[0] + flow.bytes[1])
            if conn.pending:
                self._ends[conn.id] = end
            else:
                self._trace_close(conn, *end)

    # -- the external decider ---------------------------------------------------------
    def _completed(self, conn_id: int, verdict: str, decided_by: str) -> None:
        """The decider's answer (any thread)."""
        with self._lock:
            conn = self._pending.get(conn_id)
            if conn is None:
                self.stats.decide_refused += 1
                return
            self._complete(conn, verdict, decided_by)

    def poll(self, now: float | None = None) -> int:
        """Apply ``block_traffic`` to connections whose decision time ran out; how many.

        Called on the replay's packets; a driver that pauses between packets (a paced
        replay) calls it too, so timeouts fire on time.
        """
        if self.decider is None:
            return 0
        now = time.monotonic() if now is None else now
        if now < self._next_poll:
            return 0
        self._next_poll = now + _POLL_S
        expired = self.decider.ended(now)
        with self._lock:
            for conn_id, reason in expired:
                conn = self._pending.get(conn_id)
                if conn is None:
                    continue
                verdict = self._static_verdict()
                self.stats.timeouts += 1
                if DECISION_TIMEOUT.enabled:
                    DECISION_TIMEOUT.write(self._clock_ns, conn.id, conn.flow_id, verdict,
                                           float(self.config.decider_timeout), reason)
                self._complete(conn, verdict, TIMEOUT_DEFAULT)
        return len(expired)

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer a control request: ``status``, or the external decider's requests."""
        if request.get("op") == "recent":
            with self._lock:
                return {"recent": list(reversed(self._recent))}
        if request.get("op") == "status":
            with self._lock:
                pending = len(self._pending)
            return {"config": self.config.summary(), "block_traffic": self.config.block_traffic,
                    "stats": self.stats.as_dict(), "connections": len(self._conns),
                    "pending": pending, "backend": "replay"}
        if self.decider is None:
            raise ValueError(f"{request.get('op')!r} needs the external decider")
        return self.decider.request(request)

    def close(self) -> None:
        """Block what is still pending (as a stopping inspector does); stop answering."""
        if self.decider is None:
            return
        with self._lock:
            for conn in list(self._pending.values()):
                self.decider.forget(conn.id)
                self._complete(conn, "block", STOP)
        PROVIDER.on_control(None)


def make_replay_consumer(remote: str | None = None, block: bool | None = None,
                         config: str | None = None, decider: str | None = None,
                         decider_timeout: float | None = None) -> InspectReplay:
    """The replay consumer; arguments override the file and environment.

    ``decider="external"`` pends each connection until a control request decides it
    or ``decider_timeout`` passes; otherwise (whatever the file says: a replay from
    the command line has nobody to answer) the static verdict applies at once.
    Raises InspectConfigError (with the usual message) when no address is set.
    """
    cfg = load_config(config, remote_address=remote, block_traffic=block,
                      decider=decider, decider_timeout=decider_timeout)
    external = decider == "external"
    return InspectReplay(cfg, ExternalDecider(cfg.decider_timeout) if external else None)
