"""A real terminal for tests: one command in a pane of a private tmux server.

Each :class:`Terminal` runs its own tmux server (``tmux -L NAME``), so other tmux
users' servers, and other tests, coming and going never disturb it; ``close`` kills
the server with everything in it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from types import TracebackType

import pytest

__all__ = ["Terminal"]


class Terminal:
    """``command`` (a shell line) in a ``width`` x ``height`` pane; skips without tmux."""

    def __init__(self, command: str, width: int = 80, height: int = 24,
                 name: str = "wfptrace-tests") -> None:
        if shutil.which("tmux") is None:
            pytest.skip("tmux is not installed")
        self.base = ["tmux", "-L", f"{name}-{uuid.uuid4().hex[:8]}"]
        self._tmux("new-session", "-d", "-x", str(width), "-y", str(height), command)

    def _tmux(self, *args: str) -> str:
        for _ in range(20):  # a server whose last session just closed may still be exiting
            r = subprocess.run([*self.base, *args], capture_output=True, text=True)
            if r.returncode == 0 or "server exited unexpectedly" not in r.stderr:
                break
            time.sleep(0.05)
        assert r.returncode == 0, r.stderr
        return r.stdout

    @property
    def pid(self) -> int:
        """The pid of the pane's process (the command's shell, or the command after exec)."""
        return int(self._tmux("display", "-p", "#{pane_pid}"))

    def screen(self, history: int = 0) -> str:
        """What the pane shows (plus ``history`` lines scrolled off, wrapped lines joined)."""
        extra = ["-J", "-S", f"-{history}"] if history else []
        return self._tmux("capture-pane", "-p", *extra)

    def wait_for(self, *texts: str, timeout: float = 20.0, history: int = 0) -> str:
        """The screen once every one of ``texts`` is on it; fails with the screen shown."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen(history)
            if all(t in screen for t in texts):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{texts!r} never appeared; screen was:\n{screen}")

    def wait_gone(self, *texts: str, timeout: float = 20.0) -> str:
        """The screen once none of ``texts`` is on it (a key's effect took place)."""
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if not any(t in screen for t in texts):
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{texts!r} never went away; screen was:\n{screen}")

    def keys(self, *keys: str, literal: bool = False) -> None:
        """Send keys (tmux names such as ``Enter``, ``C-n``; or text with ``literal``)."""
        self._tmux("send-keys", *(["-l"] if literal else []), *keys)

    def close(self) -> None:
        """Kill the server and everything running in it."""
        subprocess.run([*self.base, "kill-server"], capture_output=True)

    def __enter__(self) -> Terminal:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
