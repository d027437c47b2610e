"""A dynamic monitoring session on this host: filters, an NFQUEUE and attribution.

The session's filters are tagged queue rules (owner ``msnmon``) that copy every
TCP packet of this network namespace to the registered queue; the queue is
bound fail-open and every packet is accepted at once (the monitor never
blocks). A new flow's owner is looked up (sock_diag, /proc) while its first
packet is held in the queue; only flows whose executable is the monitored
application get a context. Closing the session removes only its own rules.
"""

from __future__ import annotations

import socket
import threading
import time

from providers.netfilter import (
    Attributor,
    Flow,
    Hook,
    Mode,
    NfQueue,
    Outcome,
    QueueConfig,
    QueueRule,
    QueueRules,
    Verdict,
)
from providers.netfilter import Packet as QueuedPacket
from providers.packets import LINKTYPE_RAW, Packet

from ._driver import MonitorDriver
from ._identity import AppIdentity, AppMatcher
from ._monitor import PENDING

__all__ = ["OWNER", "LiveSession"]

OWNER = "msnmon"
_OUTBOUND = (Hook.LOCAL_OUT, Hook.POST_ROUTING)
_LOOPBACK_INDEX = 1
_RETRY = frozenset({"no-socket"})


class LiveSession:
    """Monitor the TCP flows of one application until :meth:`close`."""

    def __init__(self, driver: MonitorDriver, app: str) -> None:
        self.driver = driver
        self.matcher = AppMatcher(app)
        self.queue_num = driver.registration.queue_num
        self.attributor = Attributor(Mode.INLINE)
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._queue: NfQueue | None = None
        self._rules: QueueRules | None = None
        driver.monitor.resolver = self._resolve

    @property
    def rules(self) -> QueueRules | None:
        """The installed filters (None before start and after close)."""
        return self._rules

    def start(self) -> None:
        """Bind the queue, install the filters and start receiving."""
        try:
            self._queue = NfQueue(QueueConfig(queue_num=self.queue_num, fail_open=True))
            rules = [QueueRule(queue_num=self.queue_num, chain=chain, protocol="tcp")
                     for chain in ("OUTPUT", "INPUT")]
            self._rules = QueueRules(OWNER, rules)
            self._rules.install()
        except BaseException:
            self.close()
            raise
        self._thread = threading.Thread(target=self._run, name="msnmon-queue", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._queue is not None
        self._queue.run(self._handle, self._stop, default=Verdict.ACCEPT)

    def _handle(self, qp: QueuedPacket) -> Verdict:
        """Observe one packet; the verdict is always ACCEPT."""
        try:
            if qp.hook == Hook.LOCAL_IN and qp.indev == _LOOPBACK_INDEX:
                return Verdict.ACCEPT  # seen already on its way out of this host
            pipeline = self.driver.pipeline
            pkt = pipeline.decoder.decode(LINKTYPE_RAW, bytes(qp.payload), 0, time.time_ns())
            if pkt is not None:
                pipeline.packet(pkt, qp.hook in _OUTBOUND)
        except Exception:
            self.errors += 1
        return Verdict.ACCEPT

    def _resolve(self, pkt: Packet, outbound: bool | None) -> AppIdentity | None:
        """Attribute the flow while its packet is held; None unless it is the application's."""
        family = socket.AF_INET if pkt.version == 4 else socket.AF_INET6
        flow = Flow(family, pkt.proto, pkt.src_str, pkt.sport, pkt.dst_str, pkt.dport)
        found = self.attributor.attribute(flow, outbound=bool(outbound))
        if found.outcome is not Outcome.ATTRIBUTED:
            return PENDING if found.reason in _RETRY else None
        if not self.matcher.matches(found.exe):
            return None
        assert found.process is not None
        return AppIdentity(found.exe or "", found.process.pid, True)

    def close(self) -> None:
        """Stop receiving, unbind the queue and remove this session's filters only."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        try:
            if self._rules is not None:
                self._rules.close()
        finally:
            self._rules = None
            if self._queue is not None:
                self._queue.close()
                self._queue = None
            self.attributor.close()
            self.driver.pipeline.end_flows()
            self.driver.monitor.close()

    def __enter__(self) -> LiveSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
