"""An inspector's lifetime: bind queues, install rules, run the worker, tear down.

Start order: the configuration is already valid; queues are bound first (so a
packet never meets a rule without a listener), then stale rules are swept and
ours installed. Stop order (``net stop inspect``): the worker stops deciding,
the rules go (new traffic passes), every pending connection is blocked and
every queued packet dropped, then the queues are unbound. Fail-open after a
SIGKILL comes from ``--queue-bypass``; with ``fail_closed`` the rules do not
bypass, so the orphaned queue drops until a clean stop or a sweep removes them.

Stall-open: a watchdog process (:class:`providers.netfilter.Watchdog`) watches
the worker's heartbeat; while the inspector is alive but stuck (SIGSTOP,
Ctrl-Z, a deadlock) it applies the crash policy (accept, or drop with
``fail_closed``) to everything the queues hold, within 250 ms, and exits with
the inspector. It is stopped before the queues are unbound.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from providers.netfilter import Attributor, NfQueue, QueueConfig, Verdict, Watchdog
from tracer import ControlCode, EnableState

from ._blockswitch import BlockSwitch
from ._config import InspectConfig
from ._control import ControlServer
from ._deciders import Decider, ExternalDecider, StaticDecider, request_field
from ._events import CONFIG_LOADED, PROVIDER, RULES_SWEPT, STARTED, STOPPED
from ._overload import OverloadAccount
from ._rules import InspectRules
from ._stats import InspectStats
from ._worker import Worker

__all__ = ["Inspector"]


class Inspector:
    """One running inspection of ``config``; use :meth:`start` and :meth:`stop`."""

    def __init__(self, config: InspectConfig, control_path: str | Path | None = None,
                 attribute: bool = True) -> None:
        self.config = config
        self.control_path = control_path
        self.stats = InspectStats()
        self.switch = BlockSwitch(config)
        self.decider: Decider
        if config.decider == "external":
            self.decider = ExternalDecider(config.decider_timeout)
        else:
            self.decider = StaticDecider(self.switch)
        self._attribute = attribute
        self._queues: list[NfQueue] = []
        self.rules: InspectRules | None = None
        self.worker: Worker | None = None
        self._thread: threading.Thread | None = None
        self._control: ControlServer | None = None
        self.watchdog: Watchdog | None = None
        self._stopped = False

    def start(self) -> None:
        """Bind, install, start the worker; on failure nothing stays installed."""
        cfg = self.config
        try:
            # Headers are all the worker reads: copy 256 bytes, take GSO super-packets.
            # fail_open here is only what a *full* queue does (overload); a missing
            # listener is the rules' --queue-bypass (fail_closed).
            accept = cfg.overload_accepts(self.switch.value)
            for num in (cfg.queue, cfg.queue + 1):  # one by one: a failure closes the first
                self._queues.append(NfQueue(QueueConfig(
                    queue_num=num, fail_open=accept, gso=True, max_len=cfg.queue_length,
                    copy_range=256)))
            conn_q, pkt_q = self._queues
            attributor = Attributor() if self._attribute else None
            self.rules = InspectRules(cfg)
            account = OverloadAccount(self._queues, self.rules.queue_hits)
            self.watchdog = Watchdog(self._queues, Verdict.DROP if cfg.fail_closed
                                     else Verdict.ACCEPT)
            self.worker = Worker(cfg, conn_q, pkt_q, self.decider, self.switch, self.stats,
                                 attributor, account, self.watchdog)
            if isinstance(self.decider, ExternalDecider):
                self.decider.complete = self.worker.complete
            self.watchdog.start()  # armed by the worker's first beat
            self.rules.install()
        except BaseException:
            self._close_queues()
            raise
        self._trace_start()
        PROVIDER.add_enable_callback(self._on_enable)
        PROVIDER.on_control(self.handle)
        self._thread = threading.Thread(target=self.worker.run, name="inspect-worker",
                                        daemon=True)
        self._thread.start()
        if self.control_path is not None:
            self._control = ControlServer(self.control_path, self.handle, self._caller_gone)

    @property
    def running(self) -> bool:
        """True while the worker thread serves the queues."""
        return self._thread is not None and self._thread.is_alive() and not self._stopped

    def _trace_start(self) -> None:
        cfg, rules = self.config, self.rules
        assert rules is not None
        if rules.swept and RULES_SWEPT.enabled:
            RULES_SWEPT.write(rules.swept)
        if CONFIG_LOADED.enabled:
            CONFIG_LOADED.write(str(cfg.path or ""), str(cfg.remote), self.switch.value,
                                cfg.decider)
        if STARTED.enabled:
            STARTED.write(str(cfg.remote), cfg.decider, cfg.fail_closed, rules.backend.value,
                          cfg.queue)

    def _on_enable(self, state: EnableState) -> None:
        if state.control is ControlCode.CAPTURE_STATE and self.worker is not None:
            self.worker.request_rundown()

    def stop(self, reason: str = "stop") -> None:
        """Tear down in the sample's order; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        worker = self.worker
        if worker is not None:
            if self.running:
                worker.account_overload(force=True)  # while the rules still count
            worker.request_stop()
        try:
            if self.rules is not None:
                self.rules.remove()
        finally:
            if worker is not None:
                worker.rules_removed()
            if self._thread is not None:
                self._thread.join(10)
            if self._control is not None:
                self._control.close()
            self._close_queues()
            PROVIDER.on_control(None)
        if STOPPED.enabled:
            STOPPED.write(reason, self.stats.dropped_at_stop,
                          self.stats.queued_dropped_at_stop, self.stats.connections)

    def _kernel_counters(self) -> dict[str, dict[str, int]]:
        """The kernel's counters of each queue (nfnetlink_queue), by queue number."""
        out = {}
        for q in self._queues:
            k = q.stats().kernel
            if k is not None:
                out[str(k.queue_num)] = {"queue_total": k.queue_total,
                                         "queue_dropped": k.queue_dropped,
                                         "user_dropped": k.user_dropped,
                                         "id_sequence": k.id_sequence}
        return out

    def _close_queues(self) -> None:
        if self.watchdog is not None:  # its copy of the sockets must not keep them bound
            self.watchdog.close()
        for q in self._queues:
            q.close(pending=Verdict.DROP)
        self._queues = []

    # -- control requests (socket and hub) ---------------------------------------------
    def handle(self, request: dict[str, Any], owner: object | None = None) -> dict[str, Any]:
        """Answer one control request (see :mod:`._control`); ``owner``: the caller's
        control connection (None through the hub). Malformed fields are refused."""
        op = request.get("op")
        if op == "status":
            return self.status()
        if op == "recent":
            return {"recent": self.worker.recent() if self.worker is not None else []}
        if op == "rundown":
            if self.worker is not None:
                self.worker.request_rundown()
            return {}
        if op == "set":
            block = request_field(request, "block_traffic", bool)
            previous = self.switch.set(block, str(request.get("source", "set")))
            self._poke()
            return {"block_traffic": block, "previous": previous}
        if op == "reload":
            return {"message": self.reload("reload")}
        decider = self.decider
        if op not in ("pending", "wait_pending", "decide", "hold"):
            raise ValueError(f"unknown op {op!r}")
        if not isinstance(decider, ExternalDecider):
            raise ValueError(f"{op!r} needs the external decider (this one is static)")
        return decider.request(request, owner)

    def reload(self, source: str = "sighup") -> str:
        """Read the configuration file again (SIGHUP); InspectConfigError when refused."""
        message = self.switch.reload(source)
        self._poke()
        return message

    def _poke(self) -> None:
        if self.worker is not None:
            self.worker.poke()

    def _caller_gone(self, owner: object) -> None:
        """A control connection closed: the holds it made end (default verdict, traced)."""
        if (isinstance(self.decider, ExternalDecider) and self.decider.release(owner)
                and self.worker is not None):
            self.worker.poke()

    def status(self) -> dict[str, Any]:
        """Configuration, current block_traffic, counters and table sizes."""
        worker = self.worker
        if worker is not None and self.running:
            worker.account_overload(force=True)
        block = self.switch.current()
        return {"config": self.switch.config.summary(), "block_traffic": block,
                "overload": worker.overload_policy() if worker else None,
                "kernel": self._kernel_counters(),
                "stats": self.stats.as_dict(),
                "watchdog": self.watchdog is not None and self.watchdog.alive,
                "connections": len(worker.table) if worker else 0,
                "pending": len(worker.table.pending()) if worker else 0,
                "backend": self.rules.backend.value if self.rules else None}
