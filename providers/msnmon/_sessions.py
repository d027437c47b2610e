"""Monitoring sessions of this network namespace, found by their tagged filters.

A running session is a live owner of ``msnmon`` rules here (the tag names its
pid and start time, so a recycled pid is not mistaken for it). The control
program uses this to name the running session instead of failing obscurely, to
refuse to act on a suspended one, and to wait for sessions that stop because
their callouts were removed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from providers.netfilter import Tag, list_tagged

from ._filters import OWNER

__all__ = ["Session", "describe", "live_sessions", "wait_gone"]


@dataclass(frozen=True, slots=True)
class Session:
    """A running monitoring session: its process and whether it is suspended."""

    tag: Tag

    @property
    def pid(self) -> int:
        return self.tag.pid

    @property
    def suspended(self) -> bool:
        """True while the process is stopped (SIGSTOP, Ctrl-Z) or traced."""
        return _state(self.pid) in ("T", "t")

    @property
    def command(self) -> str:
        """The process's command line (for messages), or ``?``."""
        try:
            with open(f"/proc/{self.pid}/cmdline", "rb") as f:
                raw = f.read(512)
        except OSError:
            return "?"
        return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace") or "?"


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return ""
    return stat.rsplit(b")", 1)[1].split()[0].decode()


def live_sessions() -> list[Session]:
    """Running monitoring sessions with filters in this namespace (one per process)."""
    seen: dict[int, Session] = {}
    for tag in list_tagged():
        if tag.owner == OWNER and tag.alive and tag.pid not in seen:
            seen[tag.pid] = Session(tag)
    return list(seen.values())


def describe(session: Session) -> str:
    """``pid N (command)`` for messages."""
    return f"pid {session.pid} ({session.command})"


def wait_gone(sessions: list[Session], timeout: float) -> list[Session]:
    """Wait until none of ``sessions`` has filters here any more; the ones left."""
    deadline = time.monotonic() + timeout
    left = sessions
    while left:
        running = {s.pid for s in live_sessions()}
        left = [s for s in left if s.pid in running]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    return left
