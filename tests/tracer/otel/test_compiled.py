"""Compiled rules encode event fields through caches that stay correct and bounded."""

from __future__ import annotations

from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.tracer.otel.receiver import attrs_of
from tracer.otel import DEFAULT_MAPPING
from tracer.otel._compiled import CompiledRule

COMMAND = DEFAULT_MAPPING.rule("wfptrace-msnmon", "Command")


def decoded(encoded: bytes) -> dict[str, Any]:
    """Attribute fields under the Span.attributes tag, decoded."""
    return attrs_of(Span.FromString(encoded).attributes)


def fields(**kw: Any) -> dict[str, Any]:
    base = {"network.community_id": "1:x", "network.direction": "sent", "verb": "USR", "trid": 3,
            "args": ["TWN", "I", "a@b"], "payload_len": 0, "offset": 0}
    return {**base, **kw}


def test_encoding_leaves_out_flow_and_time_fields_and_keeps_lists() -> None:
    """The flow id and the time are not attributes; a list becomes an array attribute."""
    c = CompiledRule(COMMAND, DEFAULT_MAPPING)
    got = decoded(c.encode(fields(), c.span_cache))
    assert got == {"network.direction": "sent", "msnp.verb": "USR", "msnp.trid": 3,
                   "msnp.args": ["TWN", "I", "a@b"], "msnp.payload_len": 0, "msnp.offset": 0}


def test_cached_encodings_follow_the_values() -> None:
    """Encoding several events through one cache gives each event its own values."""
    c = CompiledRule(COMMAND, DEFAULT_MAPPING)
    for trid in (1, 2, 1, 3):
        got = decoded(c.encode(fields(trid=trid, args=[str(trid)]), c.span_cache))
        assert got["msnp.trid"] == trid and got["msnp.args"] == [str(trid)]


def test_high_cardinality_fields_are_not_kept() -> None:
    """A field with thousands of distinct values (an offset) stops filling the cache."""
    c = CompiledRule(COMMAND, DEFAULT_MAPPING)
    for i in range(10_000):
        c.encode(fields(offset=i), c.span_cache)
    assert len(c.span_cache) < 4096 + 100
    assert decoded(c.encode(fields(offset=123_456), c.span_cache))["msnp.offset"] == 123_456


def test_an_event_with_another_layout_is_still_encoded() -> None:
    """Fields added or missing compared with the first event are all encoded."""
    c = CompiledRule(COMMAND, DEFAULT_MAPPING)
    c.encode(fields(), c.span_cache)
    assert decoded(c.encode({"network.community_id": "f", "verb": "OUT", "extra": {"k": [1]}},
                            c.span_cache)) == {"msnp.verb": "OUT", "msnp.extra": {"k": [1]}}


def test_event_names_follow_their_field() -> None:
    """The span-event name template is cached by the value it depends on."""
    c = CompiledRule(COMMAND, DEFAULT_MAPPING)
    assert c.event_name({"verb": "USR"}) == b"\x12\x08MSNP USR"
    assert c.event_name({"verb": "XFR"}) == b"\x12\x08MSNP XFR"
    assert c.event_name({"verb": "USR"}, 0x2A) == b"\x2a\x08MSNP USR"
