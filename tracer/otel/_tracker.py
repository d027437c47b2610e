"""Turning decoded events into spans and log records, following the mapping table.

One tracker runs on the backend's mapping thread. It keeps the open flow spans
(keyed by the flow field), their unanswered requests, and the span context of
recently closed flows so late events, log records and summaries still join them.

A flow's trace and span ids derive from the flow (its ``flow_id`` and start time),
so every hub process that sees the flow gives its spans the same trace id. Since
OpenTelemetry cannot export an unfinished span, an open flow is shown by pending
spans: ``"<name> (open)"``, a child of the flow's span, made when the flow starts and
again every interval while it changes; the flow's own span follows when it ends.
"""

from __future__ import annotations

import hashlib
import os
import random
import struct
import time
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Any

from tracer import Event

from ._compiled import CompiledRule, hashable
from ._encode import encode_span
from ._mapping import Action, Mapping
from ._records import LogData, SpanData
from ._stats import OtlpStats
from ._wire import VARINT, field_bytes, varint

__all__ = ["Limits", "SpanTracker"]

# tracer Level (1 critical .. 5 verbose) -> OpenTelemetry severity number and text
_SEVERITY = {1: (21, "FATAL"), 2: (17, "ERROR"), 3: (13, "WARN"), 4: (9, "INFO"), 5: (5, "DEBUG")}
_pack_q = struct.Struct("<Q").pack


class Limits:
    """Bounds on the tracker's memory."""

    def __init__(self, *, idle_timeout: float = 120.0, max_open_flows: int = 65536,
                 max_span_events: int = 1024, max_pending: int = 256,
                 max_closed: int = 65536) -> None:
        self.idle_timeout = idle_timeout
        self.max_open_flows = max_open_flows
        self.max_span_events = max_span_events
        self.max_pending = max_pending
        self.max_closed = max_closed


