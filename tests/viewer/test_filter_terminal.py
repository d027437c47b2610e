"""The display filter in a real terminal (tmux): caret errors, hostile values completed, rows."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.harness.terminal import Terminal

from .chatlog import chat_log

ROOT = Path(__file__).resolve().parents[2]


def _open_filter(term: Terminal) -> None:
    """f until the dialog shows: a key sent while the app still starts up may be lost."""
    for _ in range(5):
        term.keys("f")
        try:
            term.wait_for("Display filter", timeout=6.0)
            return
        except AssertionError:
            continue
    term.wait_for("Display filter", timeout=1.0)


def _log(path: Path) -> Path:
    return chat_log(path, [("alice", 1863), ("\x1b[2J\x1b[Hmallory", 6891), ("bob", 443)])


def test_filter_in_a_terminal(tmp_path):
    """f, a port compared to text: the caret sits under the value; values seen in the log
    are offered (not one holding an escape sequence; the screen is not cleared); a range
    keeps two rows."""
    log = _log(tmp_path / "chat.jsonl")
    cmd = f"cd {ROOT} && env -u COLUMNS -u LINES {sys.executable} -m viewer --no-follow {log}"
    with Terminal(cmd, 140, 30) as term:
        term.wait_for("bob on 443")
        _open_filter(term)
        term.keys('port == "1863"', literal=True)
        screen = term.wait_for("port is a number (int)")
        lines = screen.splitlines()
        at = next(i for i, line in enumerate(lines) if '│ port == "1863"' in line
                  and "^" in lines[i + 1])
        assert lines[at + 1].index("^~~~~~") == lines[at].index('"1863"')
        # Textual may run ^U's binding after keys typed right behind it: wait for it
        term.keys("C-u")
        term.wait_gone('port == "1863"')
        term.keys("user == ", literal=True)
        screen = term.wait_for("│ alice  bob ")  # values seen; the escape one is not offered
        assert "\\x1b[2J\\x1b[Hmallory on 6891" in screen and "bob on 443" in screen
        term.keys("C-u")
        term.wait_gone("│ alice  bob ")
        term.keys("port in {1000..7000}", literal=True)
        term.wait_for("▊  port in {1000..7000}")
        term.keys("Enter")
        # the rows are filtered in the background after the status bar names the filter
        screen = term.wait_for("filter: port in {1000..7000}", "alice on 1863",
                               "mallory on 6891")
        assert "bob on 443" not in screen
        term.keys("q")
