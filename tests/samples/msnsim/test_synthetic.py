"""write_synthetic_capture: a valid pcap whose MSNP commands the parser counts exactly."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from providers.msnp import Command, MsnpStreamParser
from samples.msnsim import write_synthetic_capture
from tests.samples.msnsim.pcap_streams import tcp_payloads


def test_parser_finds_every_generated_command(tmp_path):
    """Every command the generator wrote is parsed, none in error, across split segments."""
    path = tmp_path / "syn.pcap"
    stats = write_synthetic_capture(path, 1_000_000, seed=3)
    assert path.stat().st_size == stats.file_bytes >= 1_000_000
    found = errors = split = 0
    for payloads in tcp_payloads(path).values():
        parser = MsnpStreamParser()
        for payload in payloads:
            items = parser.feed(payload)
            found += sum(isinstance(i, Command) for i in items)
            split += parser._pending is not None or bool(parser._rest)
        errors += parser.stats.errors + parser.stats.skipped_bytes
    assert (found, errors) == (stats.commands, 0)
    assert split > 100  # many commands really do straddle segments


def test_same_seed_same_bytes(tmp_path):
    """The generator is deterministic for a seed and differs between seeds."""
    a, b, c = (tmp_path / n for n in ("a", "b", "c"))
    write_synthetic_capture(a, 200_000, seed=7)
    write_synthetic_capture(b, 200_000, seed=7)
    write_synthetic_capture(c, 200_000, seed=8)
    assert a.read_bytes() == b.read_bytes() != c.read_bytes()


@pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark is not installed")
def test_tshark_sees_clean_tcp_and_msnms(tmp_path):
    """tshark finds no TCP analysis problems or bad checksums and dissects MSNMS."""
    path = tmp_path / "syn.pcap"
    write_synthetic_capture(path, 300_000, seed=1)
    problems = subprocess.run(
        [
            "tshark",
            "-r",
            str(path),
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-Y",
            "tcp.analysis.flags || _ws.expert.severity >= warning",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert problems == ""
    msnms = subprocess.run(
        ["tshark", "-r", str(path), "-Y", "msnms"], capture_output=True, text=True, check=True
    ).stdout
    assert len(msnms.splitlines()) > 100
