"""A ``wfptrace monitor monitor APP`` process in namespace ``a`` (started, killed, stopped)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

from .conftest import REPO

PY = [sys.executable, "-m", "providers.msnmon"]


def cli(topo, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m providers.msnmon ARGS`` in namespace ``a`` with the state directory."""
    env = {**os.environ, "WFPTRACE_STATE_DIR": str(state)}
    return subprocess.run(topo.a.argv([*PY, *args]), capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=60)


def start_monitor(topo, state: Path, app: str, log: Path) -> subprocess.Popen:
    """Start monitoring ``app`` and return once its filters are in place."""
    env = {**os.environ, "WFPTRACE_STATE_DIR": str(state)}
    proc = subprocess.Popen(topo.a.argv([*PY, "monitor", app, "--file", str(log)]),
                            cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    seen = []
    while True:
        line = proc.stdout.readline()
        seen.append(line)
        if "Press any key" in line:
            return proc
        if not line:
            proc.wait(10)
            raise AssertionError(f"monitor exited early: {''.join(seen)}")


def kill(proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    """Send ``sig``; for SIGKILL also reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)
    if sig == signal.SIGKILL:
        proc.wait(10)


def stop(proc: subprocess.Popen) -> str:
    """SIGTERM (a clean stop) and the rest of its output; killed if it hangs."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGCONT)
        proc.terminate()
    try:
        out, _ = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=10)
    return out or ""
