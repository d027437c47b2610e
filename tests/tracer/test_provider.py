"""Providers, typed events and ETW enable semantics."""

from __future__ import annotations

import uuid

import pytest

from tracer import (
    MAX_SESSIONS,
    ConfigError,
    ControlCode,
    EnableState,
    Level,
    Provider,
    TooManySessionsError,
    UnknownKeywordError,
    provider_guid,
)
from tracer._manifest import Manifest, format_message
from tracer._provider import EVENT_TABLE

from .conftest import Demo


def _sink(store: list):
    return store.append


def test_guid_is_stable_and_name_derived() -> None:
    """The provider GUID depends only on the name, case-insensitively, and is version 5."""
    a = Provider("Example-Provider")
    assert a.guid == provider_guid("example-provider")
    assert a.guid != provider_guid("Other")
    assert isinstance(a.guid, uuid.UUID)
    assert str(a.guid)[14] == "5"  # name-based (SHA-1) GUID


def test_guid_matches_eventsource_algorithm() -> None:
    """The GUID of a known EventSource name equals the one .NET computes for it."""
    # GUIDs that .NET's EventSource derived for these names (published with them).
    assert str(provider_guid("Acme-BizGear-SalesContext")) == \
        "d5b29467-62f5-54a9-4861-96cf631b95b4"
    assert str(provider_guid("Acme-BizGear-InventoryContext")) == \
        "9a9cf874-7496-5df5-6e80-1c5804eccd57"


def test_keywords_from_list_are_bits_in_order(demo: Demo) -> None:
    """A keyword list becomes consecutive bits; masks and names convert both ways."""
    p = demo.provider
    assert p.keywords == {"net": 1, "disk": 2, "verbose": 4}
    assert p.keyword_mask("net,disk") == 3
    assert p.keyword_names(5) == ("net", "verbose")


def test_unknown_keyword_is_refused(demo: Demo) -> None:
    """Naming a keyword the provider lacks raises UnknownKeywordError."""
    with pytest.raises(UnknownKeywordError, match="no keyword 'nope'"):
        demo.provider.keyword_mask(["nope"])


def test_template_must_name_declared_fields() -> None:
    """A template naming an undeclared field is a definition error."""
    p = Provider("t-template")
    with pytest.raises(ConfigError, match="unknown field 'x'"):
        p.event(1, "E", Level.INFO, (), {"y": int}, "{x}")


def test_duplicate_ids_and_bad_field_types_are_refused() -> None:
    """Event ids are unique and field types limited to the manifest's types."""
    p = Provider("t-dup")
    p.event(1, "A", Level.INFO, (), {"a": int})
    with pytest.raises(ConfigError):
        p.event(1, "B", Level.INFO, (), {})
    with pytest.raises(ConfigError, match="unsupported field type"):
        p.event(2, "C", Level.INFO, (), {"c": complex})


def test_disabled_event_builds_nothing(demo: Demo) -> None:
    """With no session, enabled is False and write() records nothing."""
    assert demo.connect.enabled is False
    demo.connect.write("h", 1)  # must be a no-op


def test_level_filtering(demo: Demo) -> None:
    """A session at level INFO gets info and more severe events, not verbose ones."""
    got: list = []
    demo.provider.enable("s", Level.INFO, (1 << 64) - 1, 0, _sink(got))
    assert demo.connect.enabled and demo.both.enabled and demo.plain.enabled
    assert not demo.write.enabled


def test_match_any_and_match_all(demo: Demo) -> None:
    """MatchAnyKeyword needs one shared bit, MatchAllKeyword needs every bit."""
    p = demo.provider
    p.enable("s", Level.VERBOSE, p.keyword_mask("disk"), 0, _sink([]))
    assert demo.write.enabled and demo.both.enabled and not demo.connect.enabled
    p.enable("s", Level.VERBOSE, p.keyword_mask("net,disk"), p.keyword_mask("net,disk"), _sink([]))
    assert demo.both.enabled and not demo.write.enabled and not demo.connect.enabled


def test_keywordless_events_always_pass_the_keyword_check(demo: Demo) -> None:
    """An event with no keywords is enabled by level alone, as in ETW."""
    demo.provider.enable("s", Level.VERBOSE, 0, 0, _sink([]))
    assert demo.plain.enabled
    assert not demo.connect.enabled


def test_write_reaches_each_matching_session(demo: Demo) -> None:
    """One write lands once in every session whose enable matches."""
    a: list = []
    b: list = []
    p = demo.provider
    p.enable("a", Level.VERBOSE, p.keyword_mask("net"), 0, _sink(a))
    p.enable("b", Level.VERBOSE, p.keyword_mask("disk"), 0, _sink(b))
    demo.connect.write("h", 80)
    demo.write.write("/x", 3, b"abc")
    assert [EVENT_TABLE[r[1]].name for r in a] == ["Connect"]
    assert [EVENT_TABLE[r[1]].name for r in b] == ["DiskWrite"]
    assert a[0][3:] == ("h", 80)


