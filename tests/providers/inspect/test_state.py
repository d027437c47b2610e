"""The state file: who runs the inspector of this namespace, and whether it still lives."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from providers.inspect._state import StateFile, _start_time, run_dir


def test_written_state_names_this_live_process(tmp_path: Path) -> None:
    """write() records our pid and control socket; alive() is true; remove() deletes it."""
    state = StateFile.here(tmp_path)
    state.write({"config": {"remote_address": "10.0.0.1"}})
    info = state.read()
    assert info is not None and info["control"] == str(state.control)
    assert state.alive(info)
    state.remove()
    assert state.read() is None and not state.alive()


def test_a_dead_or_zombie_process_is_not_alive(tmp_path: Path) -> None:
    """A recorded pid that exited (even if not yet reaped) does not count as running."""
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(0.3)"])
    state = StateFile.here(tmp_path)
    info = {"pid": child.pid, "start": _start_time(child.pid)}
    assert info["start"] is not None and state.alive(info)
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, left a zombie
    assert not state.alive(info)
    child.wait()
    assert not state.alive(info)


def test_run_dir_follows_the_override_and_environment(monkeypatch, tmp_path: Path) -> None:
    """An explicit directory wins, then WFPTRACE_RUN_DIR."""
    monkeypatch.setenv("WFPTRACE_RUN_DIR", str(tmp_path / "env"))
    assert run_dir(tmp_path / "flag") == tmp_path / "flag"
    assert run_dir() == tmp_path / "env"


def test_a_damaged_state_file_reads_as_no_inspector(tmp_path: Path) -> None:
    """A state file that is not an object with an integer pid reads as None, not a crash."""
    state = StateFile.here(tmp_path)
    for text in ("[1, 2]", "{}", '{"pid": "12"}', "7", "{not json"):
        state.path.write_text(text)
        assert state.read() is None and not state.alive(), text


def test_a_dead_pid_without_recorded_start_time_is_not_alive(tmp_path: Path) -> None:
    """A record lacking the start time does not make an exited process count as running."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    state = StateFile.here(tmp_path)
    assert not state.alive({"pid": child.pid})
    assert not state.alive({"pid": child.pid, "start": None})
