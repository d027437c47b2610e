"""A dynamic monitoring session on this host: filters, a SYN queue, an NFLOG copy.

Only the first packet of each new TCP connection is held (the session's
filters, see ``_filters``), while its owner is looked up (sock_diag, /proc); a
connection of the monitored application gets a connection mark, and only
marked connections are copied, passively (NFLOG, both directions), into the
driver's packet pipeline. Other applications' connections cost one held
packet and are never copied. Nothing else ever waits for the monitor: the SYN
rule bypasses the queue when no monitor is bound (killed), the kernel accepts
when the queue is full, a stall watchdog process releases the SYNs a suspended
or stuck monitor holds (within 250 ms), and a copy that cannot be delivered is
counted as lost (``copies_lost``), never waited for. The watchdog releases with
the monitor's own verdict, REPEAT with ``SEEN``, so a released SYN walks every
later rule and table as usual; its connection is not attributed (counted in
``stall_released``, and traced as a MonitorState "stall-open" event with the
counts once the monitor runs again). The kernel's batch verdict sets the whole
packet mark, so a released SYN loses mark bits set before our rule. Closing the
session removes only its own rules; starting one sweeps the rules of dead sessions.

A process pays one held SYN, not one per connection: once its first SYN is
attributed to another program, the session writes that verdict into the kernel's
owner cache (:class:`OwnerCache`, before the SYN's verdict, while the process is
still in connect), and the process's later TCP sockets are created with ``SEEN``
in their mark, so their SYNs pass rule 2 at kernel speed; the bit leaves the
socket once it is established (``_filters`` says what remains after a stop). An
exec or exit removes the verdict in the kernel; the application's connections
are never cached, each is held and attributed. Without BPF (not root, an old
kernel, a refusing verifier) the cache is off, every SYN is held as before, and
one MonitorState "owner-cache" event (and :attr:`LiveSession.owner_cache_status`)
says why.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from providers.netfilter import (
    Attribution,
    Attributor,
    Flow,
    Hook,
    LoggedPacket,
    Mode,
    NetfilterError,
    NfLog,
    NfQueue,
    Outcome,
    QueueConfig,
    RuleSet,
    Tag,
    Verdict,
    Watchdog,
    sweep_stale,
)
from providers.netfilter import Packet as QueuedPacket
from providers.netfilter._sockowner import OwnerCache
from providers.netfilter._watchdog import BEAT_S
from providers.packets import LINKTYPE_RAW, Packet, ip_transport

from ._driver import MonitorDriver
from ._events import MONITOR_STATE
from ._filters import MARK_KNOWN, MARK_MON, MARK_SEEN, OWNER, render_filters
from ._identity import AppIdentity, AppMatcher

__all__ = ["OWNER", "LiveSession", "LiveStats"]

_OUTBOUND = (Hook.LOCAL_OUT, Hook.POST_ROUTING)
_MAX_FLOWS = 65536
#: The stall watchdog's tick: a suspended monitor's SYNs go within two ticks (40 ms;
#: the target is 250), and an idle monitor wakes half as often as with 10 ms ticks
#: (its wakeups are CPU everyone else pays for).
WATCH_TICK_MS = 20.0
#: (local address, local port, remote address, remote port) of a connection.
_Key = tuple[bytes, int, bytes, int]


@dataclass(slots=True)
class LiveStats:
    """What the session held, marked, copied and lost."""

    syns_held: int = 0
    flows_marked: int = 0
    #: Connections of other applications (one held packet each, never copied).
    flows_other: int = 0
    #: Connections whose owner could not be found (not monitored).
    flows_unattributed: int = 0
    copies: int = 0
    #: Copies that never arrived (sequence gaps; at close, the NFLOG rules' matches not
    #: received), and copies shorter than their packet.
    copies_lost: int = 0
    copies_truncated: int = 0
    errors: int = 0
    #: Stall episodes (the monitor suspended or stuck with SYNs held) and the SYNs the
    #: watchdog released in them (their connections are not attributed).
    stalls: int = 0
    stall_released: int = 0
    #: Sockets the kernel marked SEEN at creation (their owner's verdict was cached, so
    #: their SYNs were never held), read at close.
    sockets_premarked: int = 0


class LiveSession:
    """Monitor the TCP flows of one application until :meth:`close`."""

    def __init__(self, driver: MonitorDriver, app: str) -> None:
        self.driver = driver
        self.matcher = AppMatcher(app)
        self.queue_num = driver.registration.queue_num
        #: The NFLOG group of the copies (numbered like the queue; a separate space).
        self.group = driver.registration.queue_num
        self.attributor = Attributor(Mode.INLINE)
        self.stats = LiveStats()
        #: Rules of dead sessions removed at start.
        self.swept = 0
        self._owners: OrderedDict[_Key, AppIdentity] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._queue: NfQueue | None = None
        self._log: NfLog | None = None
        self._rules: RuleSet | None = None
        self._dog: Watchdog | None = None
        #: The in-kernel owner cache; None when BPF is unavailable (every SYN is held).
        self.owner_cache: OwnerCache | None = None
        #: What the owner cache does, or why it is off (one MonitorState event at start).
        self.owner_cache_status = "not started"
        driver.monitor.resolver = self._resolve

    @property
    def errors(self) -> int:
        """Packets the session could not handle (counted, never raised)."""
        return self.stats.errors

    @property
    def rules(self) -> RuleSet | None:
        """The installed filters (None before start and after close)."""
        return self._rules

    def start(self) -> None:
        """Bind the queue and the copy group, install the filters and start receiving."""
        try:
            self._queue = NfQueue(QueueConfig(queue_num=self.queue_num, fail_open=True,
                                              copy_range=128, gso=False))
            self._log = NfLog(self.group)
            self._dog = Watchdog([self._queue], Verdict.REPEAT, mark=MARK_SEEN,
                                 tick_ms=WATCH_TICK_MS)
            self._dog.start()
            self.swept = sweep_stale()
            tag = Tag.mine(OWNER)
            self._rules = RuleSet(OWNER, render_filters(tag, self.queue_num, self.group), tag)
            self._rules.install()
        except BaseException:
            self.close()
            raise
        self._open_owner_cache()
        for name, target in (("msnmon-syn", self._run_queue), ("msnmon-copy", self._run_log)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _open_owner_cache(self) -> None:
        """Decide known unmonitored processes' sockets in the kernel; never fails: without
        BPF every new connection's SYN is held, as before, and the state says why."""
        try:
            self.owner_cache = OwnerCache.open(MARK_KNOWN)
            self.owner_cache_status = self.owner_cache.describe()
        except OSError as exc:
            reason = str(exc).splitlines()[0]
            self.owner_cache_status = f"off ({reason}): every new connection's SYN is held"
        if MONITOR_STATE.enabled:
            MONITOR_STATE.write("owner-cache", self.owner_cache_status)

    # -- the held SYNs ------------------------------------------------------------------
    def _run_queue(self) -> None:
        q, dog = self._queue, self._dog
        assert q is not None and dog is not None
        while not self._stop.is_set():
            try:
                dog.beat()
                self._after_stall(dog)
                batch = [pkt for pkt in q.receive() if not q.is_settled(pkt.id)]
                if not batch:
                    self._idle(q, dog)
                    continue
                marks = {pkt.id: self._decide(pkt) for pkt in batch}
                q.verdicts([(pkt, Verdict.REPEAT) for pkt in batch], mark=marks)
            except OSError:  # counted; the queue accepts by itself when it fills up
                self.stats.errors += 1
                time.sleep(0.01)

    def _idle(self, q: NfQueue, dog: Watchdog) -> None:
        """Beat (and hear the watchdog) every :data:`BEAT_S` until a SYN is readable: no
        receive call for an empty queue (an idle monitor costs everyone CPU too)."""
        while not q.wait(BEAT_S) and not self._stop.is_set():
            dog.beat()
            self._after_stall(dog)

    def _after_stall(self, dog: Watchdog) -> None:
        """Count and trace what the watchdog released while the monitor was stuck."""
        report = dog.poll()
        if report is None or not (report.stalls or report.total):
            return
        st = self.stats
        st.stalls += report.stalls
        st.stall_released += report.total
        if MONITOR_STATE.enabled:
            MONITOR_STATE.write("stall-open", (
                f"{report.total} SYNs released unattributed in {report.stalls} stalls "
                f"({report.stall_ms:.0f} ms); {st.stall_released} in {st.stalls} since start"))

    def _decide(self, qp: QueuedPacket) -> int:
        """The mark for a held SYN: its own plus SEEN, plus MON for the application's."""
        stats = self.stats
        stats.syns_held += 1
        mark = (qp.mark & ~MARK_MON) | MARK_SEEN
        try:
            pkt = ip_transport(qp.payload)
            if pkt is None:
                stats.flows_unattributed += 1
                return mark
            outbound = qp.hook in _OUTBOUND
            family = socket.AF_INET if pkt.version == 4 else socket.AF_INET6
            flow = Flow(family, pkt.proto, pkt.src_str, pkt.sport, pkt.dst_str, pkt.dport)
            found = self.attributor.attribute(flow, outbound=outbound)
            if found.outcome is not Outcome.ATTRIBUTED:
                stats.flows_unattributed += 1
                return mark
            if not self.matcher.matches(found.exe):
                stats.flows_other += 1
                self._cache_other(found)
                return mark
            assert found.process is not None
            key = ((pkt.src, pkt.sport, pkt.dst, pkt.dport) if outbound
                   else (pkt.dst, pkt.dport, pkt.src, pkt.sport))
            self._remember(key, AppIdentity(found.exe or "", found.process.pid, True))
            stats.flows_marked += 1
            return mark | MARK_MON
        except Exception:
            stats.errors += 1
            return mark

    def _cache_other(self, found: Attribution) -> None:
        """Let the kernel mark the owner's later sockets SEEN (before this SYN's verdict:
        the process is still in connect, so its next socket finds the entry)."""
        cache = self.owner_cache
        if cache is None or found.process is None:
            return
        try:
            cache.remember(found.process, MARK_KNOWN)
        except OSError:  # counted; the process's next SYN is simply held again
            self.stats.errors += 1

    def _remember(self, key: _Key, identity: AppIdentity) -> None:
        with self._lock:
            self._owners[key] = identity
            self._owners.move_to_end(key)
            while len(self._owners) > _MAX_FLOWS:
                self._owners.popitem(last=False)

    # -- the passive copies -------------------------------------------------------------
    def _run_log(self) -> None:
        log = self._log
        assert log is not None
        while not self._stop.is_set():
            try:
                copies = log.receive()
            except OSError:  # counted; copies are never waited for
                self.stats.errors += 1
                time.sleep(0.01)
                continue
            if not copies:
                log.wait(0.1)
                continue
            for copy in copies:
                self._feed(copy)
            self.stats.copies_lost = log.stats.lost
            self.stats.copies_truncated = log.stats.truncated

    def _feed(self, copy: LoggedPacket) -> None:
        """One copied packet into the pipeline, its direction told by the flow's owner."""
        self.stats.copies += 1
        try:
            pipeline = self.driver.pipeline
            pkt = pipeline.decoder.decode(LINKTYPE_RAW, copy.payload, copy.wire_len,
                                          time.time_ns())
            if pkt is None:
                return
            outbound = self._outbound(pkt)
            if outbound is None:
                outbound = copy.hook in _OUTBOUND
            pipeline.packet(pkt, outbound)
        except Exception:
            self.stats.errors += 1

    def _outbound(self, pkt: Packet) -> bool | None:
        """True when the packet's source is the owner's end of the flow (None: unknown)."""
        key = (pkt.src, pkt.sport, pkt.dst, pkt.dport)
        with self._lock:
            if key in self._owners:
                return True
            if (pkt.dst, pkt.dport, pkt.src, pkt.sport) in self._owners:
                return False
        return None

    def _resolve(self, pkt: Packet, outbound: bool | None) -> AppIdentity | None:
        """The owner found while the flow's SYN was held; None for anything else."""
        key = ((pkt.src, pkt.sport, pkt.dst, pkt.dport) if outbound
               else (pkt.dst, pkt.dport, pkt.src, pkt.sport))
        with self._lock:
            return self._owners.get(key)

    def close(self) -> None:
        """Stop receiving, remove this session's filters only, unbind queue and group."""
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self._threads = []
        if self._dog is not None:
            self._dog.close()
            self._dog = None
        self._close_owner_cache()
        try:
            if self._rules is not None:
                self._count_lost(self._rules)
                self._rules.close()
        finally:
            self._rules = None
            if self._queue is not None:
                self._queue.close()
                self._queue = None
            if self._log is not None:
                self._log.close()
                self._log = None
            self.attributor.close()
            self.driver.pipeline.end_flows()
            self.driver.monitor.close()
            self._trace_counts()

    def _close_owner_cache(self) -> None:
        cache, self.owner_cache = self.owner_cache, None
        if cache is None:
            return
        try:
            self.stats.sockets_premarked = cache.premarked
        except OSError:
            self.stats.errors += 1
        cache.close()

    def _trace_counts(self) -> None:
        """What the session held, marked, copied and lost, as one MonitorState event."""
        if MONITOR_STATE.enabled:
            st = self.stats
            MONITOR_STATE.write("session ended", (
                f"{st.syns_held} SYNs held, {st.flows_marked} flows marked, {st.flows_other} "
                f"of other applications, {st.flows_unattributed} unattributed; {st.copies} "
                f"packet copies, {st.copies_lost} lost, {st.copies_truncated} truncated; "
                f"{st.stall_released} SYNs released in {st.stalls} stalls; {st.sockets_premarked} "
                f"sockets marked at creation by the owner cache; {st.errors} errors"))

    def _count_lost(self, rules: RuleSet) -> None:
        """Take the last copies, then count as lost every packet our NFLOG rules matched
        that never arrived (the rule counters see copies the kernel could not even
        build, which sequence numbers miss)."""
        log = self._log
        if log is None:
            return
        while copies := log.receive():
            for copy in copies:
                self._feed(copy)
        try:
            matched = rules.counters("NFLOG")
        except NetfilterError:
            matched = 0
        self.stats.copies_truncated = log.stats.truncated
        self.stats.copies_lost = max(log.stats.lost, matched - log.stats.packets)

    def __enter__(self) -> LiveSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
