"""Benchmark of the OpenTelemetry backend: MSN-like event stream -> OTLP/gRPC receiver.

Compares, in one run and against the same receiver (a separate process, a gRPC
TraceService decoding every request with the official opentelemetry-proto
messages and counting spans and span events):

* the session with the OTLP backend (flows, transactions, span events);
* the session with the JSON-lines file backend alone;
* naive SDK use: one span per event through TracerProvider + BatchSpanProcessor
  + the OTLP gRPC exporter.

Each figure is the median of several runs; the throughput clock runs from the
first event to the end of the session stop (everything exported or written).
The last line of output is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# bench/ holds scripts named like standard modules (inspect.py): never import from it
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from typing import Any  # noqa: E402

from tracer import Event, Hub, Level, Provider, ProviderEnable, SessionConfig  # noqa: E402
from tracer.otel import OtlpOptions  # noqa: E402

RECEIVER = """
import sys, threading
from concurrent import futures
import grpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as pb
counts = [0, 0]
lock = threading.Lock()
def export(req, context):
    spans = [s for rs in req.resource_spans for ss in rs.scope_spans for s in ss.spans]
    with lock:
        counts[0] += len(spans)
        counts[1] += sum(len(s.events) for s in spans)
    return pb.ExportTraceServiceResponse()
handler = grpc.method_handlers_generic_handler(
    "opentelemetry.proto.collector.trace.v1.TraceService",
    {"Export": grpc.unary_unary_rpc_method_handler(
        export, request_deserializer=pb.ExportTraceServiceRequest.FromString,
        response_serializer=pb.ExportTraceServiceResponse.SerializeToString)})
server = grpc.server(futures.ThreadPoolExecutor(4),
                     options=[("grpc.max_receive_message_length", 64 << 20)])
server.add_generic_rpc_handlers((handler,))
port = server.add_insecure_port("127.0.0.1:0")
server.start()
print(f"http://127.0.0.1:{port}", flush=True)
for line in sys.stdin:
    with lock:
        print(counts[0], counts[1], flush=True)
        counts[0] = counts[1] = 0
"""


class MsnShaped:
    """A provider declared like wfptrace-msnmon (used when the real one is not installed)."""

    def __init__(self) -> None:
        p = self.provider = Provider("wfptrace-msnmon", keywords=["flow", "client_server",
                                                                  "session"])
        flow = {"flow_id": str, "ts_ns": int}
        self.flow = p.event(1, "FlowEstablished", Level.INFO, "flow", {
            **flow, "protocol": str, "local_addr": str, "local_port": int,
            "remote_addr": str, "remote_port": int, "app_path": str, "pid": int})
        self.command = p.event(2, "Command", Level.INFO, "client_server", {
            **flow, "direction": str, "verb": str, "trid": int, "args": list,
            "payload_len": int, "role": str, "legacy_class": str, "offset": int})
        self.switchboard = p.event(7, "Switchboard", Level.INFO, "session", {
            **flow, "user": str, "participants": list, "start_ns": int, "flow_ids": list})
        self.closed = p.event(8, "FlowClosed", Level.INFO, "flow",
                              {**flow, "reason": str, "bytes_sent": int})


class MsnReal:
    """The real wfptrace-msnmon provider's event types."""

    def __init__(self) -> None:
        from providers.msnmon import _events as e

        self.provider = e.PROVIDER
        self.flow, self.command = e.FLOW_ESTABLISHED, e.COMMAND
        self.switchboard, self.closed = e.SWITCHBOARD, e.FLOW_CLOSED


def msn_provider(kind: str) -> Any:
    """The real msnmon provider when asked for and importable, else the shaped one."""
    if kind == "real":
        try:
            return MsnReal()
        except ImportError:
            pass
    return MsnShaped()


_CONTACTS = [f"contact{i}@example.com" for i in range(500)]
_VERBS = ("CHG", "PNG", "ADC", "REA", "CAL", "MSG", "BLP", "PRP", "SBP", "UUX")


def _positional(ev: Any, values: dict[str, Any]) -> tuple[Any, tuple]:
    return ev, tuple(values.get(name) for name in ev.fields)


def script(m: Any, n_events: int) -> list[tuple[Any, tuple]]:
    """A pre-built event stream like a capture replay: flows of 100 commands (50 request
    and reply pairs, arguments drawn from 500 contacts, capture times and stream offsets),
    a switchboard summary and the close."""
    out: list[tuple[Any, tuple]] = []
    f, ts = 0, 1_700_000_000_000_000_000
    while len(out) < n_events:
        fid = f"1:{f:08x}"
        ts += 1_000_000
        out.append(_positional(m.flow, {
            "flow_id": fid, "ts_ns": ts, "protocol": "tcp", "local_addr": "10.0.0.2",
            "local_port": 40000 + f % 20000, "remote_addr": "64.4.13.58", "remote_port": 1863,
            "app_path": "/usr/bin/amsn", "pid": 4242, "mid_session": False}))
        offset = 0
        for trid in range(1, 51):
            verb = _VERBS[trid % len(_VERBS)]
            for direction, args in (("sent", [_CONTACTS[(f * 7 + trid) % 500], "NLN"]),
                                    ("received", ["OK", str(trid % 4)])):
                ts += 150_000
                offset += 40
                out.append(_positional(m.command, {
                    "flow_id": fid, "ts_ns": ts, "direction": direction, "verb": verb,
                    "trid": trid, "args": args, "payload_len": 0, "role": "switchboard",
                    "legacy_class": "client_server", "offset": offset}))
        out.append(_positional(m.switchboard, {
            "flow_id": fid, "ts_ns": ts, "user": "alice@example.com", "server": "64.4.13.58",
            "participants": ["bob@example.com", "carol@example.com"], "messages": 0,
            "start_ns": ts - 15_000_000, "flow_ids": [fid], "invited": False}))
        out.append(_positional(m.closed, {"flow_id": fid, "ts_ns": ts, "reason": "fin",
                                          "commands": 100, "errors": 0, "bytes_sent": offset,
                                          "bytes_received": offset, "dropped": ""}))
        f += 1
    return out[:n_events]


