"""The provider's manifest: keywords, events and the fields the OpenTelemetry mapping uses."""

from __future__ import annotations

from providers.msnmon import PROVIDER
from tracer.otel._mapping import DEFAULT_MAPPING, Action


def test_keywords_mirror_the_original_flags():
    """The notify flags of the original plus flow, session and message."""
    assert list(PROVIDER.keywords) == ["client_server", "peer_to_peer", "unknown",
                                       "all_traffic", "flow", "session", "message"]


def test_every_mapped_event_exists_with_the_fields_its_rule_reads():
    """Each msnmon rule of the OTLP mapping names an event that has the fields it needs."""
    events = {e["name"]: [f["name"] for f in e["fields"]]
              for e in PROVIDER.manifest()["events"]}
    rules = [r for r in DEFAULT_MAPPING.rules if r.provider == PROVIDER.name]
    assert rules
    for rule in rules:
        fields = events[rule.event]
        if Action.IGNORE not in rule.actions:
            assert fields[:2] == ["@timestamp", "network.community_id"], rule.event
        if Action.TRANSACTION in rule.actions:
            assert {rule.key_field, rule.direction_field, rule.verb_field} <= set(fields)
        if Action.SUMMARY_SPAN in rule.actions:
            assert {rule.start_field, rule.links_field} <= set(fields)
    assert {"source.ip", "source.port", "destination.ip", "destination.port",
            "process.executable", "process.pid", "network.transport"} <= set(
        events["FlowEstablished"])
