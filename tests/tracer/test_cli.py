"""The wfptrace command line: clear errors, sessions, providers, fmt."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

WFPTRACE = [sys.executable, "-m", "tracer._cli"]


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*WFPTRACE, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize(("args", "message"), [
    (["session", "start", "s", "-p", "nope", "--realtime"], "unknown provider 'nope'"),
    (["session", "start", "a/b", "-p", "wfptrace-hub", "--realtime"], "path separator"),
    (["session", "start", "", "-p", "wfptrace-hub", "--realtime"], "session name is empty"),
    (["session", "start", "s", "-p", "wfptrace-hub:info:bogus", "--realtime"], "no keyword"),
    (["session", "start", "s", "-p", "wfptrace-hub:loud", "--realtime"], "unknown level"),
    (["session", "start", "s", "-p", "wfptrace-hub", "--file", "/nonexistent/dir/x"],
     "cannot open log file"),
    (["session", "start", "s", "-p", "wfptrace-hub", "--file", "/dev/full"], "disk full"),
    (["session", "start", "s", "-p", "wfptrace-hub", "--file", "x", "--mode", "circular"],
     "needs a max size"),
    (["session", "stop", "ghost"], "no session named 'ghost'"),
    (["fmt", "/nonexistent.jsonl"], "cannot read"),
])
def test_user_mistakes_get_a_message_not_a_traceback(args: list[str], message: str) -> None:
    """Every user mistake exits non-zero with a one-line error and no traceback."""
    result = run(*args)
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_session_start_records_and_fmt_prints(tmp_path: Path) -> None:
    """An embedded session logs the hub's events; fmt prints them with a WPP prefix."""
    log = tmp_path / "hub.jsonl"
    result = run("session", "start", "cli", "-p", "wfptrace-hub:info:session", "--file",
                 str(log), "--duration", "0.3")
    assert result.returncode == 0, result.stderr
    assert "events written 1, lost 0" in result.stderr
    text = run("fmt", str(log)).stdout
    assert "[wfptrace-hub] INFO SessionStarted: Session cli started" in text
    js = orjson.loads(run("fmt", str(log), "--json").stdout.splitlines()[0])
    assert js["event"] == "SessionStarted" and js["message"].startswith("Session cli started")


def test_render_worker_session_from_the_cli(tmp_path: Path) -> None:
    """--render-worker writes the same log through a child process."""
    log = tmp_path / "rw.jsonl"
    result = run("session", "start", "rw", "-p", "wfptrace-hub:info:session", "--file",
                 str(log), "--duration", "0.3", "--render-worker")
    assert result.returncode == 0, result.stderr
    assert "events written 1, lost 0" in result.stderr
    assert "SessionStarted: Session rw started" in run("fmt", str(log)).stdout


def test_realtime_session_prints_events(tmp_path: Path) -> None:
    """With --realtime the foreground session prints events as they arrive."""
    result = run("session", "start", "rt", "-p", "wfptrace-hub", "--realtime",
                 "--duration", "0.5")
    assert result.returncode == 0, result.stderr
    assert "SessionStarted: Session rt started" in result.stdout


def test_providers_lists_manifests() -> None:
    """providers lists names, GUIDs, keywords and events; --json prints the manifests."""
    text = run("providers").stdout
    assert "wfptrace-hub" in text and "SessionStarted" in text
    manifests = orjson.loads(run("providers", "--json").stdout)
    hub = next(m for m in manifests if m["name"] == "wfptrace-hub")
    assert hub["keywords"]["session"] == "0x1"


def test_version_says_whether_the_accelerator_is_on() -> None:
    """--version names the version and whether the C accelerator runs (WFPTRACE_PURE off)."""
    env = {**os.environ, "WFPTRACE_PURE": "1"}
    out = subprocess.run([sys.executable, "-m", "tracer._cli", "--version"], env=env,
                         capture_output=True, text=True, check=True)
    assert out.stdout.startswith("wfptrace ") and "C accelerator off" in out.stdout
