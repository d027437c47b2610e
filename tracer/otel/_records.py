"""The in-memory shapes of what the backend exports: spans and log records."""

from __future__ import annotations

from typing import Any

__all__ = ["KIND_CLIENT", "KIND_INTERNAL", "STATUS_ERROR", "STATUS_UNSET", "LogData", "SpanData"]

KIND_INTERNAL = 1
KIND_CLIENT = 3
STATUS_UNSET = 0
STATUS_ERROR = 2


class SpanData:
    """One span, open or finished; span events are kept already encoded."""

    __slots__ = ("attr_bytes", "attrs", "child_prefix", "dropped_events", "end_ns", "events",
                 "kind", "last_wall", "links", "name", "parent_id", "pending", "provider",
                 "renamed", "snap_end", "snap_wall", "span_id", "start_ns", "status",
                 "status_message", "trace_id")

    def __init__(self, provider: str, name: str, trace_id: bytes, span_id: bytes,
                 start_ns: int, parent_id: bytes = b"", kind: int = KIND_INTERNAL) -> None:
        self.provider = provider
        self.name = name
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id
        self.kind = kind
        self.start_ns = start_ns
        self.end_ns = start_ns
        self.attrs: dict[str, Any] = {}
        #: attributes already encoded as ``Span.attributes`` fields
        self.attr_bytes = b""
        self.child_prefix = b""
        #: span events already encoded as ``Span.events`` fields
        self.events: list[bytes] = []
        self.dropped_events = 0
        self.links: list[tuple[bytes, bytes]] = []
        self.status = STATUS_UNSET
        self.status_message = ""
        self.last_wall = 0.0
        #: when the last pending ("open") span of this flow was made, and its end then
        self.snap_wall = 0.0
        self.snap_end = -1
        #: the field value the span was last renamed from
        self.renamed: Any = None
        #: open transactions on this flow: key -> (start_ns, direction, verb fields)
        self.pending: dict[Any, tuple[int, Any, dict[str, Any], str]] = {}


class LogData:
    """One log record, with the span context of its flow when there is one."""

    __slots__ = ("attrs", "body", "event_name", "provider", "severity", "severity_text",
                 "span_id", "time_ns", "trace_id")

    def __init__(self, provider: str, time_ns: int, severity: int, severity_text: str,
                 body: str, event_name: str, attrs: dict[str, Any],
                 trace_id: bytes = b"", span_id: bytes = b"") -> None:
        self.provider = provider
        self.time_ns = time_ns
        self.severity = severity
        self.severity_text = severity_text
        self.body = body
        self.event_name = event_name
        self.attrs = attrs
        self.trace_id = trace_id
        self.span_id = span_id
