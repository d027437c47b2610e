"""Every event of every provider speaks the one vocabulary, and every sink shows its names."""

from __future__ import annotations

import json
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from tracer import HUB_PROVIDER, VOCABULARY, Provider, check_fields, format_event
from tracer._fields import TIME_FIELD, UNITS
from tracer._render import Renderer
from tracer._vocabulary import LEGACY_NAMES
from tracer.otel._mapping import DEFAULT_MAPPING

LNAV_FORMAT = Path(__file__).parents[2] / "tracer" / "formats" / "wfptrace_log.json"


def _providers() -> list[Provider]:
    """The installed providers (packets, inspect, msnmon) and the hub's own."""
    found = [ep.load() for ep in entry_points(group="wfptrace.providers")]
    names = {p.name for p in found}
    assert {"wfptrace-packets", "wfptrace-inspect", "wfptrace-msnmon"} <= names
    return [*found, HUB_PROVIDER]


EVENTS = [(p, e) for p in _providers() for e in p.manifest()["events"]]
IDS = [f"{p.name}/{e['name']}" for p, e in EVENTS]


@pytest.mark.parametrize(("provider", "event"), EVENTS, ids=IDS)
def test_every_event_follows_the_vocabulary(provider: Provider, event: dict) -> None:
    """Shared fields have the vocabulary's name, type and unit; no old name is left; every
    field declares a known unit."""
    fields = [(f["name"], f["type"], f["unit"]) for f in event["fields"]]
    assert check_fields(fields) == []
    assert all(unit in UNITS for _, _, unit in fields)


@pytest.mark.parametrize(("provider", "event"), EVENTS, ids=IDS)
def test_flow_events_carry_their_packet_time(provider: Provider, event: dict) -> None:
    """An event about a flow (it names its Community ID) carries @timestamp, first."""
    names = [f["name"] for f in event["fields"]]
    if "network.community_id" in names:
        assert names[0] == TIME_FIELD


@pytest.mark.parametrize(("provider", "event"), EVENTS, ids=IDS)
def test_otlp_attributes_have_the_field_names(provider: Provider, event: dict) -> None:
    """Every vocabulary field of an event is an OTLP attribute of the very same name."""
    rule = DEFAULT_MAPPING.rule(provider.name, event["name"])
    for f in event["fields"]:
        if f["name"] in VOCABULARY and f["name"] != TIME_FIELD:
            assert DEFAULT_MAPPING.attr_name(rule, f["name"]) == f["name"]
    assert DEFAULT_MAPPING.flow_field == "network.community_id"


def test_the_checker_catches_what_it_is_for() -> None:
    """Old names, a wrong unit or type, an unknown term in a vocabulary namespace are each
    reported."""
    assert check_fields([("flow_id", "str", "")]) == [
        f"flow_id is an old name: use {LEGACY_NAMES['flow_id']}"]
    assert check_fields([("source.port", "str", "")])
    assert check_fields([("@timestamp", "int", "us")])
    assert check_fields([("source.mac", "str", "")])
    assert check_fields([("wait_ms", "int", "")])
    assert check_fields([("verb", "str", ""), ("latency_us", "int", "us")]) == []


def test_log_lines_fmt_and_lnav_show_the_same_names_and_times() -> None:
    """A log line carries the dotted names and the packet time as ``time`` (the write time
    as ``created``); fmt prints the packet time; the lnav format reads ``time``."""
    p = Provider("test-vocab-sinks")
    ev = p.event(1, "Seen", 4, (), {TIME_FIELD: (int, "ns"), "source.ip": str},
                 "from {source.ip}")
    packet_ns, written_ns = 1_150_000_000_123_456_789, 1_795_000_000_000_000_000
    blob, [event] = Renderer("s").render([(written_ns, ev.index, 1, packet_ns, "10.0.0.1")],
                                         1, True, True)
    line = json.loads(blob)
    assert line["fields"] == {"source.ip": "10.0.0.1"}
    assert line["time"].startswith("2006-06-11T04:26:40.123456789")
    assert line["created"].startswith("2026-11-18")
    assert "2006-06-11 04:26:40.123456789" in format_event(event)
    assert format_event(event).endswith("Seen: from 10.0.0.1")
    lnav = json.loads(LNAV_FORMAT.read_text())["wfptrace_log"]
    assert lnav["timestamp-field"] == "time" and "created" in lnav["value"]
