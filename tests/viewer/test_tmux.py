"""The real traceview program in a terminal (tmux): live demo events, a session made with keys."""

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


def test_demo_is_live_at_once_and_the_wizard_is_one_key_away():
    """traceview --demo shows events at once; c Enter space ^n ^n ^s starts another session."""
    name = f"tv-{uuid.uuid4().hex[:8]}"
    cmd = f"cd {ROOT} && {sys.executable} -m viewer --demo --rate 200"
    _tmux("new-session", "-d", "-s", name, "-x", "80", "-y", "24", cmd)
    try:
        screen = _wait_screen(name, "wfptrace-")
        assert "FOLLOW" in screen and "c New session" in screen
        steps = [("c", "1. Session name"), ("Enter", "2. Providers"),
                 ("Space", None), ("C-n", "3. Level and keywords"),
                 ("C-n", "4. Log session options"), ("C-s", "session traceview-1 started")]
        for key, needle in steps:
            _tmux("send-keys", "-t", name, key)
            if needle:
                _wait_screen(name, needle)
            else:
                time.sleep(0.5)
        _tmux("send-keys", "-t", name, "q")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)


def test_hostile_log_does_not_reach_the_terminal(tmp_path):
    """traceview FILE whose events hold a clear-screen sequence, CR LF and a bidi override:
    every row stays on its line and the data shows as escapes."""
    from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig

    provider = Provider("evil-peer")
    msg = provider.event(1, "Message", Level.INFO, (), {"text": str}, "text: {text}")
    log = tmp_path / "hostile.jsonl"
    with Hub(load_installed=False) as hub:
        hub.register(provider)
        hub.start_session(SessionConfig("h", [ProviderEnable("evil-peer")], file=log))
        msg.write("before")
        msg.write("\x1b[2J\x1b[Hgone\r\nMSG 1 N 5\r\n\u202eabc")
        msg.write("after")
        hub.stop_session("h")
    name = f"tv-{uuid.uuid4().hex[:8]}"
    # (pytest's environment says COLUMNS=80, which would override the pane's 140)
    cmd = f"cd {ROOT} && env -u COLUMNS -u LINES {sys.executable} -m viewer --no-follow {log}"
    _tmux("new-session", "-d", "-s", name, "-x", "140", "-y", "24", cmd)
    try:
        shown = "text: \\x1b[2J\\x1b[Hgone\\r\\nMSG 1 N 5\\r\\n\\u202eabc"
        screen = _wait_screen(name, shown)
        lines = screen.splitlines()
        rows = [i for i, line in enumerate(lines) if "evil-peer" in line]
        assert len(rows) == 3 and rows == list(range(rows[0], rows[0] + 3))
        assert "Seq     Time" in lines[rows[0] - 1]  # the header was not cleared
        assert "text: before" in lines[rows[0]]
        assert shown in lines[rows[1]] and "text: after" in lines[rows[2]]
        _tmux("send-keys", "-t", name, "q")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", name], capture_output=True)
