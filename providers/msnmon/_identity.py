"""Who owns a flow: the application identity the monitor filters on."""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["UNKNOWN_APP", "AppIdentity", "AppMatcher"]


@dataclass(frozen=True, slots=True)
class AppIdentity:
    """The executable behind a flow; ``attributed`` is False for a mere hint (replay)."""

    path: str
    pid: int = 0
    attributed: bool = False


UNKNOWN_APP = AppIdentity("unknown")


class AppMatcher:
    """Does an executable path designate the monitored application?

    ``app`` is an executable path (compared after resolving symlinks) or a bare
    name (compared with the executable's file name), like the original's
    "application == <app id>" filter condition.
    """

    def __init__(self, app: str) -> None:
        self.app = app
        self.by_path = os.sep in app
        self._target = os.path.realpath(app) if self.by_path else app
        #: exe -> answer (a live session asks once per new connection; bounded).
        self._known: dict[str, bool] = {}

    def matches(self, exe: str | None) -> bool:
        """True when ``exe`` (a real executable path) is the monitored application."""
        if not exe:
            return False
        known = self._known.get(exe)
        if known is None:
            known = self._match(exe.removesuffix(" (deleted)"))
            if len(self._known) >= 4096:
                self._known.clear()
            self._known[exe] = known
        return known

    def _match(self, exe: str) -> bool:
        if self.by_path:
            return exe == self._target or os.path.realpath(exe) == self._target
        return os.path.basename(exe) == self._target