class SpanTracker:
    """Maps batches of events; finished spans and logs collect in ``spans`` and ``logs``."""

    def __init__(self, mapping: Mapping, limits: Limits, stats: OtlpStats,
                 logs: bool = True, time_shift: str | float | None = None,
                 open_spans: bool = True) -> None:
        self.mapping = mapping
        self.limits = limits
        self._flow_field = mapping.flow_field
        self._max_events = limits.max_span_events
        self.stats = stats
        self.want_logs = logs
        #: finished spans, encoded: (provider, ``Span`` body)
        self.spans: list[tuple[str, bytes]] = []
        self.logs: list[LogData] = []
        self.flows: dict[Any, SpanData] = {}
        #: recently closed flows: flow -> (trace id, span id, start, end)
        self.closed: OrderedDict[Any, tuple[bytes, bytes, int, int]] = OrderedDict()
        #: flows opened and not yet shown by a pending span: (flow, wall time of opening)
        self._new: deque[tuple[Any, float]] = deque()
        #: False: no pending spans (nothing is queued for them either)
        self.open_spans = open_spans
        self._last_snap = 0.0
        #: ns added to every time (``time_shift``: "now" fixes it at the first event)
        self.shift = 0 if time_shift in (None, "now") else int(float(time_shift) * 1e9)
        self._shift_now = time_shift == "now"
        self._rules: dict[tuple[str, str], CompiledRule] = {}
        self._rng = random.Random(os.urandom(16))
        self._now = 0.0
        self._handlers = {Action.FLOW_START: self._flow_start, Action.FLOW_EVENT: self._flow_event,
                          Action.FLOW_END: self._flow_end, Action.TRANSACTION: self._transaction,
                          Action.SUMMARY_SPAN: self._summary, Action.LOG: self._log}

    # -- entry points -------------------------------------------------------------------
    def map(self, events: Iterable[Event]) -> None:
        """Map a batch of events (wall time of arrival drives the idle timeout)."""
        self._now = time.monotonic()
        rules = self._rules
        n = 0
        shift = self.shift
        lo, hi = self.stats.time_first_ns or (1 << 63), self.stats.time_last_ns
        for ev in events:
            c = rules.get((ev.provider, ev.name)) or self._compiled(ev)
            t = (ev.fields.get(c.time_field) or ev.time_ns) + shift
            if self._shift_now:
                shift = self.shift = time.time_ns() - t
                t += shift
                self._shift_now = False
            if t < lo:
                lo = t
            if t > hi:
                hi = t
            n += 1
            try:
                for handler in c.handlers:
                    handler(ev, c, t)
            except Exception:  # odd field values must not stop the export of the rest
                self.stats.mapping_errors += 1
        self.stats.events_mapped += n
        self.stats.flows_open = len(self.flows)
        if n:
            self.stats.time_first_ns, self.stats.time_last_ns = lo, hi

    def pending_spans(self, now: float, interval: float, min_age: float = 0.0) -> None:
        """Make the flows still open visible: a pending span for each flow open for
        ``min_age`` seconds (shorter flows need none: their final span comes as soon),
        and every ``interval`` seconds one for each flow that changed since."""
        new = self._new
        while new and now - new[0][1] >= min_age:
            span = self.flows.get(new.popleft()[0])
            if span is not None and span.snap_wall == 0.0:
                self._pending(span, now)
        if now - self._last_snap < interval:
            return
        self._last_snap = now
        for span in self.flows.values():  # flows not shown yet wait in the queue above
            if span.snap_wall and now - span.snap_wall >= interval \
                    and span.end_ns != span.snap_end:
                self._pending(span, now)

    def _pending(self, flow: SpanData, now: float) -> None:
        span = SpanData(flow.provider, f"{flow.name} (open)", flow.trace_id, self._span_id(),
                        flow.start_ns, flow.span_id)
        span.end_ns = flow.end_ns
        span.attrs = {**flow.attrs, "wfptrace.flow.state": "open",
                      "wfptrace.flow.events": len(flow.events) + flow.dropped_events}
        flow.snap_wall, flow.snap_end = now, flow.end_ns
        self.stats.open_spans += 1
        self._finish(span)

    def sweep(self, now: float | None = None) -> None:
        """End flows with no event for the idle timeout."""
        now = time.monotonic() if now is None else now
        limit = now - self.limits.idle_timeout
        for fid in [f for f, s in self.flows.items() if s.last_wall < limit]:
            self._end_flow(fid, "idle_timeout")
            self.stats.flows_idle_closed += 1
        self.stats.flows_open = len(self.flows)

    def finish(self) -> None:
        """End every open flow (the session is stopping)."""
        for fid in list(self.flows):
            self._end_flow(fid, "session_end")
        self.stats.flows_open = 0

    def take(self) -> tuple[list[tuple[str, bytes]], list[LogData]]:
        """The finished spans and log records since the last call."""
        spans, logs = self.spans, self.logs
        self.spans, self.logs = [], []
        return spans, logs

    # -- helpers ------------------------------------------------------------------------
    def _compiled(self, ev: Event) -> CompiledRule:
        key = (ev.provider, ev.name)
        c = self._rules.get(key)
        if c is None:
            c = self._rules[key] = CompiledRule(self.mapping.rule(*key), self.mapping)
            c.handlers = [self._handlers[a] for a in c.rule.actions if a in self._handlers]
            c.time_field = next((f for f in self.mapping.time_fields if f in ev.fields), "")
        return c

    def _span_id(self) -> bytes:
        return (self._rng.getrandbits(64) | 1).to_bytes(8, "big")

    def _ids(self) -> tuple[bytes, bytes]:
        bits = self._rng.getrandbits(192) | 1 | (1 << 64)
        return (bits >> 64).to_bytes(16, "big"), (bits & ((1 << 64) - 1)).to_bytes(8, "big")

    def _context(self, fid: Any) -> tuple[bytes, bytes] | None:
        span = self.flows.get(fid)
        if span is not None:
            return span.trace_id, span.span_id
        done = self.closed.get(fid)
        return None if done is None else (done[0], done[1])

    @staticmethod
    def flow_ids(fid: Any, start_ns: int) -> tuple[bytes, bytes]:
        """The trace and span id of a flow, from its id and start time: the same in every
        hub process that sees the flow (a Collector can route its spans by trace id)."""
        digest = hashlib.blake2b(f"{fid}\x00{start_ns}".encode(), digest_size=24,
                                 person=b"wfptrace.flow").digest()
        trace_id, span_id = digest[:16], digest[16:]
        if not any(trace_id):  # all-zero ids are invalid in OTLP
            trace_id = b"\x01" + trace_id[1:]
        if not any(span_id):
            span_id = b"\x01" + span_id[1:]
        return trace_id, span_id

    def _finish(self, span: SpanData) -> None:
        self.spans.append((span.provider, encode_span(span)))
        self.stats.spans += 1

    def _open_flow(self, ev: Event, c: CompiledRule, t: int, fid: Any) -> SpanData:
        if len(self.flows) >= self.limits.max_open_flows:
            self._end_flow(next(iter(self.flows)), "evicted")
            self.stats.flows_evicted += 1
        trace_id, span_id = self.flow_ids(fid, t)
        span = SpanData(ev.provider, c.name(ev.fields), trace_id, span_id, t)
        span.attrs[self.mapping.field_attrs.get(self.mapping.flow_field, "wfptrace.flow_id")] = fid
        self.flows[fid] = span
        if self.open_spans:
            self._new.append((fid, self._now))
        return span

    def _flow(self, ev: Event, c: CompiledRule, t: int) -> SpanData | None:
        fid = ev.fields.get(self.mapping.flow_field)
        if fid is None:
            return None
        span = self.flows.get(fid)
        if span is None:
            span = self._open_flow(ev, c, t, fid)
            span.name = "flow"
        span.last_wall = self._now
        if t > span.end_ns:
            span.end_ns = t
        elif t < span.start_ns:  # packets out of order: the flow covers all of them
            span.start_ns = t
        return span

    def _late(self, ev: Event, c: CompiledRule, t: int, fid: Any) -> bool:
        """True for an event of a flow closed already: counted, and kept as a log record
        in that flow's trace instead of opening a second trace."""
        if fid not in self.closed:
            return False
        self.stats.late_events += 1
        self._log(ev, c, t)
        return True

    def _end_flow(self, fid: Any, reason: str) -> SpanData:
        span = self.flows.pop(fid)
        span.attrs.setdefault("wfptrace.flow.end", reason)
        self.stats.transactions_unanswered += len(span.pending)
        span.pending = {}
        self.closed[fid] = (span.trace_id, span.span_id, span.start_ns, span.end_ns)
        if len(self.closed) > self.limits.max_closed:
            self.closed.popitem(last=False)
        self._finish(span)
        return span

    # -- actions ------------------------------------------------------------------------
    def _flow_start(self, ev: Event, c: CompiledRule, t: int) -> None:
        fid = ev.fields.get(self.mapping.flow_field)
        if fid is None:
            self._log(ev, c, t)
            return
        span = self.flows.get(fid)
        if span is None:
            span = self._open_flow(ev, c, t, fid)
        elif span.name == "flow":
            span.name = c.name(ev.fields)
        span.last_wall = self._now
        span.attrs.update(c.attrs(ev.fields))
        peer = span.attrs.get("destination.ip")
        if isinstance(peer, str) and "network.type" not in span.attrs:
            span.attrs["network.type"] = "ipv6" if ":" in peer else "ipv4"

    def _flow_event(self, ev: Event, c: CompiledRule, t: int) -> None:
        fields = ev.fields
        span = self.flows.get(fields.get(self._flow_field))
        if span is None:
            if self._late(ev, c, t, fields.get(self._flow_field)):
                return
            span = self._flow(ev, c, t)
            if span is None:
                self._log(ev, c, t)
                return
        span.last_wall = self._now
        if t > span.end_ns:
            span.end_ns = t
        elif t < span.start_ns:
            span.start_ns = t
        events = span.events
        if len(events) < self._max_events:
            body = b"\x09" + _pack_q(t) + c.event_name(fields) + c.encode(fields, c.event_cache)
            n = len(body)
            events.append(b"\x5a" + (VARINT[n] if n < 16384 else varint(n)) + body)
            self.stats.span_events += 1
        else:
            span.dropped_events += 1
            self.stats.span_events_dropped += 1
        for name in c.rule.set_attrs:
            if fields.get(name) is not None:
                span.attrs[c.attr(name)] = fields[name]
        if c.rename_key:
            value = fields.get(c.rename_key)
            if value != span.renamed and value is not None \
                    and value not in c.rule.rename_ignore:
                span.name = c.rename(fields)
                span.renamed = value

    def _flow_end(self, ev: Event, c: CompiledRule, t: int) -> None:
        fid = ev.fields.get(self.mapping.flow_field)
        if fid not in self.flows:
            if not self._late(ev, c, t, fid):
                self._log(ev, c, t)
            return
        span = self.flows[fid]
        span.attrs.update(c.attrs(ev.fields))
        if t > span.end_ns:
            span.end_ns = t
        elif t < span.start_ns:
            span.start_ns = t
        self._end_flow(fid, "closed")

    def _transaction(self, ev: Event, c: CompiledRule, t: int) -> None:
        rule, fields = c.rule, ev.fields
        key = fields.get(rule.key_field)
        flow = self.flows.get(fields.get(self._flow_field))
        if key is None or flow is None:
            return  # a late command was counted by its span event
        direction = fields.get(rule.direction_field)
        pending = flow.pending
        pend = pending.get(key)
        if pend is None or pend[1] == direction:
            if pend is None and len(pending) >= self.limits.max_pending:
                del pending[next(iter(pending))]
                self.stats.transactions_unanswered += 1
            pending[key] = (t, direction, fields, ev.provider)
            return
        del pending[key]
        start, _, request, provider = pend
        reply = (fields.get(rule.verb_field), hashable(fields.get("args")))
        tail = c.reply_cache.get(reply) or c.reply_tail(reply)
        span_id = (self._rng.getrandbits(64) | 1).to_bytes(8, "big")
        body = ((flow.child_prefix or self._child_prefix(flow)) + b"\x12\x08" + span_id
                + c.event_name(request, 0x2A) + b"\x30\x03\x39" + _pack_q(start) + b"\x41"
                + _pack_q(t if t > start else start) + c.encode(request, c.span_cache) + tail)
        self.spans.append((provider, body))
        self.stats.spans += 1

    def _child_prefix(self, flow: SpanData) -> bytes:
        """The encoded trace id and parent span id of the flow's children (cached)."""
        p = flow.child_prefix
        if not p:
            p = flow.child_prefix = (field_bytes(0x0A, flow.trace_id)
                                     + field_bytes(0x22, flow.span_id))
        return p

    def _summary(self, ev: Event, c: CompiledRule, t: int) -> None:
        rule, fields = c.rule, ev.fields
        start = fields.get(rule.start_field)
        start = min(start + self.shift, t) if isinstance(start, int) and start > 0 else t
        fid = fields.get(self.mapping.flow_field)
        flow = self.flows.get(fid)
        done = self.closed.get(fid) if flow is None else None
        attrs = c.attrs(fields, (rule.start_field,))
        if flow is not None:
            trace_id, parent = flow.trace_id, flow.span_id
            lo, hi = flow.start_ns, max(flow.end_ns, t)
            flow.end_ns = hi
        elif done is not None:
            trace_id, parent, lo, hi = done
        else:
            trace_id, parent = self._ids()[0], b""
            lo, hi = start, t
        if start < lo or t > hi:  # a child lies inside its parent: keep the true times aside
            attrs["wfptrace.summary.start_ns"], attrs["wfptrace.summary.end_ns"] = start, t
            start, t = max(start, lo), min(max(t, lo), hi)
        span = SpanData(ev.provider, c.name(fields), trace_id, self._span_id(), start, parent)
        span.end_ns = t
        span.attrs = attrs
        for link_fid in fields.get(rule.links_field) or ():
            link = self._context(link_fid)
            if link is not None and link[1] != parent:
                span.links.append(link)
        self._finish(span)

    def _log(self, ev: Event, c: CompiledRule, t: int) -> None:
        if not self.want_logs:
            return
        severity, text = _SEVERITY.get(ev.level, (0, ""))
        ctx = self._context(ev.fields.get(self.mapping.flow_field))
        trace_id, span_id = ctx if ctx is not None else (b"", b"")
        attrs = {c.attr(k): v for k, v in ev.fields.items()
                 if v is not None and k not in self.mapping.time_fields}
        self.logs.append(LogData(ev.provider or "wfptrace", t, severity, text, ev.message,
                                 ev.name, attrs, trace_id, span_id))
        self.stats.logs += 1
