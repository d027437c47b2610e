"""Offline mode: a capture classified by ``replay --provider inspect``."""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import pytest

from providers.inspect import InspectConfigError, make_replay_consumer
from providers.packets import LINKTYPE_RAW, PcapWriter
from providers.packets._cli import register
from providers.packets._consumers import register_consumer
from tracer import read_log

ME, PEER, OTHER = bytes([10, 0, 0, 1]), bytes([10, 0, 0, 2]), bytes([10, 0, 0, 3])


def _ip(proto: int, src: bytes, dst: bytes, body: bytes) -> bytes:
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(body), 0, 0, 64, proto, 0,
                       src, dst) + body


def _tcp(src: bytes, dst: bytes, sport: int, dport: int, flags: int) -> bytes:
    return _ip(6, src, dst, struct.pack("!HHIIBBHHH", sport, dport, 1, 1, 0x50, flags,
                                        1000, 0, 0))


def _capture(path: Path) -> None:
    udp_to_peer = _ip(17, ME, PEER, struct.pack("!HHHH", 5000, 9, 8, 0))
    frames = [
        _tcp(ME, PEER, 40000, 80, 0x02), _tcp(PEER, ME, 80, 40000, 0x12),
        _tcp(ME, PEER, 40000, 80, 0x10), _tcp(ME, PEER, 40000, 80, 0x11),
        _tcp(PEER, ME, 80, 40000, 0x11),
        _ip(17, ME, OTHER, struct.pack("!HHHH", 5001, 53, 8, 0)),
        _ip(1, PEER, ME, struct.pack("!BBHI", 3, 3, 0, 0) + udp_to_peer),  # port unreachable
        _tcp(PEER, ME, 5555, 22, 0x02),
    ]
    with path.open("wb") as f:
        w = PcapWriter(f, LINKTYPE_RAW)
        for i, frame in enumerate(frames):
            w.write(frame, ts_ns=(i + 1) * 1_000_000)


def _replay(tmp_path: Path, *flags: str) -> list:
    """``wfptrace replay --provider inspect FLAGS capture`` through the real replay parser."""
    register_consumer("inspect", make_replay_consumer)  # until the entry point is installed
    cap, out = tmp_path / "c.pcap", tmp_path / "out.jsonl"
    _capture(cap)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["replay", str(cap), "--provider", "inspect", *flags,
                              "-o", str(out)])
    assert args.func(args) == 0
    return [e for e in read_log(out) if e.provider == "wfptrace-inspect"]


def test_replay_traces_what_the_inspector_would_decide(tmp_path) -> None:
    """Flows with the peer are pended and permitted; other hosts and ICMP errors are ignored."""
    events = _replay(tmp_path, "--remote", "10.0.0.2")
    pended = [e.fields for e in events if e.name == "ConnectionPended"]
    assert [(p["protocol"], p["direction"], p["layer"], p["remote_port"]) for p in pended] == [
        ("tcp", "outbound", "connect", 80), ("tcp", "inbound", "recv-accept", 5555)]
    assert all(p["remote_addr"] == "10.0.0.2" for p in pended)
    verdicts = [e.fields for e in events if e.name == "ConnectionVerdict"]
    assert [v["verdict"] for v in verdicts] == ["permit", "permit"]
    packets = [e.fields for e in events if e.name == "PacketVerdict"]
    assert len(packets) == 6 and {p["direction"] for p in packets} == {"inbound", "outbound"}
    closed = [e.fields for e in events if e.name == "ConnectionClosed"]
    assert len(closed) == 2 and closed[0]["flow_id"] == pended[0]["flow_id"]


def test_replay_in_block_mode_blocks_every_inspected_flow(tmp_path) -> None:
    """With --block every inspected flow and packet is traced as blocked."""
    events = _replay(tmp_path, "--remote", "10.0.0.2", "--block")
    assert {e.fields["verdict"] for e in events
            if e.name in ("ConnectionVerdict", "PacketVerdict")} == {"block"}


def test_replay_without_an_address_is_refused(monkeypatch) -> None:
    """The consumer factory refuses to build without remote_address, with the usual message."""
    monkeypatch.delenv("WFPTRACE_INSPECT_REMOTE", raising=False)
    monkeypatch.delenv("WFPTRACE_INSPECT_CONFIG", raising=False)
    with pytest.raises(InspectConfigError, match="remote_address is missing"):
        make_replay_consumer()


def test_replay_reads_the_address_from_the_environment(tmp_path, monkeypatch) -> None:
    """WFPTRACE_INSPECT_REMOTE stands in for --remote, as for the live inspector."""
    monkeypatch.setenv("WFPTRACE_INSPECT_REMOTE", "10.0.0.2")
    assert [e.name for e in _replay(tmp_path) if e.name == "ConnectionPended"] == [
        "ConnectionPended", "ConnectionPended"]
