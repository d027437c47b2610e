"""The display filter in a real terminal (tmux): caret errors, hostile values completed, rows."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")


def _tmux(*args: str) -> str:
    """tmux on a server of this test's own (other tmux users' servers come and go)."""
    return subprocess.run(["tmux", "-L", "wfptrace-tests-filter", *args], check=True,
                          capture_output=True, text=True).stdout


def _wait_screen(name: str, needle: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", name)
        if needle in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never appeared; screen was:\n{screen}")


def _open_filter(name: str) -> None:
    """f until the dialog shows: a key sent while the app still starts up may be lost."""
    for _ in range(5):
        _tmux("send-keys", "-t", name, "f")
        try:
            _wait_screen(name, "Display filter", timeout=6.0)
            return
        except AssertionError:
            continue
    _wait_screen(name, "Display filter", timeout=1.0)


def _log(path: Path) -> Path:
    provider = Provider("chat-peer")
    msg = provider.event(1, "Message", Level.INFO, (), {"user": str, "port": int},
                         "{user} on {port}")
    with Hub(load_installed=False) as hub:
        hub.register(provider)
        hub.start_session(SessionConfig("h", [ProviderEnable("chat-peer")], file=path))
        msg.write("alice", 1863)
        msg.write("\x1b[2J\x1b[Hmallory", 6891)
        msg.write("bob", 443)
        hub.stop_session("h")
    return path


def test_filter_in_a_terminal(tmp_path):
    """f, a port compared to text: the caret sits under the value; values seen in the log
    are offered (not one holding an escape sequence; the screen is not cleared); a range
    keeps two rows."""
    log = _log(tmp_path / "chat.jsonl")
    name = f"tvf-{uuid.uuid4().hex[:8]}"
    cmd = f"cd {ROOT} && env -u COLUMNS -u LINES {sys.executable} -m viewer --no-follow {log}"
    _tmux("new-session", "-d", "-s", name, "-x", "140", "-y", "30", cmd)
    try:
        _wait_screen(name, "bob on 443")
        _open_filter(name)
        _tmux("send-keys", "-t", name, "-l", 'port == "1863"')
        screen = _wait_screen(name, "port is a number (int)")
        lines = screen.splitlines()
        at = next(i for i, line in enumerate(lines) if '│ port == "1863"' in line
                  and "^" in lines[i + 1])
        assert lines[at + 1].index("^~~~~~") == lines[at].index('"1863"')
        _tmux("send-keys", "-t", name, "C-u")
        _tmux("send-keys", "-t", name, "-l", "user == ")
        screen = _wait_screen(name, "│ alice  bob ")  # values seen; the escape one is not offered
        assert "\\x1b[2J\\x1b[Hmallory on 6891" in screen and "bob on 443" in screen
        _tmux("send-keys", "-t", name, "C-u")
        _tmux("send-keys", "-t", name, "-l", "port in {1000..7000}")
        _wait_screen(name, "▊  port in {1000..7000}")
        _tmux("send-keys", "-t", name, "Enter")
        screen = _wait_screen(name, "filter: port in {1000..7000}")
        assert "alice on 1863" in screen and "mallory on 6891" in screen
        assert "bob on 443" not in screen
        _tmux("send-keys", "-t", name, "q")
    finally:
        subprocess.run(["tmux", "-L", "wfptrace-tests-filter", "kill-session", "-t", name],
                       capture_output=True)
