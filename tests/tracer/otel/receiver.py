"""A real OTLP receiver on loopback for tests and the benchmark.

gRPC ``TraceService`` and ``LogsService`` servers (grpcio) and an HTTP server for
``/v1/traces`` and ``/v1/logs``; every request is decoded with the official
``opentelemetry-proto`` messages and kept for assertions.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
from collections.abc import Callable
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2 as lpb
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc as lgrpc
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as tpb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as tgrpc
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord
from opentelemetry.proto.trace.v1.trace_pb2 import Span


def value_of(v: AnyValue) -> Any:
    """A decoded AnyValue as a Python value."""
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [value_of(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return attrs_of(v.kvlist_value.values)
    return getattr(v, kind) if kind else None


def attrs_of(kvs: Any) -> dict[str, Any]:
    """Repeated KeyValue as a dict."""
    return {kv.key: value_of(kv.value) for kv in kvs}


@dataclass
class Received:
    """One span or log record with its decoded resource, attributes and scope."""

    resource: dict[str, Any]
    item: Any
    attrs: dict[str, Any]

    @property
    def service(self) -> str:
        return self.resource.get("service.name", "")


def free_port() -> int:
    """A loopback TCP port nobody listens on (yet)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """Collects what arrives over OTLP (gRPC and/or HTTP) on 127.0.0.1."""

    def __init__(self, reject_spans: int = 0, serve_logs: bool = True, *,
                 reject_logs: int = 0, status: int = 200, delay: float = 0.0) -> None:
        self.spans: list[Received] = []
        self.logs: list[Received] = []
        self.requests = 0
        #: partial success: this many items of each request are reported rejected
        self.reject_spans = reject_spans
        self.reject_logs = reject_logs
        self.serve_logs = serve_logs  # False: like Jaeger, traces only
        #: answer every request with this HTTP status (gRPC: 503 -> UNAVAILABLE, else
        #: INVALID_ARGUMENT) without keeping it; 200 = accept
        self.status = status
        #: seconds to wait before answering (a slow collector)
        self.delay = delay
        self.refused = 0
        self._conns: set[socket.socket] = set()
        self._cond = threading.Condition()
        self._grpc: grpc.Server | None = None
        self._http: ThreadingHTTPServer | None = None

    # -- decoding -------------------------------------------------------------------------
    def _answer(self) -> bool:
        """Wait out the delay; False (and counted) when told to refuse the request."""
        if self.delay:
            time.sleep(self.delay)
        if self.status == 200:
            return True
        with self._cond:
            self.refused += 1
            self._cond.notify_all()
        return False

    def take_traces(self, body: bytes) -> bytes:
        req = tpb.ExportTraceServiceRequest.FromString(body)
        with self._cond:
            self.requests += 1
            for rs in req.resource_spans:
                res = attrs_of(rs.resource.attributes)
                for ss in rs.scope_spans:
                    self.spans += [Received(res, s, attrs_of(s.attributes)) for s in ss.spans]
            self._cond.notify_all()
        resp = tpb.ExportTraceServiceResponse()
        if self.reject_spans:
            resp.partial_success.rejected_spans = self.reject_spans
        return resp.SerializeToString()

    def take_logs(self, body: bytes) -> bytes:
        req = lpb.ExportLogsServiceRequest.FromString(body)
        with self._cond:
            self.requests += 1
            for rl in req.resource_logs:
                res = attrs_of(rl.resource.attributes)
                for sl in rl.scope_logs:
                    self.logs += [Received(res, r, attrs_of(r.attributes)) for r in sl.log_records]
            self._cond.notify_all()
        resp = lpb.ExportLogsServiceResponse()
        if self.reject_logs:
            resp.partial_success.rejected_log_records = self.reject_logs
        return resp.SerializeToString()

    # -- servers --------------------------------------------------------------------------
    def start_grpc(self, port: int = 0) -> str:
        """Serve gRPC; returns the endpoint URL."""
        receiver = self

        def refuse(context) -> None:
            code = grpc.StatusCode.UNAVAILABLE if receiver.status == 503 \
                else grpc.StatusCode.INVALID_ARGUMENT
            context.abort(code, f"told to answer {receiver.status}")

        class Traces(tgrpc.TraceServiceServicer):
            def Export(self, request, context):
                if not receiver._answer():
                    refuse(context)
                return tpb.ExportTraceServiceResponse.FromString(
                    receiver.take_traces(request.SerializeToString()))

        class Logs(lgrpc.LogsServiceServicer):
            def Export(self, request, context):
                if not receiver._answer():
                    refuse(context)
                return lpb.ExportLogsServiceResponse.FromString(
                    receiver.take_logs(request.SerializeToString()))

        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                             options=[("grpc.max_receive_message_length", 64 << 20)])
        tgrpc.add_TraceServiceServicer_to_server(Traces(), server)
        if self.serve_logs:
            lgrpc.add_LogsServiceServicer_to_server(Logs(), server)
        bound = server.add_insecure_port(f"127.0.0.1:{port}")
        server.start()
        self._grpc = server
        return f"http://127.0.0.1:{bound}"

    def start_http(self, port: int = 0) -> str:
        """Serve OTLP/HTTP; returns the base endpoint URL."""
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                receiver._conns.add(self.connection)

            def finish(self) -> None:
                receiver._conns.discard(self.connection)
                with contextlib.suppress(OSError):  # killed under the client's feet
                    super().finish()

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                take = {"/v1/traces": receiver.take_traces}
                if receiver.serve_logs:
                    take["/v1/logs"] = receiver.take_logs
                handler = take.get(self.path)
                if handler is None:
                    self.send_error(404)
                    return
                if not receiver._answer():
                    self.send_response(receiver.status)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                out = handler(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._http = server
        return f"http://127.0.0.1:{server.server_address[1]}"

    def kill(self) -> None:
        """Stop every server and cut the open connections, as a crashed collector would."""
        self.stop()
        for conn in list(self._conns):
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        """Stop every server."""
        if self._grpc is not None:
            self._grpc.stop(None)
            self._grpc = None
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None

    # -- waiting and querying -----------------------------------------------------------
    def wait(self, pred: Callable[[Receiver], bool], timeout: float = 10.0) -> bool:
        """Wait until ``pred(self)`` holds."""
        end = time.monotonic() + timeout
        with self._cond:
            while not pred(self):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def named(self, name: str) -> list[Received]:
        """Spans with this name."""
        return [s for s in self.spans if s.item.name == name]

    def span(self, name: str) -> Span:
        """The single span with this name."""
        (found,) = self.named(name)
        return found.item

    def log_items(self) -> list[LogRecord]:
        return [r.item for r in self.logs]


__all__ = ["KeyValue", "Received", "Receiver", "attrs_of", "free_port", "value_of"]
