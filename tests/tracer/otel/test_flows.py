"""A trace per flow whatever the order, and long flows visible while they last."""

from __future__ import annotations

import time
from typing import Any

from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.tracer.otel.conftest import Inspect, Msn
from tests.tracer.otel.receiver import Receiver, attrs_of
from tests.tracer.otel.test_tracker import cmd, ev, spans, tracker
from tracer import Hub, ProviderEnable, SessionConfig
from tracer.otel import OtlpOptions
from tracer.otel._tracker import SpanTracker

INSPECT = "wfptrace-inspect"


def flow_events(fid: str, t0: int) -> list:
    return [ev("FlowEstablished", t=t0, flow_id=fid), cmd(fid, "send", "CHG", 1, t0 + 10),
            cmd(fid, "recv", "CHG", 1, t0 + 20), ev("FlowClosed", t=t0 + 30, flow_id=fid)]


def test_the_same_flow_gets_the_same_trace_id_in_any_process() -> None:
    """Two trackers (two hub processes) seeing one flow give its spans one trace id."""
    a, b = tracker(), tracker()
    a.map(flow_events("1:abc", 5_000))
    b.map(flow_events("1:abc", 5_000))
    sa, sb = spans(a), spans(b)
    assert {s.trace_id for s in sa} == {s.trace_id for s in sb} and len({s.trace_id
                                                                         for s in sa}) == 1
    flow_a = [s for s in sa if not s.parent_span_id]
    flow_b = [s for s in sb if not s.parent_span_id]
    assert flow_a[0].span_id == flow_b[0].span_id
    assert SpanTracker.flow_ids("1:abc", 5_000)[0] == sa[0].trace_id


def test_a_later_flow_on_the_same_five_tuple_is_another_trace() -> None:
    """The flow's start time is part of its trace id: a reused 5-tuple is a new trace."""
    assert SpanTracker.flow_ids("1:abc", 5_000)[0] != SpanTracker.flow_ids("1:abc", 9_000)[0]


def test_late_packets_join_the_closed_flows_trace_and_are_counted() -> None:
    """Events after a connection closed open no second trace: counted, logged in its trace."""
    t = tracker()
    t.map([ev("ConnectionPended", INSPECT, t=100, flow_id="c", direction="outbound"),
           ev("ConnectionClosed", INSPECT, t=200, flow_id="c"),
           ev("PacketVerdict", INSPECT, t=250, flow_id="c", direction="inbound", verdict="allow"),
           ev("ConnectionClosed", INSPECT, t=260, flow_id="c")])
    out, logs = t.take()
    (span,) = [Span.FromString(b) for _, b in out]
    assert t.stats.late_events == 2 and not t.flows
    assert [r.trace_id for r in logs] == [span.trace_id] * 2


def test_nine_connections_with_late_packets_are_nine_traces(hub: Hub,
                                                            inspect_provider: Inspect,
                                                            receiver: Receiver) -> None:
    """The inspect provider's late packets no longer double the traces (9, not 18)."""
    hub.start_session(SessionConfig("late", [ProviderEnable(INSPECT)], flush_interval=0.01,
                                    otlp=OtlpOptions(endpoint=receiver.start_http(),
                                                     schedule_delay=0.02)))
    ip = inspect_provider
    for i in range(9):
        fid = f"1:conn{i}"
        ip.pended.write(fid, "tcp", "outbound", "connect", "10.0.0.1", 40000 + i, "10.0.0.2",
                        80, "/usr/bin/curl", 7)
        ip.packet.write(fid, "outbound", 60, "allow")
        ip.closed.write(fid, "allow", "fin", 2)
        ip.packet.write(fid, "inbound", 40, "allow")  # after the close
    stats = hub.stop_session("late")
    assert len({s.item.trace_id for s in receiver.spans}) == 9
    assert stats.otel is not None and stats.otel["otel_late_events"] == 9


def test_a_flow_covers_its_out_of_order_events_and_children() -> None:
    """An event older than the flow start moves the start: children lie inside the parent."""
    t = tracker()
    t.map([ev("FlowEstablished", t=1_000, flow_id="f"), cmd("f", "send", "USR", 1, 900),
           cmd("f", "recv", "USR", 1, 1_100), ev("FlowClosed", t=1_200, flow_id="f")])
    out = spans(t)
    flow = next(s for s in out if not s.parent_span_id)
    (child,) = [s for s in out if s.parent_span_id]
    assert flow.start_time_unix_nano == 900 and flow.end_time_unix_nano == 1_200
    assert flow.start_time_unix_nano <= child.start_time_unix_nano
    assert child.end_time_unix_nano <= flow.end_time_unix_nano