class NaiveSdk:
    """A session backend using the SDK naively: one span per event."""

    def __init__(self, endpoint: str, n_events: int) -> None:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.tp = TracerProvider(resource=Resource.create({"service.name": "wfptrace-msnmon"}))
        self.tp.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint, insecure=True), max_queue_size=n_events + 1,
            max_export_batch_size=512))
        self.tracer = self.tp.get_tracer("wfptrace.naive")

    def handle(self, events: Sequence[Event]) -> None:
        for ev in events:
            attrs = {k: v for k, v in ev.fields.items() if v is not None}
            span = self.tracer.start_span(ev.name, attributes=attrs, start_time=ev.time_ns)
            span.end(end_time=ev.time_ns)

    def close(self) -> None:
        self.tp.force_flush(60_000)
        self.tp.shutdown()

    def stats(self) -> dict[str, int]:
        return {}


def run(mode: str, stream: list[tuple[Any, tuple]], m: Any, endpoint: str,
        tmp: Path) -> tuple[float, dict[str, int]]:
    """One timed session; returns (seconds, otel stats)."""
    hub = Hub(load_installed=False)
    hub.register(m.provider)
    cfg = SessionConfig(f"bench-{mode}", [ProviderEnable("wfptrace-msnmon")],
                        buffer_size=4096, buffer_count=max(64, 2 * len(stream) // 4096 + 2),
                        flush_interval=0.05)
    backends: list[Any] = []
    if mode == "jsonl":
        cfg.file = tmp / "bench.jsonl"
    elif mode == "otel":
        cfg.otlp = OtlpOptions(endpoint=endpoint, protocol="grpc", logs=False,
                               max_queued_events=len(stream) + 1, max_queued_requests=4096)
    else:
        cfg.realtime = True
        backends.append(NaiveSdk(endpoint, len(stream)))
    hub.start_session(cfg, backends=backends)
    t0 = time.perf_counter()
    for ev, args in stream:
        ev.write(*args)
    stats = hub.stop_session(cfg.name)
    dt = time.perf_counter() - t0
    if stats.events_lost:
        raise SystemExit(f"{mode}: {stats.events_lost} events lost in the session buffers")
    return dt, stats.otel or {}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller stream, 3 runs (< 1 minute)")
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--provider", choices=("real", "shaped"), default="real",
                    help="emit through the real msnmon provider's event types (default) or "
                         "a provider declared like it")
    args = ap.parse_args()
    n = args.events or (15_000 if args.quick else 100_000)
    runs = args.runs or (3 if args.quick else 5)
    rx = subprocess.Popen([sys.executable, "-c", RECEIVER], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
    assert rx.stdin is not None and rx.stdout is not None
    endpoint = rx.stdout.readline().strip()

    def received() -> list[int]:
        rx.stdin.write("count\n")
        rx.stdin.flush()
        return [int(x) for x in rx.stdout.readline().split()]

    m = msn_provider(args.provider)
    stream = script(m, n)
    times: dict[str, list[float]] = {"otel": [], "jsonl": [], "naive": []}
    spans_rates: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(runs):
                for mode in times:
                    received()
                    dt, otel = run(mode, stream, m, endpoint, Path(tmp))
                    times[mode].append(dt)
                    got = received()
                    if mode == "otel":
                        if otel["otel_spans_exported"] != got[0] or otel["otel_spans_dropped"]:
                            raise SystemExit(f"otel: exported {otel} but received {got}")
                        spans_rates.append(got[0] / dt)
                    elif mode == "naive" and got[0] != n:
                        raise SystemExit(f"naive SDK: {got[0]} of {n} spans received")
                    print(f"{mode:6s} {n / dt:12,.0f} events/s  received {got}", file=sys.stderr)
    finally:
        rx.stdin.close()
        rx.wait(10)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {"bench": "otel", "metrics": {
        "spans_per_s": round(statistics.median(spans_rates)),
        "events_per_s_with_otel": round(n / med["otel"]),
        "events_per_s_jsonl_only": round(n / med["jsonl"]),
        "events_per_s_naive_sdk": round(n / med["naive"]),
        "events": n, "runs": runs, "cpus": os.cpu_count(),
        "provider": type(m).__name__},
        "ratios": {"vs_naive_sdk": round(med["naive"] / med["otel"], 2),
                   "vs_jsonl_only": round(med["jsonl"] / med["otel"], 3)}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
