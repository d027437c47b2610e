"""The provider's events carry the fields the OpenTelemetry mapping expects."""

from __future__ import annotations

from providers.inspect import PROVIDER

FLOW = {"network.community_id", "network.transport", "source.ip", "source.port",
        "destination.ip", "destination.port", "network.direction"}
CID = "network.community_id"


def _fields(name: str) -> set[str]:
    return {f["name"] for f in PROVIDER.events[name].manifest()["fields"]}


def test_flow_events_match_the_otel_mapping() -> None:
    """Pended has the 5-tuple, process and layer; verdicts carry verdict and community id."""
    assert FLOW | {"process.executable", "process.pid", "layer"} <= _fields("ConnectionPended")
    assert {CID, "verdict", "decided_by", "latency_ns"} <= _fields("ConnectionVerdict")
    assert {CID, "network.direction", "size", "verdict", "decided_by",
            "latency_ns"} <= _fields("PacketVerdict")
    assert {CID, "reason"} <= _fields("ConnectionClosed")


def test_otel_rules_name_our_events() -> None:
    """Every inspect event the OTLP mapping knows is declared by the provider."""
    from tracer.otel import _mapping

    names = {r.event for r in _mapping._RULES if r.provider == PROVIDER.name}
    assert names and names <= set(PROVIDER.events)


def test_per_packet_events_are_off_unless_the_packet_keyword_is_enabled() -> None:
    """PacketVerdict is the only event under the packet keyword, at verbose level."""
    packet = PROVIDER.keyword_mask("packet")
    assert [e.name for e in PROVIDER.events.values() if e.keywords & packet] == ["PacketVerdict"]
    assert PROVIDER.keywords.keys() == {"connect", "packet", "worker", "config"}


def test_every_verdict_event_says_why_and_how_long() -> None:
    """Connection and packet verdicts declare decided_by and latency_ns; the vocabulary is
    the issue's (configuration, decision program, timeout default, fail-open, stall-open,
    stop, bypass)."""
    from providers.inspect._events import DECIDED_BY

    for name in ("ConnectionVerdict", "PacketVerdict"):
        assert {"decided_by", "latency_ns"} <= _fields(name)
    assert DECIDED_BY == ("configuration", "decision-program", "timeout-default", "fail-open",
                          "stall-open", "stop", "bypass")
