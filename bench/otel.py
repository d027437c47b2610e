"""Benchmark of OTLP export: spans exported per second of CPU, the OTLP sink vs the SDK.

The same MSN-like flows (a flow of 100 commands: 50 request/reply pairs, a
switchboard summary, the close) go, in one run and to the same receiver on loopback
(a separate process, a gRPC TraceService decoding every request with the official
opentelemetry-proto messages and counting spans):

* through a session with the OTLP sink (``--otlp``): flow spans, transaction child
  spans, commands as span events, the summary span;
* through a session whose backend builds the very same spans with the OpenTelemetry
  SDK (``TracerProvider`` + ``BatchSpanProcessor`` + the OTLP gRPC exporter).

CPU is this process's (every thread: provider, session, mapping, export) from the
first event to the end of the session stop, when everything is exported. Each figure
is the median of several runs. Keys: ``spans_per_s`` and ``sdk_spans_per_s`` (spans
received per CPU second), ``handed``, ``exported``, ``dropped`` (the sink's account
in spans, ``handed == exported + dropped``), ratio ``vs_sdk`` (target >= 10). The
last line of output is one JSON object.
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
import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
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
        flow = {"@timestamp": int, "network.community_id": str}
        self.flow = p.event(1, "FlowEstablished", Level.INFO, "flow", {
            **flow, "network.transport": str, "source.ip": str, "source.port": int,
            "destination.ip": str, "destination.port": int, "network.direction": str,
            "process.executable": str, "process.pid": int})
        self.command = p.event(2, "Command", Level.INFO, "client_server", {
            **flow, "network.direction": str, "verb": str, "trid": int, "args": list,
            "payload_len": int, "role": str, "legacy_class": str, "offset": int})
        self.switchboard = p.event(7, "Switchboard", Level.INFO, "session", {
            **flow, "user": str, "participants": list, "event.start": int,
            "community_ids": list})
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
            "network.community_id": fid, "@timestamp": ts, "network.transport": "tcp",
            "source.ip": "10.0.0.2", "source.port": 40000 + f % 20000,
            "destination.ip": "64.4.13.58", "destination.port": 1863,
            "network.direction": "egress", "process.executable": "/usr/bin/amsn",
            "process.pid": 4242, "mid_session": False}))
        offset = 0
        for trid in range(1, 51):
            verb = _VERBS[trid % len(_VERBS)]
            for direction, args in (("egress", [_CONTACTS[(f * 7 + trid) % 500], "NLN"]),
                                    ("ingress", ["OK", str(trid % 4)])):
                ts += 150_000
                offset += 40
                out.append(_positional(m.command, {
                    "network.community_id": fid, "@timestamp": ts,
                    "network.direction": direction, "verb": verb,
                    "trid": trid, "args": args, "payload_len": 0, "role": "switchboard",
                    "legacy_class": "client_server", "offset": offset}))
        out.append(_positional(m.switchboard, {
            "network.community_id": fid, "@timestamp": ts, "user": "alice@example.com",
            "server": "64.4.13.58", "participants": ["bob@example.com", "carol@example.com"],
            "messages": 0, "event.start": ts - 15_000_000, "community_ids": [fid],
            "invited": False}))
        out.append(_positional(m.closed, {"network.community_id": fid, "@timestamp": ts,
                                          "reason": "fin",
                                          "commands": 100, "errors": 0, "bytes_sent": offset,
                                          "bytes_received": offset, "dropped": ""}))
        f += 1
    return out[:n_events]


class SdkFlows:
    """A session backend building the OTLP sink's spans with the OpenTelemetry SDK: a span
    per flow with its commands as events, a child span per request/reply pair, the
    switchboard summary as a child span."""

    def __init__(self, endpoint: str, n_events: int) -> None:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self.trace = trace
        self.tp = TracerProvider(resource=Resource.create({"service.name": "wfptrace-msnmon"}))
        self.tp.add_span_processor(BatchSpanProcessor(
            OTLPSpanExporter(endpoint=endpoint, insecure=True), max_queue_size=n_events + 1,
            max_export_batch_size=512))
        self.tracer = self.tp.get_tracer("wfptrace.sdk")
        self.flows: dict[str, Any] = {}
        self.pending: dict[tuple[str, Any], tuple[int, dict[str, Any]]] = {}
        self.spans = 0

    def handle(self, events: Sequence[Event]) -> None:
        for ev in events:
            f = ev.fields
            fid, t = f.get("network.community_id"), ev.time_ns  # the packet's time
            attrs = {k: v for k, v in f.items() if v is not None}
            if ev.name == "FlowEstablished":
                self.flows[fid] = self.tracer.start_span("MSN flow", attributes=attrs,
                                                         start_time=t)
                continue
            flow = self.flows.get(fid)
            if flow is None:
                continue
            if ev.name == "Command":
                flow.add_event(f"MSNP {f['verb']}", attrs, t)
                key = (fid, f.get("trid"))
                req = self.pending.pop(key, None)
                if req is None:
                    self.pending[key] = (t, attrs)
                else:
                    ctx = self.trace.set_span_in_context(flow)
                    child = self.tracer.start_span(f"MSNP {req[1]['verb']}", context=ctx,
                                                   attributes=req[1], start_time=req[0])
                    child.set_attribute("msnp.reply.verb", f["verb"])
                    child.end(end_time=t)
                    self.spans += 1
            elif ev.name == "Switchboard":
                ctx = self.trace.set_span_in_context(flow)
                child = self.tracer.start_span("MSN switchboard session", context=ctx,
                                               attributes={k: v for k, v in attrs.items()
                                                           if k != "start_ns"},
                                               start_time=min(f["start_ns"], t))
                child.end(end_time=t)
                self.spans += 1
            elif ev.name == "FlowClosed":
                flow.set_attributes(attrs)
                flow.end(end_time=t)
                del self.flows[fid]
                self.spans += 1

    def close(self) -> None:
        for flow in self.flows.values():  # as the sink ends open flows at session end
            flow.end()
            self.spans += 1
        self.tp.force_flush(60_000)
        self.tp.shutdown()

    def stats(self) -> dict[str, int]:
        return {}


def run(mode: str, stream: list[tuple[Any, tuple]], m: Any,
        endpoint: str) -> tuple[float, dict[str, Any]]:
    """One session; returns (CPU seconds of this process, the OTLP sink's statistics)."""
    hub = Hub(load_installed=False)
    hub.register(m.provider)
    cfg = SessionConfig(f"bench-{mode}", [ProviderEnable("wfptrace-msnmon")],
                        buffer_size=4096, buffer_count=max(64, 2 * len(stream) // 4096 + 2),
                        flush_interval=0.05)
    backends: list[Any] = []
    if mode == "otel":
        cfg.otlp = OtlpOptions(endpoint=endpoint, protocol="grpc", logs=False,
                               max_queued_events=len(stream) + 1, max_queued_requests=4096)
    else:
        cfg.realtime = True
        backends.append(SdkFlows(endpoint, len(stream)))
    hub.start_session(cfg, backends=backends)
    c0 = time.process_time()
    for ev, args in stream:
        ev.write(*args)
    stats = hub.stop_session(cfg.name)
    cpu = time.process_time() - c0
    hub.close()
    if stats.events_lost:
        raise SystemExit(f"{mode}: {stats.events_lost} events lost in the session buffers")
    sink = next((k for k in stats.sinks if k.get("kind") == "otlp"), {})
    return cpu, sink


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="40k events, 3 runs (< 1 minute)")
    ap.add_argument("--events", type=int, default=None)
    ap.add_argument("--runs", type=int, default=None)
    ap.add_argument("--provider", choices=("real", "shaped"), default="real",
                    help="emit through the real msnmon provider's event types (default) or "
                         "a provider declared like it")
    args = ap.parse_args()
    n = args.events or (40_000 if args.quick else 100_000)
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
    # The pre-built stream is this benchmark's fixture (n records a live source would make
    # one at a time): frozen, so the garbage collector's full passes do not scan it in
    # either mode (they did, and cost the OTLP sink's side a fifth of its CPU, the SDK's
    # side a few percent).
    gc.freeze()
    rates: dict[str, list[float]] = {"otel": [], "sdk": []}
    account: dict[str, int] = {"handed": 0, "exported": 0, "dropped": 0}
    try:
        for _ in range(runs):
            for mode in rates:
                received()
                cpu, sink = run(mode, stream, m, endpoint)
                got = received()[0]
                if mode == "otel":
                    for key in account:
                        account[key] += sink[f"spans_{key}"]
                    if sink["spans_exported"] != got \
                            or sink["spans_handed"] != got + sink["spans_dropped"]:
                        raise SystemExit(f"otel: the account {sink} does not match {got} "
                                         "spans received")
                rates[mode].append(got / cpu)
                print(f"{mode:5s} {got:8,d} spans  {cpu:6.2f} s CPU  {got / cpu:10,.0f} "
                      "spans/s of CPU", file=sys.stderr)
    finally:
        rx.stdin.close()
        rx.wait(10)
    med = {k: statistics.median(v) for k, v in rates.items()}
    result = {"bench": "otel", "metrics": {
        "spans_per_s": round(med["otel"]), "sdk_spans_per_s": round(med["sdk"]),
        **account, "events": n, "runs": runs, "cpus": os.cpu_count(),
        "provider": type(m).__name__},
        "ratios": {"vs_sdk": round(med["otel"] / med["sdk"], 2)}}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
