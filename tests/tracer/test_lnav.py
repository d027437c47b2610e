"""The shipped lnav format: lnav (the real one) reads a session's log as columns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tracer import Hub, Level, Provider, ProviderEnable, SessionConfig
from tracer._lnav import LNAV_FORMAT

LNAV = shutil.which("lnav")

P = Provider("lnavtest", keywords=["a"])
INFO = P.event(1, "Hello", Level.INFO, "a", {"n": int, "who": str}, "hello {who} {n}")
WARN = P.event(2, "Careful", Level.WARNING, "a", {"n": int}, "careful {n}")


def _lnav(home: Path, *args: str) -> str:
    proc = subprocess.run([str(LNAV), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(home)})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "t.jsonl"
    with Hub(load_installed=False) as hub:
        hub.register(P)
        hub.start_session(SessionConfig("s", [ProviderEnable("lnavtest")], file=path))
        for i in range(30):
            INFO.write(i, "bob")
            if i % 3 == 0:
                WARN.write(i)
    return path


def test_install_command_puts_the_format_where_lnav_finds_it(tmp_path: Path) -> None:
    """`wfptrace lnav install` installs the format for the user, with or without lnav."""
    proc = subprocess.run([sys.executable, "-m", "tracer._cli", "lnav", "install"],
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    installed = tmp_path / ".lnav" / "formats" / "installed" / LNAV_FORMAT.name
    assert installed.read_bytes() == LNAV_FORMAT.read_bytes()


def test_lnav_reads_levels_providers_and_events(tmp_path: Path, log: Path) -> None:
    """With the format installed, lnav's SQL sees each event's level, provider and name."""
    if LNAV is None:
        print("skipping: lnav is not installed (apt-get install lnav)")
        pytest.skip("lnav is not installed")
    _lnav(tmp_path, "-i", str(LNAV_FORMAT))
    out = _lnav(tmp_path, "-n", "-c", ";SELECT log_level, provider, event, count(*) AS n "
                "FROM wfptrace_log WHERE provider IS NOT NULL GROUP BY 1, 2, 3 ORDER BY 3",
                str(log))
    rows = [line.split() for line in out.strip().splitlines()[1:]]
    assert rows == [["warning", "lnavtest", "Careful", "10"], ["info", "lnavtest", "Hello", "30"]]
