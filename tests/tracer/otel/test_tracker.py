"""The tracker turns events into spans and logs following the mapping table."""

from __future__ import annotations

import itertools
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tracer import Event
from tracer.otel import Action, EventRule, Mapping
from tracer.otel._mapping import DEFAULT_MAPPING
from tracer.otel._stats import OtlpStats
from tracer.otel._tracker import Limits, SpanTracker

MSN = "wfptrace-msnmon"
_seq = itertools.count(1)


#: Keyword spellings of the vocabulary's dotted field names.
_WIRE = {"flow_id": "network.community_id", "direction": "network.direction",
         "flow_ids": "community_ids", "start_ns": "event.start"}


def ev(name: str, provider: str = MSN, t: int = 1_000, level: int = 4, **fields: Any) -> Event:
    fields = {_WIRE.get(k, k): v for k, v in fields.items()}
    return Event(time_ns=t, seq=next(_seq), provider=provider, name=name, id=1, level=level,
                 keywords=(), pid=1, tid=1, fields=fields, template="{verb}")


def tracker(mapping: Mapping = DEFAULT_MAPPING, **limits: Any) -> SpanTracker:
    return SpanTracker(mapping, Limits(**limits), OtlpStats())


def spans(t: SpanTracker) -> list[Span]:
    return [Span.FromString(body) for _, body in t.take()[0]]


def cmd(fid: str, direction: str, verb: str, trid: int | None, t: int) -> Event:
    return ev("Command", t=t, flow_id=fid, direction=direction, verb=verb, trid=trid, args="",
              payload_len=0, role="notification")


def test_flow_span_lasts_from_establish_to_close() -> None:
    """The flow span starts at FlowEstablished and ends at FlowClosed."""
    t = tracker()
    t.map([ev("FlowEstablished", t=100, flow_id="f"), ev("FlowClosed", t=900, flow_id="f")])
    (span,) = spans(t)
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (100, 900)
    assert not t.flows


def test_time_field_replaces_the_emit_time() -> None:
    """A mapping's time field (here ts_ns) is used instead of the event's time."""
    t = tracker(Mapping(time_fields=("ts_ns",)))
    t.map([ev("FlowEstablished", t=100, flow_id="f", ts_ns=7),
           ev("FlowClosed", t=900, flow_id="f", ts_ns=8)])
    (span,) = spans(t)
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (7, 8)


def test_reply_in_the_same_direction_does_not_close_a_transaction() -> None:
    """Only a command with the same TrID in the other direction is the reply."""
    t = tracker()
    t.map([ev("FlowEstablished", flow_id="f"), cmd("f", "send", "CHG", 9, 10),
           cmd("f", "send", "CHG", 9, 20), cmd("f", "recv", "CHG", 9, 35)])
    (txn,) = [s for s in spans(t) if s.name == "MSNP CHG"]
    assert (txn.start_time_unix_nano, txn.end_time_unix_nano) == (20, 35)


def test_commands_without_trid_are_only_span_events() -> None:
    """A server push without TrID adds a span event and no transaction."""
    t = tracker()
    t.map([ev("FlowEstablished", flow_id="f"), cmd("f", "recv", "NLN", None, 10)])
    t.finish()
    (flow,) = spans(t)
    assert [e.name for e in flow.events] == ["MSNP NLN"]


def test_unanswered_commands_are_counted_when_the_flow_ends() -> None:
    """Requests still waiting for a reply at the flow's end are counted, not exported."""
    t = tracker()
    t.map([ev("FlowEstablished", flow_id="f"), cmd("f", "send", "OUT", 3, 10),
           ev("FlowClosed", flow_id="f")])
    assert len(spans(t)) == 1 and t.stats.transactions_unanswered == 1


def test_pending_requests_per_flow_are_bounded() -> None:
    """Beyond max_pending open requests the oldest is forgotten and counted."""
    t = tracker(max_pending=2)
    t.map([ev("FlowEstablished", flow_id="f")] + [cmd("f", "send", "PNG", i, i) for i in range(5)])
    assert len(t.flows["f"].pending) == 2 and t.stats.transactions_unanswered == 3


