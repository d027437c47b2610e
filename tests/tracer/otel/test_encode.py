"""Spans, log records and export requests decode with the official messages."""

from __future__ import annotations

from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from tests.tracer.otel.receiver import attrs_of
from tracer.otel._encode import (
    encode_log,
    encode_resource,
    encode_scope,
    encode_span,
    encode_span_event,
    export_request,
    prefix,
)
from tracer.otel._records import STATUS_ERROR, LogData, SpanData
from tracer.otel._wire import attribute, field_bytes

TRACE, SPAN, PARENT = b"\x01" * 16, b"\x02" * 8, b"\x03" * 8


def test_span_fields_events_links_and_status_decode() -> None:
    """Every field the backend sets on a span survives encoding."""
    s = SpanData("p", "MSN flow", TRACE, SPAN, 100, parent_id=PARENT, kind=3)
    s.end_ns = 250
    s.attrs = {"network.peer.port": 1863, "skip": None}
    event = encode_span_event(120, "MSNP USR", [attribute(prefix("msnp.trid"), 7)])
    s.events.append(field_bytes(0x5A, event))
    s.dropped_events = 3
    s.links.append((b"\x04" * 16, b"\x05" * 8))
    s.status, s.status_message = STATUS_ERROR, "error reply 911"
    span = Span.FromString(encode_span(s))
    assert (span.trace_id, span.span_id, span.parent_span_id) == (TRACE, SPAN, PARENT)
    assert span.name == "MSN flow" and span.kind == Span.SPAN_KIND_CLIENT
    assert (span.start_time_unix_nano, span.end_time_unix_nano) == (100, 250)
    assert attrs_of(span.attributes) == {"network.peer.port": 1863}
    assert span.events[0].name == "MSNP USR" and span.events[0].time_unix_nano == 120
    assert attrs_of(span.events[0].attributes) == {"msnp.trid": 7}
    assert span.dropped_events_count == 3
    assert (span.links[0].trace_id, span.links[0].span_id) == (b"\x04" * 16, b"\x05" * 8)
    assert span.status.code == Status.STATUS_CODE_ERROR
    assert span.status.message == "error reply 911"


def test_span_end_never_precedes_its_start() -> None:
    """A span whose last event is older than its start ends at its start."""
    s = SpanData("p", "x", TRACE, SPAN, 500)
    s.end_ns = 400
    assert Span.FromString(encode_span(s)).end_time_unix_nano == 500


def test_log_record_carries_severity_body_attributes_and_span_context() -> None:
    """A log record decodes with its severity, body, event name and trace context."""
    r = LogData("p", 42, 13, "WARN", "invalid command", "InvalidCommand", {"msnp.kind": "x"},
                TRACE, SPAN)
    rec = LogRecord.FromString(encode_log(r))
    assert (rec.time_unix_nano, rec.severity_number, rec.severity_text) == (42, 13, "WARN")
    assert rec.body.string_value == "invalid command"
    assert rec.event_name == "InvalidCommand"
    assert attrs_of(rec.attributes) == {"msnp.kind": "x"}
    assert (rec.trace_id, rec.span_id) == (TRACE, SPAN)


def test_export_requests_group_items_by_resource() -> None:
    """One ResourceSpans per resource, with the scope and its spans; logs share the layout."""
    scope = encode_scope("wfptrace.otel", "0.1.0")
    a, b = encode_resource({"service.name": "a"}), encode_resource({"service.name": "b"})
    span = encode_span(SpanData("a", "x", TRACE, SPAN, 1))
    req = ExportTraceServiceRequest.FromString(export_request({a: [span, span], b: [span]},
                                                              scope))
    assert [attrs_of(rs.resource.attributes)["service.name"] for rs in req.resource_spans] \
        == ["a", "b"]
    assert [len(rs.scope_spans[0].spans) for rs in req.resource_spans] == [2, 1]
    assert req.resource_spans[0].scope_spans[0].scope.name == "wfptrace.otel"
    log = encode_log(LogData("a", 1, 9, "INFO", "m", "E", {}))
    logs = ExportLogsServiceRequest.FromString(export_request({a: [log]}, scope))
    assert logs.resource_logs[0].scope_logs[0].log_records[0].body.string_value == "m"
