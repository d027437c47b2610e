"""python -m samples.msnsim: server and client as separate processes, and session mode."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]


def run(*args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "samples.msnsim", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.timeout(60)
def test_client_process_against_server_process(tmp_path):
    """A server process and a client process complete the session and write a transcript."""
    server = subprocess.Popen(
        [sys.executable, "-m", "samples.msnsim", "server", "--port-base", "23300"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert "switchboard 23302" in server.stdout.readline()
        transcript = tmp_path / "t.json"
        result = run(
            "client", "--port-base", "23300", "--dialect", "MSNP15", "--transcript", str(transcript)
        )
        assert result.returncode == 0, result.stderr
        document = json.loads(transcript.read_text())
        assert document["dialect"] == "MSNP15" and len(document["connections"]) == 9
        assert {"ADL", "UUX", "UBX"} <= {c["verb"] for c in document["commands"]}
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_session_mode_runs_both_on_loopback():
    """session mode runs servers and clients in one process and reports the command count."""
    started = time.monotonic()
    result = run("session", "--port-base", "23310")
    assert result.returncode == 0, result.stderr
    assert "commands on 9 connections" in result.stdout
    assert time.monotonic() - started < 20


def test_client_without_server_fails_cleanly():
    """A client with nothing listening exits 1 with a message, not a traceback."""
    result = run("client", "--port-base", "23320")
    assert result.returncode == 1
    assert "msnsim:" in result.stderr and "Traceback" not in result.stderr


def test_usage_error_exits_2():
    """A missing required option is a usage error."""
    assert run("session").returncode == 2