def test_write_by_keyword_arguments(demo: Demo) -> None:
    """Fields may be given by name; missing ones are None, unknown ones an error."""
    got: list = []
    demo.provider.enable("s", Level.VERBOSE, (1 << 64) - 1, 0, _sink(got))
    demo.connect.write_fields(port=1, host="x")
    demo.connect.write_fields(host="y")
    assert [r[3:] for r in got] == [("x", 1), ("y", None)]
    with pytest.raises(TypeError):
        demo.connect.write_fields(bogus=1)


def test_enable_callback_gets_combined_state(demo: Demo) -> None:
    """The callback sees max level, OR of match-any and AND of match-all over sessions."""
    states: list[EnableState] = []
    p = demo.provider
    p.add_enable_callback(states.append)
    p.enable("a", Level.WARNING, 0b001, 0b001, _sink([]))
    p.enable("b", Level.VERBOSE, 0b010, 0b011, _sink([]))
    s = states[-1]
    assert (s.control, s.level, s.match_any, s.match_all) == (ControlCode.ENABLE, 5, 0b011, 0b001)
    assert set(s.sessions) == {"a", "b"}
    p.disable("a")
    p.disable("b")
    assert states[-1].control is ControlCode.DISABLE and not states[-1].enabled


def test_capture_state_request_reaches_callback(demo: Demo) -> None:
    """capture_state() calls the callback with CAPTURE_STATE so it can emit a rundown."""
    seen: list[ControlCode] = []
    demo.provider.add_enable_callback(lambda st: seen.append(st.control))
    demo.provider.capture_state()
    assert seen == [ControlCode.CAPTURE_STATE]


def test_at_most_eight_sessions(demo: Demo) -> None:
    """A ninth session enabling the same provider is refused."""
    for i in range(MAX_SESSIONS):
        demo.provider.enable(f"s{i}", Level.INFO, 1, 0, _sink([]))
    with pytest.raises(TooManySessionsError):
        demo.provider.enable("s9", Level.INFO, 1, 0, _sink([]))
    demo.provider.enable("s0", Level.VERBOSE, 1, 0, _sink([]))  # re-enabling is fine


def test_manifest_is_generated_from_definitions(demo: Demo) -> None:
    """The manifest lists keywords, events, ids, field names and types and templates."""
    m = demo.provider.manifest()
    assert m["name"] == "test-demo" and m["guid"] == str(demo.provider.guid)
    assert m["keywords"] == {"net": "0x1", "disk": "0x2", "verbose": "0x4"}
    connect = m["events"][0]
    assert connect == {"id": 1, "name": "Connect", "level": 4, "keywords": ["net"],
                       "fields": [{"name": "host", "type": "str", "unit": ""},
                                  {"name": "port", "type": "int", "unit": ""}],
                       "template": "Connecting to {host}:{port}"}


def test_dotted_wire_names_bind_by_python_name() -> None:
    """A field named ``source.port`` is written as ``source_port`` and formats in templates."""
    p = Provider("test-dotted")
    ev = p.event(1, "Flow", Level.INFO, (), {"source.ip": str, "source.port": (int, "")},
                 "{source.ip}:{source.port}")
    got: list[tuple] = []
    p.enable("s", Level.VERBOSE, 0, 0, got.append)
    ev.write_fields(source_port=80, source_ip="10.0.0.1")
    assert got[0][3:] == ("10.0.0.1", 80)
    assert format_message(ev.template, {"source.ip": "10.0.0.1", "source.port": 80}) == \
        "10.0.0.1:80"


def test_field_declarations_are_checked() -> None:
    """Unknown units, a late or non-int @timestamp, and two names for one parameter are refused."""
    p = Provider("test-checked")
    bad: list[dict] = [{"n": (int, "furlongs")}, {"a": int, "@timestamp": int},
                       {"@timestamp": str}, {"source.ip": str, "source_ip": str},
                       {"bad..name": str}]
    for i, fields in enumerate(bad, 1):
        with pytest.raises(ConfigError):
            p.event(i, f"E{i}", Level.INFO, (), fields)


def test_manifest_declares_units_and_round_trips() -> None:
    """Each field's unit is in the manifest and survives parsing it back (a hub's mirror)."""
    p = Provider("test-units")
    p.event(1, "Flow", Level.INFO, (), {"@timestamp": (int, "ns"), "network.bytes": (int, "By")})
    parsed = Manifest.from_json(p.manifest())
    assert parsed.events["Flow"].declarations() == {"@timestamp": ("int", "ns"),
                                                    "network.bytes": ("int", "By")}
    assert parsed.to_json() == p.manifest() | {"guid": str(p.guid)}
