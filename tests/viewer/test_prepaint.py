"""A log's first screen painted before Textual loads (a real terminal: tmux)."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from tests.harness.terminal import Terminal
from viewer._prepaint import prepaint

from .chatlog import chat_log

ROOT = Path(__file__).resolve().parents[2]
# pytest sets COLUMNS and LINES, which Textual would take for the terminal's size
VIEW = f"cd {ROOT} && env -u COLUMNS -u LINES {sys.executable} -m viewer --no-follow"
_HOLD = ("from pathlib import Path; import sys, time; from viewer._prepaint import prepaint; "
         "p = prepaint([Path(sys.argv[1])]); print('NONE' if p is None else '', end=''); "
         "sys.stdout.flush(); time.sleep(float(sys.argv[2])); p and p.{end}()")


def _log(path: Path, n: int = 40) -> Path:
    rows = [("\x1b[2J\x1b[Hmallory", 6891)] + [(f"user{i}", 1000 + i) for i in range(n)]
    return chat_log(path, rows)


def _hold(log: Path, seconds: float, end: str = "abandon") -> str:
    """A shell line: paint ``log``'s first screen, hold it, then ``end`` it."""
    code = _HOLD.replace("{end}", end)
    return f'cd {ROOT} && {sys.executable} -c "{code}" {log} {seconds}'


def _rows(screen: str) -> list[str]:
    """The column titles and the rows (the lines from the titles on, before the status)."""
    lines = screen.splitlines()
    top = next(i for i, line in enumerate(lines) if line.startswith("Seq "))
    return [line[:100].rstrip() for line in lines[top:top + 8]]  # not the scrollbar


def test_first_screen_is_the_one_textual_then_paints(tmp_path):
    """The titles and first rows painted before Textual loads sit where Textual's own
    frame puts them, with the same text, escape sequences in fields shown escaped."""
    log = _log(tmp_path / "chat.jsonl")
    with Terminal(_hold(log, 30), 120, 20) as term:
        early = term.wait_for("user5 on 1005")
    with Terminal(f"{VIEW} {log}",
                  120, 20) as term:
        late = term.wait_for("Seq ", "user5 on 1005", "PAUSED", "100%")
        term.keys("q")
    assert _rows(early) == _rows(late)
    assert "\\x1b[2J\\x1b[Hmallory on 6891" in early


def test_keys_typed_on_the_first_screen_are_not_echoed(tmp_path):
    """Keys typed while the first screen is up leave it untouched."""
    log = _log(tmp_path / "chat.jsonl")
    with Terminal(_hold(log, 30), 120, 20) as term:
        before = term.wait_for("user5 on 1005")
        term.keys("zzqq", literal=True)
        term.keys("Enter")
        assert term.wait_for("user5 on 1005") == before


def test_an_abandoned_first_screen_gives_the_shell_back(tmp_path):
    """If Textual never starts, the normal screen returns and the terminal echoes again."""
    log = _log(tmp_path / "chat.jsonl")
    with Terminal("bash --norc --noprofile", 120, 20) as term:
        term.keys(_hold(log, 0.5) + "; echo EXIT=$?", "Enter")
        term.wait_for("EXIT=0")
        term.keys("echo echoed-again", literal=True)
        screen = term.wait_for("echoed-again")
        assert "user5 on 1005" not in screen


def test_traceview_exits_to_a_working_shell(tmp_path):
    """After q, the shell shows what was typed: the first screen's settings are gone."""
    log = _log(tmp_path / "chat.jsonl")
    with Terminal("bash --norc --noprofile", 120, 20) as term:
        term.keys(f"{VIEW} {log}; echo EXIT=$?",
                  "Enter")
        term.wait_for("PAUSED")
        term.keys("q")
        term.wait_for("EXIT=0")
        term.keys("echo echoed-again", literal=True)
        term.wait_for("echoed-again")


@pytest.mark.parametrize("case", ["pipe", "two logs", "no rows"])
def test_no_first_screen_where_it_cannot_be_right(tmp_path, case):
    """Nothing is painted into a pipe, for merged logs, or for a log without rows yet."""
    log = _log(tmp_path / "chat.jsonl")
    if case == "pipe":
        assert prepaint([log], io.StringIO()) is None
        return
    if case == "two logs":
        cmd = (f'cd {ROOT} && {sys.executable} -c "from pathlib import Path; import sys; '
               f'from viewer._prepaint import prepaint; '
               f'print(prepaint([Path(sys.argv[1])] * 2))" {log}')
    else:
        empty = tmp_path / "empty.jsonl"
        empty.write_bytes(log.read_bytes().split(b"\n")[0] + b"\n")
        cmd = _hold(empty, 5)
    with Terminal(cmd + "; sleep 5", 120, 20) as term:
        screen = term.wait_for("None" if case == "two logs" else "NONE")
        assert "Seq " not in screen
