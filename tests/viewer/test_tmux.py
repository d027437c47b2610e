"""The real traceview program in a terminal (tmux): live demo events, a session made with keys."""

import sys
import time
from pathlib import Path

from tests.harness.terminal import Terminal

ROOT = Path(__file__).resolve().parents[2]


def test_demo_is_live_at_once_and_the_wizard_is_one_key_away():
    """traceview --demo shows events at once; c Enter space ^n ^n ^s starts another session."""
    cmd = f"cd {ROOT} && {sys.executable} -m viewer --demo --rate 200"
    with Terminal(cmd, 80, 24) as term:
        term.wait_for("wfptrace-", "FOLLOW", "c New session")
        steps = [("c", "1. Session name"), ("Enter", "2. Providers"),
                 ("Space", None), ("C-n", "3. Level and keywords"),
                 ("C-n", "4. Log session options"), ("C-s", "session traceview-1 started")]
        for key, needle in steps:
            term.keys(key)
            if needle:
                term.wait_for(needle)
            else:
                time.sleep(0.5)
        term.keys("q")


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
    # (pytest's environment says COLUMNS=80, which would override the pane's 140)
    cmd = f"cd {ROOT} && env -u COLUMNS -u LINES {sys.executable} -m viewer --no-follow {log}"
    with Terminal(cmd, 140, 24) as term:
        shown = "text: \\x1b[2J\\x1b[Hgone\\r\\nMSG 1 N 5\\r\\n\\u202eabc"
        screen = term.wait_for(shown)
        lines = screen.splitlines()
        rows = [i for i, line in enumerate(lines) if "evil-peer" in line]
        assert len(rows) == 3 and rows == list(range(rows[0], rows[0] + 3))
        assert "Seq     Time" in lines[rows[0] - 1]  # the header was not cleared
        assert "text: before" in lines[rows[0]]
        assert shown in lines[rows[1]] and "text: after" in lines[rows[2]]
        term.keys("q")
