"""The monitor provider started: the analog of loading the original driver.

Starting it re-installs the persistently registered callouts (the state file),
puts the control handler on the provider and creates the engine with
monitoring disabled, until an enable request arrives, as the one consumer of a
packet pipeline (flows and reassembly) that a live session feeds.
"""

from __future__ import annotations

from providers.packets import Pipeline
from tracer import Redactor, TracerError

from ._callouts import CalloutRegistry, Registration
from ._control import MonitorControl
from ._events import MONITOR_STATE, PROVIDER
from ._monitor import MsnMonitor

__all__ = ["MonitorDriver", "NotRegisteredError"]


class NotRegisteredError(TracerError):
    """The callouts are not registered (``wfptrace monitor addcallouts`` was not run)."""


class MonitorDriver:
    """One running monitor provider: registration, control handler and engine."""

    def __init__(self, registry: CalloutRegistry | None = None, *,
                 redactor: Redactor | None = None) -> None:
        self.registry = registry or CalloutRegistry()
        reg = self.registry.load()
        if reg is None:
            raise NotRegisteredError(
                f"the monitor's callouts are not registered ({self.registry.path} is absent): "
                "run 'wfptrace monitor addcallouts' first")
        self.registration: Registration = reg
        self.monitor = MsnMonitor(enabled=False, sided=True, redactor=redactor)
        #: The pipeline a live session feeds (packet directions told by the hooks).
        self.pipeline = Pipeline([self.monitor])
        self.control = MonitorControl(self.monitor)
        PROVIDER.on_control(self.control.handle)
        if MONITOR_STATE.enabled:
            MONITOR_STATE.write("started", f"callouts {', '.join(reg.callouts)} re-installed "
                                f"from {self.registry.path} (queue {reg.queue_num})")

    @property
    def callouts(self) -> tuple[str, ...]:
        """The callouts installed at start."""
        return self.registration.callouts

    def close(self) -> None:
        """Disable monitoring, end every flow context and drop the control handler."""
        self.monitor.enabled = False
        self.pipeline.end_flows()
        self.monitor.close()
        PROVIDER.on_control(None)
        if MONITOR_STATE.enabled:
            MONITOR_STATE.write("shutdown", "monitoring disabled, flow contexts removed")

    def __enter__(self) -> MonitorDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
