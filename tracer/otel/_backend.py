"""The OpenTelemetry session backend: events in, OTLP spans and log records out.

``handle`` runs on the session's flush thread and only queues the batch (bounded,
never blocking). A mapping thread turns events into spans and logs and encodes
export requests; a sender thread sends them with retries. Stopping the session
ends the open flows and sends what is left within ``close_timeout``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

from tracer import Event

from ._encode import encode_log, encode_resource, encode_scope, export_request
from ._env import resource_attributes, signal_settings
from ._inbox import Inbox
from ._options import OtlpOptions
from ._records import LogData
from ._sender import Retry, Sender
from ._stats import OtlpStats
from ._tracker import Limits, SpanTracker
from ._transport import GrpcTransport, HttpTransport, Transport

__all__ = ["SCOPE_NAME", "OtlpBackend"]

SCOPE_NAME = "wfptrace.otel"
SCOPE_VERSION = "0.1.0"
_MAX_REQUEST_BYTES = 3_000_000  # below the usual 4 MiB receive limit of collectors


def make_transport(options: OtlpOptions, signal: str) -> Transport:
    """The transport of one signal, from the options and the environment."""
    s = signal_settings(options, signal)
    if s.protocol == "grpc":
        return GrpcTransport(signal, s.endpoint, s.headers, s.compression, s.insecure)
    return HttpTransport(signal, s.endpoint, s.headers, s.compression)


class OtlpBackend:
    """A session backend exporting flows, transactions and logs over OTLP."""

    def __init__(self, options: OtlpOptions | None = None, *, session: str = "") -> None:
        self.options = opts = options or OtlpOptions()
        self.session = session
        self.stats_obj = OtlpStats()
        transports = {"traces": make_transport(opts, "traces")}
        if opts.logs:
            transports["logs"] = make_transport(opts, "logs")
        timeout = signal_settings(opts, "traces").timeout
        self.sender = Sender(transports, self.stats_obj, timeout=timeout,
                             max_queued=opts.max_queued_requests,
                             retry=Retry(opts.retry_initial, opts.retry_max, opts.retry_budget))
        limits = Limits(idle_timeout=opts.idle_timeout, max_open_flows=opts.max_open_flows,
                        max_span_events=opts.max_span_events)
        self.tracker = SpanTracker(opts.mapping, limits, self.stats_obj, logs=opts.logs,
                                   time_shift=opts.time_shift,
                                   open_spans=opts.open_span_interval > 0)
        self.inbox = Inbox(opts.max_queued_events)
        self._scope = encode_scope(SCOPE_NAME, SCOPE_VERSION)
        self._resources: dict[str, bytes] = {}
        self._closed = False
        self._last_send = self._last_sweep = 0.0
        self._thread = threading.Thread(target=self._run, name=f"wfptrace-otlp-map-{session}",
                                        daemon=True)
        self._thread.start()

    # -- the Backend protocol ---------------------------------------------------------
    def handle(self, events: Sequence[Event]) -> None:
        """Queue a batch for the mapping thread; a batch that does not fit is dropped."""
        if not events:
            return
        n = len(events)
        self.stats_obj.events_received += n
        if not self.inbox.put(events):
            self.stats_obj.events_dropped += n

    def close(self) -> None:
        """End open flows, send what is left (bounded by ``close_timeout``), stop threads."""
        if self._closed:
            return
        self._closed = True
        self.inbox.close()
        self._thread.join()
        self.sender.close(self.options.close_timeout)

    def stats(self) -> dict[str, Any]:
        """Exact counters (``otel_*``) and the account across the hop (``spans_handed``,
        ``spans_exported``, ``spans_dropped``, ``drop_reasons``, ...) for the statistics."""
        return {**self.stats_obj.as_dict(), **self.stats_obj.account()}

    # -- the mapping thread -------------------------------------------------------------
    def _run(self) -> None:
        self._last_send = self._last_sweep = time.monotonic()
        while True:
            try:
                if self._step():
                    return
            except Exception:  # a bug here must not silently stop the export
                self.stats_obj.mapping_errors += 1
                if self.inbox.closed:
                    return

    def _step(self) -> bool:
        """Map what arrived, sweep idle flows, send when due; True once closed and done."""
        opts = self.options
        for batch in self.inbox.take(opts.schedule_delay):
            self.tracker.map(batch)
        now = time.monotonic()
        if now - self._last_sweep >= min(1.0, opts.idle_timeout):
            self.tracker.sweep(now)
            self._last_sweep = now
        if opts.open_span_interval > 0 and not self.inbox.closed:
            self.tracker.pending_spans(now, opts.open_span_interval, opts.schedule_delay)
        if self.inbox.closed and not self.inbox.pending:
            self.tracker.finish()
            self._send(*self.tracker.take())
            return True
        ready = len(self.tracker.spans) + len(self.tracker.logs)
        if ready >= opts.max_batch or (ready and now - self._last_send >= opts.schedule_delay):
            self._send(*self.tracker.take())
            self._last_send = now
        return False

    def _resource(self, provider: str) -> bytes:
        res = self._resources.get(provider)
        if res is None:
            attrs = resource_attributes(self.options, provider, self.session)
            res = self._resources[provider] = encode_resource(attrs)
        return res

    def _send(self, spans: list[tuple[str, bytes]], logs: list[LogData]) -> None:
        self._submit("traces", spans)
        if logs:
            self._submit("logs", [(r.provider, encode_log(r)) for r in logs])

    def _submit(self, signal: str, items: list[tuple[str, bytes]]) -> None:
        groups: dict[bytes, list[bytes]] = {}
        size = count = 0
        for provider, body in items:
            if count and (count >= self.options.max_batch or size >= _MAX_REQUEST_BYTES):
                self.sender.submit(signal, export_request(groups, self._scope), count)
                groups, size, count = {}, 0, 0
            groups.setdefault(self._resource(provider), []).append(body)
            size += len(body)
            count += 1
        if count:
            self.sender.submit(signal, export_request(groups, self._scope), count)
