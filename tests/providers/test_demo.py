"""``wfptrace demo``: the bundled session as safe text; a bad capture gets one line."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from providers._demo import DEFAULT_CAPTURE

WFPTRACE = [sys.executable, "-m", "tracer._cli"]


def demo(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, *WFPTRACE, "demo", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL)


def one_error_line(result: subprocess.CompletedProcess[str], message: str,
                   printed: bool = False) -> None:
    """Exit status 1 and one stderr line holding ``message`` (stdout: the events before it)."""
    assert result.returncode == 1 and (printed or result.stdout == "")
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert result.stderr.startswith("wfptrace: error: ")


BAD_CAPTURES = {
    "log.json": (b'{"type":"header"}\n', "not a pcap or pcapng file"),
    "empty.pcap": (b"", "not a pcap or pcapng file"),
    "cut.pcap": (DEFAULT_CAPTURE.read_bytes()[:100], "file ends inside a record"),
    "missing.pcap": (None, "no such file"),
}


@pytest.mark.parametrize("name", sorted(BAD_CAPTURES))
def test_bad_capture_gets_one_line(tmp_path: Path, name: str) -> None:
    """A capture that is missing, empty, cut short or not pcap: one line, exit status 1."""
    content, message = BAD_CAPTURES[name]
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    one_error_line(demo(str(path)), message, printed=name == "cut.pcap")


def test_directory_and_fifo_are_refused_at_once(tmp_path: Path) -> None:
    """A directory or a FIFO (which would block) is refused before anything is opened."""
    one_error_line(demo(str(tmp_path)), "is a directory")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    one_error_line(demo(str(fifo)), "is not a regular file")


def test_unreadable_capture_gets_one_line(unreadable_log: Path) -> None:
    """A capture the user may not read: one line saying so."""
    prefix = ("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups")
    one_error_line(demo(str(unreadable_log), prefix=prefix), "Permission denied")


def test_unknown_provider_gets_one_line() -> None:
    """An unknown --provider name lists the known ones in one line."""
    one_error_line(demo("--provider", "nope"), "unknown packet provider 'nope'")


def test_demo_prints_values_not_reprs_and_no_control_character() -> None:
    """The bundled session prints lists as ``a, b`` and no None or control character."""
    result = demo()
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert any("ingress LST - carol@sim.test, Carol%20Zo%C3%AB, 11, 5 (" in line for line in lines)
    assert not any(" None " in line or "['" in line for line in lines)
    unsafe = {"Cc", "Cf", "Cs", "Zl", "Zp"}
    assert not [line for line in lines if any(unicodedata.category(c) in unsafe for c in line)]
