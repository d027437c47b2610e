"""The monitor's control requests, the IOCTL analog of the original driver.

Two requests exist, sent through ``Hub.control("wfptrace-msnmon", request)``:

- ``{"op": "enable", "mode": "monitor_traffic", "flags": N}`` (ENABLE_MONITOR
  with its 8-byte settings): every key is required and typed; ``flags`` is a
  32-bit integer whose bit 0 turns on ``capture_bodies`` and bit 1 ``capture_secrets``;
  unknown bits are refused.
- ``{"op": "disable"}`` (DISABLE_MONITOR).

Anything else is refused with :class:`tracer.ControlError` (invalid parameter).
"""

from __future__ import annotations

from typing import Any

from tracer import ControlError

from ._events import MONITOR_STATE
from ._monitor import MsnMonitor

__all__ = ["FLAG_CAPTURE_BODIES", "FLAG_CAPTURE_SECRETS", "KNOWN_FLAGS", "MODE_MONITOR_TRAFFIC",
           "MonitorControl", "disable_request", "enable_request"]

MODE_MONITOR_TRAFFIC = "monitor_traffic"
FLAG_CAPTURE_BODIES = 0x1
FLAG_CAPTURE_SECRETS = 0x2
KNOWN_FLAGS = FLAG_CAPTURE_BODIES | FLAG_CAPTURE_SECRETS


def enable_request(flags: int = 0) -> dict[str, Any]:
    """The ENABLE_MONITOR request."""
    return {"op": "enable", "mode": MODE_MONITOR_TRAFFIC, "flags": flags}


def disable_request() -> dict[str, Any]:
    """The DISABLE_MONITOR request."""
    return {"op": "disable"}


class MonitorControl:
    """Validates control requests and applies them to one monitor engine."""

    def __init__(self, monitor: MsnMonitor) -> None:
        self.monitor = monitor
        self.requests = 0
        self.refused = 0

    def handle(self, request: dict[str, Any]) -> dict[str, Any]:
        """Apply one request; raise ControlError for anything malformed or unknown."""
        self.requests += 1
        try:
            op = request.get("op")
            if op == "enable":
                return self._enable(request)
            if op == "disable":
                _exact_keys(request, {"op"})
                return self._set(False, self.monitor.capture_bodies,
                                 self.monitor.capture_secrets, "disabled by request")
            raise ControlError(f"invalid parameter: unknown operation {op!r} "
                               "(expected 'enable' or 'disable')")
        except ControlError:
            self.refused += 1
            raise

    def _enable(self, request: dict[str, Any]) -> dict[str, Any]:
        _exact_keys(request, {"op", "mode", "flags"})
        mode, flags = request["mode"], request["flags"]
        if mode != MODE_MONITOR_TRAFFIC:
            raise ControlError(f"invalid parameter: mode must be {MODE_MONITOR_TRAFFIC!r}, "
                               f"not {mode!r}")
        if type(flags) is not int or not 0 <= flags < 1 << 32:
            raise ControlError(f"invalid parameter: flags must be a 32-bit unsigned integer, "
                               f"not {flags!r}")
        if flags & ~KNOWN_FLAGS:
            raise ControlError(f"invalid parameter: unknown flag bits {flags & ~KNOWN_FLAGS:#x}")
        return self._set(True, bool(flags & FLAG_CAPTURE_BODIES),
                         bool(flags & FLAG_CAPTURE_SECRETS), f"flags {flags:#x}")

    def _set(self, enabled: bool, bodies: bool, secrets: bool, detail: str) -> dict[str, Any]:
        monitor = self.monitor
        monitor.enabled = enabled
        monitor.capture_bodies = bodies
        monitor.capture_secrets = secrets
        if MONITOR_STATE.enabled:
            shown = "SECRETS CAPTURED" if secrets else "secrets redacted"
            MONITOR_STATE.write("enabled" if enabled else "disabled",
                                f"{detail}; {shown} (key {monitor.redactor.key_id})")
        return {"monitoring": enabled, "capture_bodies": bodies, "capture_secrets": secrets}


def _exact_keys(request: dict[str, Any], keys: set[str]) -> None:
    missing, extra = keys - request.keys(), request.keys() - keys
    if missing:
        raise ControlError(f"invalid parameter: missing {', '.join(sorted(missing))} "
                           f"(short settings are rejected)")
    if extra:
        raise ControlError(f"invalid parameter: unexpected {', '.join(sorted(map(str, extra)))}")