def test_span_events_beyond_the_limit_are_counted_on_the_span() -> None:
    """A flow with more commands than max_span_events reports the rest as dropped."""
    t = tracker(max_span_events=3)
    t.map([ev("FlowEstablished", flow_id="f")]
          + [cmd("f", "recv", "NLN", None, i) for i in range(5)])
    t.finish()
    (flow,) = spans(t)
    assert len(flow.events) == 3 and flow.dropped_events_count == 2
    assert t.stats.span_events_dropped == 2


def test_idle_flows_end_at_their_last_event() -> None:
    """A flow with no event for the idle timeout ends, at the time of its last event."""
    t = tracker(idle_timeout=5.0)
    t.map([ev("FlowEstablished", t=100, flow_id="f"), cmd("f", "recv", "NLN", None, 300)])
    t.sweep(t.flows["f"].last_wall + 1)
    assert t.flows
    t.sweep(t.flows["f"].last_wall + 6)
    (flow,) = spans(t)
    assert flow.end_time_unix_nano == 300
    assert t.stats.flows_idle_closed == 1
    assert {a.key: a.value.string_value for a in flow.attributes}["wfptrace.flow.end"] \
        == "idle_timeout"


def test_open_flows_are_bounded_by_evicting_the_oldest() -> None:
    """Past max_open_flows the oldest flow is ended and counted as evicted."""
    t = tracker(max_open_flows=2)
    t.map([ev("FlowEstablished", flow_id=f"f{i}") for i in range(3)])
    assert list(t.flows) == ["f1", "f2"] and t.stats.flows_evicted == 1
    assert len(spans(t)) == 1


def test_events_for_an_unknown_flow_open_it() -> None:
    """A command on a flow first seen mid-session opens a span for that flow."""
    t = tracker()
    t.map([cmd("mid", "recv", "NLN", None, 5)])
    t.finish()
    (flow,) = spans(t)
    assert flow.name == "MSN notification" and flow.start_time_unix_nano == 5


def test_unknown_events_become_logs_and_lost_records_are_warnings() -> None:
    """Events no rule names are logs; the in-band loss record is a WARN log."""
    t = tracker()
    lost = Event(time_ns=5, seq=1, provider="", name="EventsLost", id=0, level=3, keywords=(),
                 pid=1, tid=1, fields={"count": 3, "first_ns": 1, "last_ns": 5}, kind="lost")
    t.map([ev("Whatever", provider="other-prov", x=1), lost])
    a, b = t.take()[1]
    assert a.provider == "other-prov" and a.attrs == {"other.prov.x": 1}
    assert a.trace_id == b""
    assert b.provider == "wfptrace" and b.severity_text == "WARN"
    assert "3 events lost" in b.body


def test_a_custom_table_maps_other_providers() -> None:
    """A user table can make any provider's events into flows, with its own names."""
    mapping = Mapping(rules=(
        EventRule("my-proxy", "Open", (Action.FLOW_START,), name="proxy {host}",
                  attrs={"host": "server.address"}),
        EventRule("my-proxy", "Done", (Action.FLOW_END,)),
    ), flow_field="conn")
    t = tracker(mapping)
    t.map([ev("Open", provider="my-proxy", conn=1, host="example.org"),
           ev("Done", provider="my-proxy", conn=1, status=200)])
    (span,) = spans(t)
    attrs = {a.key: a.value for a in span.attributes}
    assert span.name == "proxy example.org"
    assert attrs["server.address"].string_value == "example.org"
    assert attrs["my.proxy.status"].int_value == 200


def test_bad_field_values_are_counted_and_do_not_stop_the_batch() -> None:
    """An event whose fields break a rule is counted as a mapping error; later ones map."""
    t = tracker()
    t.map([ev("FlowEstablished", flow_id=["unhashable"]), ev("FlowEstablished", flow_id="ok")])
    assert t.stats.mapping_errors == 1 and "ok" in t.flows
    assert t.stats.events_mapped == 2
