"""Runs fed from a file deliver every event, whatever the load, and stream their output."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from samples.msnsim import write_synthetic_capture

WFPTRACE = [sys.executable, "-m", "tracer._cli"]


@pytest.fixture(scope="module")
def big(tmp_path_factory) -> tuple[Path, int]:
    """A 110 MB simulator capture and its exact command count."""
    path = tmp_path_factory.mktemp("big") / "big.pcap"
    stats = write_synthetic_capture(path, 110_000_000, seed=11)
    return path, stats.commands


@pytest.fixture
def cpu_hog() -> Iterator[None]:
    """Busy loops on every core for the duration of the test."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 2)]
    try:
        yield
    finally:
        for h in hogs:
            h.kill()
            h.wait()


def _count_commands(path: Path) -> int:
    with open(path, "rb") as f:
        return sum(b'"event":"Command"' in line for line in f)


def test_monitor_replay_under_load_delivers_every_command_three_times(big, cpu_hog,
                                                                    tmp_path) -> None:
    """With both cores busy, three replays each write exactly the commands the capture holds."""
    path, commands = big
    for run in range(3):
        out = tmp_path / f"run{run}.jsonl"
        proc = subprocess.run([*WFPTRACE, "monitor", "replay", str(path), "-o", str(out)],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        summary = proc.stderr.strip().splitlines()[-1]
        assert summary.startswith(f"{commands} commands"), summary
        assert "LOST" not in summary
        assert _count_commands(out) == commands
        out.unlink()


def test_replay_to_a_closed_pipe_returns_at_once(big) -> None:
    """`replay -o - BIG | head -n 1` prints the log header and ends long before the replay would."""
    path, _ = big
    start = time.monotonic()
    proc = subprocess.run(
        f"{' '.join(WFPTRACE)} replay {path} --provider msnmon -o - | head -n 1",
        shell=True, capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - start
    assert proc.returncode == 0 and proc.stdout.startswith('{"type":"header"')
    assert "Traceback" not in proc.stderr
    # the whole replay of 110 MB takes tens of seconds here; the closed pipe ends it at once
    assert elapsed < 8, f"took {elapsed:.1f} s"


def test_print_mode_streams_before_the_replay_ends(big) -> None:
    """monitor replay's printed events appear while the capture is still being read."""
    path, _ = big
    proc = subprocess.Popen([*WFPTRACE, "monitor", "replay", str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert b"FlowEstablished" in first or b"Command" in first
        assert proc.poll() is None  # still replaying
    finally:
        proc.kill()
        proc.wait()
