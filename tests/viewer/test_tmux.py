"""The real traceview program in a terminal (tmux): create a session with keys, see events."""

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def _wait_screen(name: str, needle: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", name)
        if needle in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared; screen was:\n{screen}")


def test_create_session_with_keys_and_see_events():
    """traceview --demo: c, Enter, space, ctrl+n, ctrl+n, ctrl+s starts a session; events show."""
    name = f"tv-{uuid.uuid4().hex[:8]}"
    cmd = f"cd {ROOT} && {sys.executable} -m viewer --demo --rate 200"
    _tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "24", cmd)
    try:
        _wait_screen(name, "Press c to create a log session")
        steps = [("c", "1. Session name"), ("Enter", "2. Providers"),
                 ("Space", None), ("C-n", "3. Level and keywords"),
                 ("C-n", "4. Log session options"), ("C-s", "FOLLOW")]
        for key, needle in steps:
            _tmux("send-keys", "-t", name, key)
            if needle:
                _wait_screen(name, needle)
            else:
                time.sleep(0.5)
        screen = _wait_screen(name, "demo.inspect ")
        assert "ConnectPended" in screen or "PacketInspected" in screen or "Verdict" in screen
        _tmux("send-keys", "-t", name, "q")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
