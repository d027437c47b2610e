"""The worker: one thread serves both queues and completes every held verdict.

Each round it takes, in this order: verdicts that arrived from an external
decider, expired decisions, the connection queue (new flows: pend and submit),
and only then the transport queue (every other packet of inspected flows).
Permit = the packet goes on unchanged (ACCEPT); block = DROP, or with
``reject`` a REPEAT with the reject mark so the REJECT rule answers it.
Accepted runs are answered with one batch verdict.

Every round beats the stall watchdog (rounds come at least every
``BEAT_S`` even when idle). After a stall, what the watchdog released is
decided ``stall-open``: pending connections whose packets it let go, and the
backlog of packets read afterwards; their verdicts are not sent again. A
packet whose handling fails gets the crash policy (``fail-open``).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import select
import socket
import threading
import time
from typing import Any

from providers.netfilter import Attributor, Flow, NfQueue, StallReport, Verdict, Watchdog
from providers.netfilter._watchdog import BEAT_S
from providers.packets._communityid import community_id

from ._blockswitch import BlockSwitch
from ._config import InspectConfig
from ._connections import Connection, ConnectionTable
from ._deciders import Decider, ExternalDecider
from ._events import (
    BYPASS,
    CONFIGURATION,
    CONNECTION_PENDED,
    CONNECTION_VERDICT,
    DECISION_PROGRAM,
    DECISION_TIMEOUT,
    FAIL_OPEN,
    OVERLOAD,
    PACKET_VERDICT,
    QUEUE_STATS,
    STALL_OPEN,
    STALL_OPENED,
    STOP,
    TIMEOUT_DEFAULT,
)
from ._headers import TCP, UDP, Headers, flow_key, parse_headers
from ._overload import OverloadAccount
from ._rules import REJECT_MARK
from ._stats import InspectStats

__all__ = ["Worker"]

_log = logging.getLogger(__name__)

_LOCAL_OUT = 3
_STATS_EVERY_S = 1.0
#: Static decider, packet events off: batches up to this size have every header
#: read; bigger ones (the queue is busy) only about this many.
_TRACK_ALL = 8


class Worker:
    """Decides every packet the rules queue; run :meth:`run` in its own thread."""

    def __init__(self, config: InspectConfig, conn_q: NfQueue, pkt_q: NfQueue,
                 decider: Decider, switch: BlockSwitch, stats: InspectStats | None = None,
                 attributor: Attributor | None = None,
                 overload: OverloadAccount | None = None,
                 watchdog: Watchdog | None = None) -> None:
        self.config = config
        self.conn_q, self.pkt_q = conn_q, pkt_q
        self.decider = decider
        self.switch = switch
        self.stats = stats or InspectStats()
        self.attributor = attributor
        self.table = ConnectionTable()
        self.latencies_us: collections.deque[int] = collections.deque(maxlen=4096)
        #: The last connection verdicts (TraceView's decided-by column), oldest first.
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=16)
        self._inbox: collections.deque[tuple[int, str, str]] = collections.deque()
        self._wake = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        self._stop = threading.Event()
        self._rules_gone = threading.Event()
        self._rundown = threading.Event()
        self._next_stats = time.monotonic() + _STATS_EVERY_S
        self._static = not isinstance(decider, ExternalDecider)
        self.overload = overload
        self._account_lock = threading.Lock()
        self._account_due = threading.Event()
        self.watchdog = watchdog
        self._stall_conns = 0  # stalled_open at the last StallOpen event
        #: What the crash policy gives (fail-open, stall-open): permit unless fail_closed.
        self.crash_verdict = "block" if config.fail_closed else "permit"

    # -- requests from other threads ---------------------------------------------------
    def complete(self, conn_id: int, verdict: str, decided_by: str) -> None:
        """An external verdict (any thread); the worker applies it on its next round."""
        self._inbox.append((conn_id, verdict, decided_by))
        self._poke()

    def request_rundown(self) -> None:
        """Ask for a rundown of pending and active connections (capture-state)."""
        self._rundown.set()
        self._poke()

    def request_stop(self) -> None:
        """Stop deciding: pending connections get blocked, queued packets dropped."""
        self._stop.set()
        self._poke()

    def rules_removed(self) -> None:
        """Tell the worker no new packet will be queued: it may finish draining."""
        self._rules_gone.set()
        self._poke()

    def poke(self) -> None:
        """Wake the worker for a round now (a decider's state changed)."""
        self._poke()

    def _poke(self) -> None:
        with contextlib.suppress(OSError):
            os.eventfd_write(self._wake, 1)

    # -- the loop ----------------------------------------------------------------------
    def run(self) -> None:
        """Serve the queues until :meth:`request_stop`, then tear down."""
        fds = [self.conn_q.fileno(), self.pkt_q.fileno(), self._wake]
        threading.Thread(target=self._accountant, name="inspect-overload", daemon=True).start()
        try:
            while not self._stop.is_set():
                select.select(fds, [], [], self._wait_time())
                try:
                    self._round()
                except Exception:  # a bug must not stop the worker: count, log, go on
                    self.stats.worker_errors += 1
                    _log.exception("inspect worker round failed")
        finally:
            self._account_due.set()  # lets the accountant see the stop
            self._shutdown()
            os.close(self._wake)

    def _accountant(self) -> None:
        """Overload accounting off the packet path (it may run the rule-counter tool)."""
        while not self._stop.is_set():
            self._account_due.wait()
            self._account_due.clear()
            if not self._stop.is_set():
                try:
                    self.account_overload()
                except Exception:  # counted like a worker bug; accounting goes on
                    self.stats.worker_errors += 1
                    _log.exception("overload accounting failed")

    def _wait_time(self) -> float:
        wait = max(0.0, self._next_stats - time.monotonic())
        if self.watchdog is not None:
            wait = min(wait, BEAT_S)
        if isinstance(self.decider, ExternalDecider):
            deadline = self.decider.next_deadline()
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.monotonic()))
        return wait

    def _round(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._wake)
        report = self._watch()
        self._overload_policy()
        self._completions()
        now = time.monotonic()
        for conn_id, reason in self.decider.ended(now):
            self._timed_out(conn_id, reason)
        batch = self.conn_q.receive()
        if batch:
            report = self._settle(report)
            self._connections(batch)
        batch = self.pkt_q.receive()
        if batch:
            report = self._settle(report)
            self._packets(batch)
        if self._rundown.is_set():
            self._rundown.clear()
            self.table.rundown()
        if report is not None:
            self._trace_stall(report)
        if now >= self._next_stats:
            self._periodic(now)

    # -- stall-open --------------------------------------------------------------------
    def _watch(self) -> StallReport | None:
        """Beat; after a stall, complete the connections whose held packets were released."""
        dog = self.watchdog
        if dog is None:
            return None
        dog.beat()
        return self._settle(None)

    def _settle(self, report: StallReport | None) -> StallReport | None:
        """Learn what the watchdog released (again right after a receive: the process may
        have been suspended since the round began, and the packets just read released
        meanwhile); complete the pending connections whose held packets it released."""
        dog = self.watchdog
        if dog is None:
            return report
        settled = dog.settled
        again = dog.poll()
        if dog.settled != settled:
            for conn in self.table.pending():
                if any(q.is_settled(pkt.id) for q, pkt, _h, _t in conn.held):
                    self.decider.forget(conn.id)
                    self._complete(conn, self.crash_verdict, STALL_OPEN)
        return report if again is None else again

    def _trace_stall(self, report: StallReport) -> None:
        s = self.stats
        s.stalls += report.stalls
        s.stall_packets += report.total
        if STALL_OPENED.enabled:
            STALL_OPENED.write(self.crash_verdict, report.stalls, round(report.stall_ms, 1),
                               report.total, s.stalled_open - self._stall_conns,
                               s.stall_packets, s.stalled_open)
        self._stall_conns = s.stalled_open

    # -- connection layer --------------------------------------------------------------
    def _connections(self, batch: list[Any]) -> None:
        decided: list[tuple[Any, Verdict]] = []
        q = self.conn_q
        now, now_ns = time.monotonic(), time.monotonic_ns()
        dog = self.watchdog
        for pkt in batch:
            if dog is not None:  # each new flow costs an owner lookup: stay alive meanwhile
                dog.beat()
            try:
                verdict = self._connection_packet(q, pkt, now, now_ns)
            except Exception:  # a bug deciding one packet: the crash policy, counted
                verdict = self._failed(q, pkt, now_ns)
            if verdict is not None:
                decided.append((pkt, verdict))
        self._answer(q, decided)

    def _connection_packet(self, q: NfQueue, pkt: Any, now: float,
                           now_ns: int) -> Verdict | None:
        """The verdict of one connection-layer packet, or None when it is held."""
        h = parse_headers(pkt.payload, pkt.cap_len)
        if h is None:
            self.stats.unparsed += 1
            return self._nf(self._static_verdict())
        outbound = pkt.hook == _LOCAL_OUT
        key = flow_key(h, outbound)
        conn = self.table.get(key)
        settled = q.is_settled(pkt.id)
        if conn is None:
            conn = self._new_connection(key, h, outbound, settled)
        self.table.seen(conn, h, now)
        if settled:  # the watchdog released it while we were stuck
            if conn.pending:
                self.decider.forget(conn.id)
                self._complete(conn, self.crash_verdict, STALL_OPEN)
            self._settled_packet(conn, h, now_ns)
            return None
        if conn.pending:
            q.hold(pkt)
            conn.held.append((q, pkt, h, now_ns))
            return None
        return self._packet_decision(conn, h, now_ns)

    def _new_connection(self, key: tuple, h: Headers, outbound: bool,
                        settled: bool = False) -> Connection:
        conn = self.table.create(key, h, outbound)
        self.stats.connections += 1
        self._attribute(conn, h, outbound)
        if CONNECTION_PENDED.enabled:
            CONNECTION_PENDED.write(time.time_ns(), conn.id, *conn.endpoint_fields(),
                                    conn.layer, conn.process_path, conn.process_pid)
        if settled:
            return conn  # decided stall-open by the caller; no decider is asked
        try:
            verdict = self.decider.submit(conn)
        except Exception:
            self.stats.worker_errors += 1
            _log.exception("decider failed on connection %d", conn.id)
            self._complete(conn, self.crash_verdict, FAIL_OPEN)
            return conn
        if verdict is not None:
            self._complete(conn, verdict, self._decided_by)
        return conn

    def _failed(self, q: NfQueue, pkt: Any, now_ns: int) -> Verdict | None:
        """A packet whose handling raised: the crash policy; its pending connection too."""
        self.stats.worker_errors += 1
        _log.exception("inspect worker failed on a packet")
        h = parse_headers(pkt.payload, pkt.cap_len)
        conn = self.table.get(flow_key(h, pkt.hook == _LOCAL_OUT)) if h is not None else None
        if conn is not None and conn.pending:
            self.decider.forget(conn.id)
            self._complete(conn, self.crash_verdict, FAIL_OPEN)
        if q.is_settled(pkt.id) or pkt.id in q.held:
            return None
        nf = self._nf(self.crash_verdict)
        self._count(nf)
        return nf

    def _settled_packet(self, conn: Connection | None, h: Headers, now_ns: int) -> None:
        """Count and trace a packet the watchdog released (no verdict is sent)."""
        nf = self._nf(self.crash_verdict)
        self._count(nf)
        if conn is not None:
            self._trace_packet(conn, h, nf, STALL_OPEN, 0)

    def _attribute(self, conn: Connection, h: Headers, outbound: bool) -> None:
        """Process path and pid of the local socket, looked up while the packet is held."""
        if self.attributor is None or h.proto not in (TCP, UDP):
            return
        family = socket.AF_INET if h.version == 4 else socket.AF_INET6
        flow = Flow(family, h.proto, socket.inet_ntop(family, h.src), h.sport,
                    socket.inet_ntop(family, h.dst), h.dport)
        try:
            att = self.attributor.attribute(flow, outbound=outbound)
        except OSError:
            return
        if att.process is not None:
            conn.process_path = att.process.exe or ""
            conn.process_pid = att.process.pid
            self.stats.attributed += 1

    @property
    def _decided_by(self) -> str:
        return CONFIGURATION if self._static else DECISION_PROGRAM

    def _complete(self, conn: Connection, verdict: str, decided_by: str) -> None:
        """Complete a pending connection exactly once and release its held packets."""
        if not conn.pending:
            return
        conn.state = "permitted" if verdict == "permit" else "blocked"
        conn.decided_by = decided_by
        now_ns = time.monotonic_ns()
        latency = now_ns - conn.created_ns
        self.latencies_us.append(latency // 1000)
        self._outcome(verdict, decided_by)
        arrow = "->" if conn.direction == "outbound" else "<-"
        self._recent.append({
            "id": conn.id, "process": conn.process_path, "pid": conn.process_pid,
            "five_tuple": f"{conn.protocol} {conn.local_addr}:{conn.local_port} {arrow} "
                          f"{conn.remote_addr}:{conn.remote_port}",
            "verdict": verdict, "decided_by": decided_by, "latency_ns": latency})
        if CONNECTION_VERDICT.enabled:
            CONNECTION_VERDICT.write(time.time_ns(), conn.id, conn.flow_id,
                                     conn.net_direction, verdict, decided_by,
                                     latency)
        nf = self._nf(verdict if decided_by != STOP else "drop")
        for q, pkt, h, held_ns in conn.held:
            settled = q.is_settled(pkt.id)
            self._count(self._nf(self.crash_verdict) if settled else nf)
            if settled:
                self._trace_packet(conn, h, self._nf(self.crash_verdict), STALL_OPEN, 0)
                continue
            self._trace_packet(conn, h, nf, decided_by, now_ns - held_ns)
            self._send(q, pkt, nf)
        conn.held.clear()

    def recent(self) -> list[dict[str, Any]]:
        """The last connection verdicts, newest first (any thread)."""
        return list(reversed(list(self._recent)))

    def _outcome(self, verdict: str, decided_by: str) -> None:
        """Count one connection's outcome in exactly one bucket (the accounting identity)."""
        s = self.stats
        if decided_by == STALL_OPEN:
            s.stalled_open += 1
        elif decided_by == FAIL_OPEN:
            s.failed_open += 1
        elif decided_by == STOP:
            s.dropped_at_stop += 1
        elif verdict == "permit":
            s.permitted += 1
        else:
            s.blocked += 1

    def _completions(self) -> None:
        while self._inbox:
            conn_id, verdict, by = self._inbox.popleft()
            conn = self.table.by_id(conn_id)
            if conn is None or not conn.pending:
                self.stats.decide_refused += 1
                continue
            self._complete(conn, verdict, by)

    def _timed_out(self, conn_id: int, reason: str = "timeout") -> None:
        conn = self.table.by_id(conn_id)
        if conn is None or not conn.pending:
            return
        verdict = self._static_verdict()
        self.stats.timeouts += 1
        if DECISION_TIMEOUT.enabled:
            DECISION_TIMEOUT.write(time.time_ns(), conn.id, conn.flow_id, verdict,
                                   float(self.config.decider_timeout), reason)
        self._complete(conn, verdict, TIMEOUT_DEFAULT)

    # -- transport layer ---------------------------------------------------------------
    def _packets(self, batch: list[Any]) -> None:
        """Transport layer. Static decider: one verdict for the batch, flows sampled."""
        q = self.pkt_q
        if self._static and not PACKET_VERDICT.enabled and not q.is_settled(batch[0].id):
            self._packets_static(batch)
            return
        decided: list[tuple[Any, Verdict]] = []
        now, now_ns = time.monotonic(), time.monotonic_ns()
        static = self._nf(self._static_verdict())
        for pkt in batch:
            try:
                verdict = self._transport_packet(q, pkt, static, now, now_ns)
            except Exception:  # a bug deciding one packet: the crash policy, counted
                verdict = self._failed(q, pkt, now_ns)
            if verdict is not None:
                decided.append((pkt, verdict))
        self._answer(q, decided)

    def _transport_packet(self, q: NfQueue, pkt: Any, static: Verdict, now: float,
                          now_ns: int) -> Verdict | None:
        """The verdict of one transport-layer packet, or None (held, or released already)."""
        h = parse_headers(pkt.payload, pkt.cap_len)
        if h is None:
            self.stats.unparsed += 1
            return static
        conn = self.table.get(flow_key(h, pkt.hook == _LOCAL_OUT))
        if q.is_settled(pkt.id):
            if conn is not None and conn.pending:
                self.decider.forget(conn.id)
                self._complete(conn, self.crash_verdict, STALL_OPEN)
            self._settled_packet(conn, h, now_ns)
            return None
        if conn is None:
            self._count(static)
            if PACKET_VERDICT.enabled:
                way = "egress" if pkt.hook == _LOCAL_OUT else "ingress"
                PACKET_VERDICT.write(time.time_ns(),
                                     community_id(h.src, h.dst, h.proto, h.sport, h.dport), way,
                                     h.size, "permit" if static == Verdict.ACCEPT else "block",
                                     BYPASS, time.monotonic_ns() - now_ns)
            return static
        self.table.seen(conn, h, now)
        if conn.pending:
            q.hold(pkt)
            conn.held.append((q, pkt, h, now_ns))
            return None
        return self._packet_decision(conn, h, now_ns, static)

    def _packets_static(self, batch: list[Any]) -> None:
        """Every packet gets block_traffic's verdict; headers are read for small batches
        (all of them: exact counters and FIN/RST closes) and for a sample of big ones."""
        nf = self._nf(self._static_verdict())
        n = len(batch)
        s = self.stats
        s.packets += n
        if nf == Verdict.ACCEPT:
            s.packets_permitted += n
        else:
            s.packets_dropped += n
        sample = batch if n <= _TRACK_ALL else batch[:: n // _TRACK_ALL + 1]
        now, table = time.monotonic(), self.table
        for pkt in sample:
            h = parse_headers(pkt.payload, pkt.cap_len)
            if h is not None:
                conn = table.get(flow_key(h, pkt.hook == _LOCAL_OUT))
                if conn is not None and not conn.pending:
                    table.seen(conn, h, now)
        if nf == Verdict.ACCEPT:
            self.pkt_q.accept_all(batch)
        else:
            self._answer(self.pkt_q, [(p, nf) for p in batch])

    def _packet_decision(self, conn: Connection, h: Headers, since_ns: int,
                         static: Verdict | None = None) -> Verdict:
        """Static: the current block_traffic; otherwise (and for a connection the crash
        policy decided) the connection's verdict."""
        if self._static and conn.decided_by not in (FAIL_OPEN, STALL_OPEN):
            nf = static if static is not None else self._nf(self._static_verdict())
            by = CONFIGURATION
        else:
            nf, by = self._nf(conn.verdict), conn.decided_by
        self._count(nf)
        if PACKET_VERDICT.enabled:
            self._trace_packet(conn, h, nf, by, time.monotonic_ns() - since_ns)
        return nf

    def _trace_packet(self, conn: Connection, h: Headers, nf: Verdict, decided_by: str,
                      latency_ns: int) -> None:
        if PACKET_VERDICT.enabled:
            outbound = h.src == conn.key[1]
            PACKET_VERDICT.write(time.time_ns(), conn.flow_id,
                                 "egress" if outbound else "ingress", h.size,
                                 "permit" if nf == Verdict.ACCEPT else "block", decided_by,
                                 latency_ns)

    # -- verdict plumbing --------------------------------------------------------------
    def _static_verdict(self) -> str:
        return "block" if self.switch.current() else "permit"

    def _nf(self, verdict: str) -> Verdict:
        if verdict == "permit":
            return Verdict.ACCEPT
        if verdict == "block" and self.config.reject:
            return Verdict.REPEAT
        return Verdict.DROP

    def _count(self, nf: Verdict) -> None:
        s = self.stats
        s.packets += 1
        if nf == Verdict.ACCEPT:
            s.packets_permitted += 1
        else:
            s.packets_dropped += 1

    def _send(self, q: NfQueue, pkt: Any, nf: Verdict) -> None:
        if nf == Verdict.REPEAT:
            self.stats.rejected += 1
            q.verdict(pkt, Verdict.REPEAT, mark=REJECT_MARK)
        else:
            q.verdict(pkt, nf)

    def _answer(self, q: NfQueue, decided: list[tuple[Any, Verdict]]) -> None:
        if not decided:
            return
        repeats = [(p, v) for p, v in decided if v == Verdict.REPEAT]
        if repeats:
            self.stats.rejected += len(repeats)
            q.verdicts(decided, mark={p.id: REJECT_MARK for p, _ in repeats})
        else:
            q.verdicts(decided)

    # -- overload ----------------------------------------------------------------------
    def _overload_policy(self) -> None:
        """A full queue accepts only when the policy says so for the current verdict."""
        accept = self.config.overload_accepts(self.switch.value)
        if accept != self.conn_q.fail_open or accept != self.pkt_q.fail_open:
            self.conn_q.set_fail_open(accept)
            self.pkt_q.set_fail_open(accept)
            if accept and self.overload is not None:
                self.overload.note_fail_open()

    def overload_policy(self) -> str:
        """``accept`` or ``drop``: what a full queue does now."""
        return "accept" if self.conn_q.fail_open else "drop"

    def account_overload(self, force: bool = False) -> None:
        """Bring the overload counters up to date; trace what is new."""
        if self.overload is None:
            return
        with self._account_lock:  # the worker's timer and status requests both count
            s, before = self.stats, self.overload.counts
            now = self.overload.update(force)
            s.overload_accepted, s.overload_dropped = now.accepted, now.dropped
            new_acc, new_drop = now.accepted - before.accepted, now.dropped - before.dropped
            if (new_acc or new_drop) and OVERLOAD.enabled:
                OVERLOAD.write(self.overload_policy(), new_acc, new_drop, now.accepted, now.dropped,
                               now.queue_dropped, now.user_dropped)

    # -- housekeeping ------------------------------------------------------------------
    def _periodic(self, now: float) -> None:
        self._next_stats = now + _STATS_EVERY_S
        self.stats.closed = self.table.closed + self.table.expire(now)
        self._account_due.set()
        if QUEUE_STATS.enabled:
            QUEUE_STATS.write(*self.queue_snapshot())

    def queue_snapshot(self) -> tuple[int, ...]:
        """QueueStats fields: depths, pending, active, packets, latency p50/max, drops."""
        kc, kp = self.conn_q.stats().kernel, self.pkt_q.stats().kernel
        lat = sorted(self.latencies_us)
        self.latencies_us.clear()
        p50 = lat[len(lat) // 2] if lat else 0
        dropped = sum(k.queue_dropped + k.user_dropped for k in (kc, kp) if k)
        return (kc.queue_total if kc else 0, kp.queue_total if kp else 0,
                len(self.table.pending()), len(self.table), self.stats.packets, p50,
                lat[-1] if lat else 0, dropped)

    def _shutdown(self) -> None:
        """Block every pending connection, then drop queued packets until the rules are gone."""
        for conn in self.table.pending():
            self.decider.forget(conn.id)
            self._complete(conn, "block", STOP)
        deadline = time.monotonic() + 5.0
        quiet = 0
        while time.monotonic() < deadline and quiet < 3:
            got = 0
            if self.watchdog is not None:
                self.watchdog.beat()
            for q in (self.conn_q, self.pkt_q):
                batch = q.receive()
                if batch:
                    got += len(batch)
                    q.verdicts([(p, Verdict.DROP) for p in batch])
            self.stats.queued_dropped_at_stop += got
            quiet = quiet + 1 if not got and self._rules_gone.is_set() else 0
            if not got:
                self.conn_q.wait(0.02)
