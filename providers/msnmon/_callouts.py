"""Persistent callout registration: a state file that outlives the process (and reboots).

``wfptrace monitor addcallouts`` writes it, ``delcallouts`` removes it, and the
monitor provider re-installs what it names whenever it starts (the original
registered its two callouts persistently with the filter engine). The file
lives in ``/var/lib/wfptrace/`` for root, else ``$XDG_STATE_HOME/wfptrace/``
(default ``~/.local/state/wfptrace/``); ``WFPTRACE_STATE_DIR`` overrides both.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["CALLOUT_NAMES", "DEFAULT_QUEUE", "CalloutRegistry", "Registration",
           "default_state_dir"]

CALLOUT_NAMES = ("flow_established", "stream")
DEFAULT_QUEUE = 1863
_FILE = "msnmon-callouts.json"


def default_state_dir() -> Path:
    """Where persistent registrations live for the current user."""
    override = os.environ.get("WFPTRACE_STATE_DIR")
    if override:
        return Path(override)
    if os.geteuid() == 0:
        return Path("/var/lib/wfptrace")
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "wfptrace"


@dataclass(frozen=True)
class Registration:
    """The registered callouts and the queue their filters feed."""

    callouts: tuple[str, ...]
    queue_num: int
    added_ns: int

    def to_json(self) -> dict:
        return {"version": 1, **asdict(self), "callouts": list(self.callouts)}


class CalloutRegistry:
    """Add, remove and load the persistent registration of one state directory."""

    def __init__(self, state_dir: Path | None = None) -> None:
        self.path = (state_dir or default_state_dir()) / _FILE

    def add(self, queue_num: int = DEFAULT_QUEUE) -> tuple[Registration, bool]:
        """Register the callouts (idempotent); returns the registration and if it is new."""
        current = self.load()
        if current is not None and current.queue_num == queue_num:
            return current, False
        reg = Registration(CALLOUT_NAMES, queue_num, time.time_ns())
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(reg.to_json(), indent=1) + "\n")
        os.replace(tmp, self.path)
        return reg, True

    def delete(self) -> bool:
        """Remove the registration; False if there was none."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

    def load(self) -> Registration | None:
        """The registration, or None when absent or unreadable."""
        try:
            data = json.loads(self.path.read_text())
            callouts = tuple(data["callouts"])
            queue = int(data["queue_num"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        if set(callouts) != set(CALLOUT_NAMES) or not 0 <= queue <= 0xFFFF:
            return None
        return Registration(callouts, queue, int(data.get("added_ns", 0)))
