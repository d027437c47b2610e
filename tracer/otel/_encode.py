"""OTLP protobuf encoding of spans, span events, log records and export requests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._records import LogData, SpanData
from ._wire import attribute, field_bytes, field_fixed64, key_prefix, varint

__all__ = ["encode_attrs", "encode_log", "encode_resource", "encode_scope", "encode_span",
           "encode_span_event", "export_request"]

_KEYS: dict[str, bytes] = {}


def prefix(key: str) -> bytes:
    """The cached encoded key of an attribute name."""
    p = _KEYS.get(key)
    if p is None:
        if len(_KEYS) > 65536:
            _KEYS.clear()
        p = _KEYS[key] = key_prefix(key)
    return p


def encode_attrs(tag: int, attrs: Mapping[str, Any]) -> bytes:
    """Repeated ``KeyValue`` fields under ``tag``, skipping None values."""
    return b"".join([field_bytes(tag, attribute(prefix(k), v))
                     for k, v in attrs.items() if v is not None])


def encode_span_event(time_ns: int, name: str, attrs: Iterable[bytes]) -> bytes:
    """A ``Span.Event`` body; ``attrs`` are already-encoded ``KeyValue`` bodies."""
    return (field_fixed64(0x09, time_ns) + field_bytes(0x12, name.encode())
            + b"".join([field_bytes(0x1A, a) for a in attrs]))


def _status(s: SpanData) -> bytes:
    body = b""
    if s.status_message:
        body += field_bytes(0x12, s.status_message.encode())
    if s.status:
        body += b"\x18" + varint(s.status)
    return field_bytes(0x7A, body)


def encode_span(s: SpanData) -> bytes:
    """A finished ``Span`` body."""
    parts = [field_bytes(0x0A, s.trace_id), field_bytes(0x12, s.span_id)]
    if s.parent_id:
        parts.append(field_bytes(0x22, s.parent_id))
    parts += [field_bytes(0x2A, s.name.encode()), b"\x30" + varint(s.kind),
              field_fixed64(0x39, s.start_ns), field_fixed64(0x41, max(s.end_ns, s.start_ns)),
              s.attr_bytes, encode_attrs(0x4A, s.attrs)]
    parts += s.events
    if s.dropped_events:
        parts.append(b"\x60" + varint(s.dropped_events))
    parts += [field_bytes(0x6A, field_bytes(0x0A, t) + field_bytes(0x12, i)) for t, i in s.links]
    parts.append(_status(s))
    return b"".join(parts)


def encode_log(r: LogData) -> bytes:
    """A ``LogRecord`` body, carrying its span context when it has one."""
    parts = [field_fixed64(0x09, r.time_ns), field_fixed64(0x59, r.time_ns),
             b"\x10" + varint(r.severity), field_bytes(0x1A, r.severity_text.encode()),
             field_bytes(0x2A, field_bytes(0x0A, r.body.encode())),
             encode_attrs(0x32, r.attrs), field_bytes(0x62, r.event_name.encode())]
    if r.trace_id:
        parts += [field_bytes(0x4A, r.trace_id), field_bytes(0x52, r.span_id)]
    return b"".join(parts)


def encode_resource(attrs: Mapping[str, Any]) -> bytes:
    """A ``Resource`` body."""
    return encode_attrs(0x0A, attrs)


def encode_scope(name: str, version: str) -> bytes:
    """An ``InstrumentationScope`` body."""
    return field_bytes(0x0A, name.encode()) + field_bytes(0x12, version.encode())


def export_request(groups: Mapping[bytes, list[bytes]], scope: bytes) -> bytes:
    """An ``ExportTraceServiceRequest`` or ``ExportLogsServiceRequest`` body.

    ``groups`` maps an encoded resource to its encoded spans (or log records): the
    two requests share their layout (resource = 1, scope list = 2, scope = 1, items = 2).
    """
    out = []
    for resource, items in groups.items():
        scoped = field_bytes(0x0A, scope) + b"".join([field_bytes(0x12, i) for i in items])
        out.append(field_bytes(0x0A, field_bytes(0x0A, resource) + field_bytes(0x12, scoped)))
    return b"".join(out)