def test_a_summary_span_starting_before_its_parent_is_kept_inside_it() -> None:
    """A login chain that began before its flow lies inside the flow; the true start is
    kept as an attribute."""
    t = tracker()
    t.map([ev("FlowEstablished", t=1_000, flow_id="ns"),
           ev("Login", t=1_500, flow_id="ns", user="a", start_ns=400, flow_ids=["ns"]),
           ev("FlowClosed", t=2_000, flow_id="ns")])
    out = spans(t)
    flow = next(s for s in out if not s.parent_span_id)
    login = next(s for s in out if s.name == "MSN login")
    assert (login.start_time_unix_nano, login.end_time_unix_nano) == (1_000, 1_500)
    assert flow.start_time_unix_nano <= login.start_time_unix_nano
    assert attrs_of(login.attributes)["wfptrace.summary.start_ns"] == 400


def shifted(shift: Any) -> list[Span]:
    t = SpanTracker(tracker().mapping, tracker().limits, tracker().stats, time_shift=shift)
    t.map(flow_events("f", 1_000_000_000))
    return spans(t)


def test_time_shift_now_moves_spans_to_the_present_keeping_durations() -> None:
    """--time-shift now: the first event lands at the present, durations unchanged."""
    before = time.time_ns()
    out = shifted("now")
    flow = next(s for s in out if not s.parent_span_id)
    assert before <= flow.start_time_unix_nano <= time.time_ns()
    assert flow.end_time_unix_nano - flow.start_time_unix_nano == 30


def test_time_shift_in_seconds_moves_every_time() -> None:
    """A numeric shift adds that many seconds to span and event times."""
    out = shifted(2.5)
    flow = next(s for s in out if not s.parent_span_id)
    assert flow.start_time_unix_nano == 3_500_000_000
    assert flow.events[0].time_unix_nano == 3_500_000_010


def test_pending_spans_show_an_open_flow_and_refresh_while_it_changes() -> None:
    """An open flow gets a pending "(open)" child span, again after the interval only if
    it changed since."""
    t = tracker()
    t.map([ev("FlowEstablished", t=100, flow_id="f")])
    now = time.monotonic()
    t.pending_spans(now + 0.1, interval=1.0, min_age=0.5)
    assert spans(t) == []  # younger than min_age: its final span may come as soon
    t.pending_spans(now + 0.6, interval=1.0, min_age=0.5)
    (first,) = spans(t)
    trace_id, span_id = SpanTracker.flow_ids("f", 100)
    assert (first.name, first.trace_id, first.parent_span_id) == ("MSN flow (open)", trace_id,
                                                                    span_id)
    assert attrs_of(first.attributes)["wfptrace.flow.state"] == "open"
    t.pending_spans(now + 2.0, interval=1.0, min_age=0.5)
    assert spans(t) == []  # nothing changed
    t.map([cmd("f", "send", "CHG", 1, 300)])
    t.pending_spans(now + 3.0, interval=1.0, min_age=0.5)
    (second,) = spans(t)
    assert second.end_time_unix_nano == 300 and second.span_id != first.span_id


def test_a_flow_that_never_ends_is_visible_within_one_interval(hub: Hub, msn: Msn,
                                                              receiver: Receiver) -> None:
    """Live: an open flow shows in the backend within one interval, under its own trace id,
    and its final span follows in the same trace when the session stops."""
    interval = 0.5
    hub.start_session(SessionConfig("long", [ProviderEnable("wfptrace-msnmon")],
                                    flush_interval=0.01,
                                    otlp=OtlpOptions(endpoint=receiver.start_grpc(),
                                                     protocol="grpc", schedule_delay=0.05,
                                                     open_span_interval=interval)))
    msn.open("1:long")
    t0 = time.monotonic()
    assert receiver.wait(lambda r: bool(r.named("MSN flow (open)")), timeout=interval + 1)
    assert time.monotonic() - t0 <= interval + 0.5
    msn.cmd("1:long", "send", "CHG", 7, "NLN")
    assert receiver.wait(lambda r: bool(r.named("MSN notification (open)")), interval + 1)
    hub.stop_session("long")
    final = receiver.span("MSN notification")
    pending = receiver.named("MSN flow (open)") + receiver.named("MSN notification (open)")
    assert {p.item.trace_id for p in pending} == {final.trace_id}
    assert {p.item.parent_span_id for p in pending} == {final.span_id}
    assert final.start_time_unix_nano <= min(p.item.start_time_unix_nano for p in pending)


def test_without_pending_spans_nothing_is_kept_for_them() -> None:
    """open_spans=False: flows are not queued for pending spans (memory stays bounded)."""
    t = SpanTracker(tracker().mapping, tracker().limits, tracker().stats, open_spans=False)
    t.map([ev("FlowEstablished", t=100 + i, flow_id=f"f{i}") for i in range(100)])
    t.pending_spans(time.monotonic() + 60, interval=1.0)
    assert not t._new and spans(t) == []
