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
    """Flows with the peer are pended and permitted, at their first packet's capture time;
    other hosts and ICMP errors are ignored."""
    events = _replay(tmp_path, "--remote", "10.0.0.2")
    assert [e.time_ns for e in events if e.name == "ConnectionPended"] == [1_000_000, 8_000_000]
    assert all(e.created_ns > 10**18 for e in events if e.name == "ConnectionPended")
    pended = [e.fields for e in events if e.name == "ConnectionPended"]
    assert [(p["network.transport"], p["network.direction"], p["layer"], p["source.port"],
             p["destination.port"]) for p in pended] == [
        ("tcp", "egress", "connect", 40000, 80), ("tcp", "ingress", "recv-accept", 5555, 22)]
    # the peer opened the second connection: it is that one's source
    assert [(p["source.ip"], p["destination.ip"]) for p in pended] == [
        ("10.0.0.1", "10.0.0.2"), ("10.0.0.2", "10.0.0.1")]
    verdicts = [e.fields for e in events if e.name == "ConnectionVerdict"]
    assert [v["verdict"] for v in verdicts] == ["permit", "permit"]
    packets = [e.fields for e in events if e.name == "PacketVerdict"]
    assert len(packets) == 6 and {p["network.direction"] for p in packets} == {"ingress", "egress"}
    closed = [e.fields for e in events if e.name == "ConnectionClosed"]
    cid = "network.community_id"
    assert len(closed) == 2 and closed[0][cid] == pended[0][cid]


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


def _external_replay(tmp_path: Path, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    """The capture through the external-decider replay consumer into a real-time session."""
    from providers.inspect import PROVIDER
    from providers.packets import Pipeline, open_capture
    from tracer import Hub, Level, ProviderEnable, SessionConfig

    cap = tmp_path / "c.pcap"
    _capture(cap)
    hub = Hub(load_installed=False)
    hub.register(PROVIDER)
    hub.start_session(SessionConfig("x", [ProviderEnable(PROVIDER.name, Level.VERBOSE)],
                                    realtime=True))
    sub = hub.subscribe("x")
    consumer = make_replay_consumer(remote="10.0.0.2", decider="external",
                                    decider_timeout=timeout)
    pipeline = Pipeline([consumer])
    with open_capture(cap) as src:
        pipeline.run(src)
    pipeline.end_flows()

    def events() -> list:
        hub.flush_session("x")
        return [e for e in sub.drain() if e.provider == PROVIDER.name]
    return hub, consumer, pipeline, events


def test_external_decisions_come_through_control_requests(tmp_path) -> None:
    """Connections wait for the hub's decide requests; held packets and closes follow them."""
    from providers.inspect import HubDecisionClient

    hub, _consumer, pipeline, events = _external_replay(tmp_path)
    try:
        before = events()
        assert [e.name for e in before] == ["ConnectionPended", "ConnectionPended"]
        client = HubDecisionClient(hub)
        first, second = client.pending()
        assert (first.remote, first.remote_port, second.local_port) == ("10.0.0.2", 80, 22)
        assert client.decide(first.id, "permit") and client.decide(second.id, "block")
        assert not client.decide(first.id, "block")  # already decided
        after = events()
        assert [(e.name, e.fields.get("verdict"), e.fields.get("decided_by")) for e in after] == [
            ("ConnectionVerdict", "permit", "decision-program"),
            *[("PacketVerdict", "permit", "decision-program")] * 5,
            ("ConnectionClosed", "permit", None),
            ("ConnectionVerdict", "block", "decision-program"),
            ("PacketVerdict", "block", "decision-program"),
            ("ConnectionClosed", "block", None)]
        assert client.pending() == [] and client.status()["stats"]["blocked"] == 1
    finally:
        pipeline.finish()
        hub.close()


def test_external_decision_timeout_applies_block_traffic(tmp_path) -> None:
    """Without an answer in decider_timeout, block_traffic's verdict applies, traced."""
    import time

    hub, consumer, pipeline, events = _external_replay(tmp_path, timeout=0.01)
    try:
        time.sleep(0.1)
        assert consumer.poll() == 2
        got = [(e.name, e.fields.get("verdict"), e.fields.get("decided_by")) for e in events()
               if e.name in ("DecisionTimeout", "ConnectionVerdict")]
        assert got == [("DecisionTimeout", "permit", None),
                       ("ConnectionVerdict", "permit", "timeout-default")] * 2
        assert consumer.stats.timeouts == 2
    finally:
        pipeline.finish()
        hub.close()


def test_external_replay_close_blocks_what_is_pending(tmp_path) -> None:
    """At the end of the replay pending connections are blocked, as by a stopping inspector."""
    from providers.inspect import HubDecisionClient, InspectError

    hub, _consumer, pipeline, events = _external_replay(tmp_path)
    try:
        pipeline.finish()
        verdicts = [e.fields for e in events() if e.name == "ConnectionVerdict"]
        assert [(v["verdict"], v["decided_by"]) for v in verdicts] == [("block", "stop")] * 2
        with pytest.raises(InspectError):  # the closed replay no longer answers
            HubDecisionClient(hub).pending()
    finally:
        hub.close()
