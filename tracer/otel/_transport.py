"""OTLP transports: gRPC (``TraceService`` / ``LogsService``) and HTTP/protobuf.

Both send already-encoded request bytes, so no message objects are built on the
way out; responses are decoded with the official messages for partial success.
"""

from __future__ import annotations

import gzip
import http.client
from typing import Protocol
from urllib.parse import urlsplit

import grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceResponse
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

__all__ = ["CLOSED", "ENDPOINT_DOWN", "ERROR", "GRPC_METHODS", "PARTIAL_SUCCESS", "QUEUE_FULL",
           "REJECTED", "TIMEOUT", "UNSUPPORTED", "ExportError", "GrpcTransport", "HttpTransport",
           "Transport"]

GRPC_METHODS = {
    "traces": "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    "logs": "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
}
_RETRYABLE_GRPC = {grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                   grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.ABORTED,
                   grpc.StatusCode.CANCELLED, grpc.StatusCode.OUT_OF_RANGE,
                   grpc.StatusCode.DATA_LOSS}
_RETRYABLE_HTTP = {408, 429, 502, 503, 504}
_TIMEOUT_GRPC = {grpc.StatusCode.DEADLINE_EXCEEDED}

#: Why items were dropped (the keys of the ``drop_reasons`` statistics).
QUEUE_FULL = "queue_full"            # the export queue had no room
REJECTED = "rejected"                # the collector refused the request (4xx, INVALID_ARGUMENT)
PARTIAL_SUCCESS = "partial_success"  # accepted, but these items were rejected in the response
ENDPOINT_DOWN = "endpoint_down"      # unreachable, reset, or unavailable (502/503/504, UNAVAILABLE)
TIMEOUT = "timeout"                  # no answer within the timeout
UNSUPPORTED = "unsupported"          # the collector does not take this signal (Jaeger and logs)
CLOSED = "closed"                    # still queued when the session stopped (close_timeout)
ERROR = "error"                      # an unexpected transport error


class ExportError(Exception):
    """A failed export; ``retryable`` says whether sending again may succeed, and
    ``unsupported`` that the collector does not take this signal at all (Jaeger and logs)."""

    def __init__(self, message: str, retryable: bool, unsupported: bool = False,
                 reason: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.unsupported = unsupported
        #: the drop reason if this failure is the last one (see the reason constants)
        self.reason = reason or (UNSUPPORTED if unsupported else
                                 ENDPOINT_DOWN if retryable else REJECTED)


class Transport(Protocol):
    """Sends one encoded export request of one signal ("traces" or "logs")."""

    def send(self, payload: bytes, timeout: float) -> int:
        """Send; return how many items the collector rejected; raise ExportError."""

    def close(self) -> None:
        """Release connections."""


def _rejected(signal: str, body: bytes) -> int:
    if not body:
        return 0
    try:
        if signal == "traces":
            return ExportTraceServiceResponse.FromString(body).partial_success.rejected_spans
        return ExportLogsServiceResponse.FromString(body).partial_success.rejected_log_records
    except Exception:  # a malformed response body still means the request was accepted
        return 0


class GrpcTransport:
    """Unary ``Export`` calls on one channel, with raw bytes in and out."""

    def __init__(self, signal: str, endpoint: str, headers: dict[str, str],
                 compression: str | None, insecure: bool) -> None:
        self.signal = signal
        parts = urlsplit(endpoint if "://" in endpoint else f"//{endpoint}")
        target = parts.netloc or endpoint
        options = [("grpc.initial_reconnect_backoff_ms", 200),
                   ("grpc.min_reconnect_backoff_ms", 200),
                   ("grpc.max_reconnect_backoff_ms", 2000)]
        if parts.scheme == "https" or (parts.scheme != "http" and not insecure):
            self._channel = grpc.secure_channel(target, grpc.ssl_channel_credentials(), options)
        else:
            self._channel = grpc.insecure_channel(target, options)
        # no (de)serializers: the payload is already encoded, the response is parsed later
        self._call: grpc.UnaryUnaryMultiCallable[bytes, bytes] = self._channel.unary_unary(
            GRPC_METHODS[signal])
        self._metadata = tuple((k.lower(), v) for k, v in headers.items())
        self._compression = grpc.Compression.Gzip if compression == "gzip" else None

    def send(self, payload: bytes, timeout: float) -> int:
        try:
            body = self._call(payload, timeout=timeout, metadata=self._metadata,
                              compression=self._compression)
        except grpc.RpcError as exc:
            code = exc.code() if hasattr(exc, "code") else None
            raise ExportError(f"gRPC {getattr(code, 'name', code)}", code in _RETRYABLE_GRPC,
                              code == grpc.StatusCode.UNIMPLEMENTED,
                              TIMEOUT if code in _TIMEOUT_GRPC else "") from None
        return _rejected(self.signal, body)

    def close(self) -> None:
        self._channel.close()


class HttpTransport:
    """POSTs to one URL over a kept-alive connection (reopened after any error)."""

    def __init__(self, signal: str, url: str, headers: dict[str, str],
                 compression: str | None) -> None:
        self.signal = signal
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or "localhost"
        self._port = parts.port or (443 if self._https else 80)
        self._path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        self._headers = {"Content-Type": "application/x-protobuf", **headers}
        self._gzip = compression == "gzip"
        if self._gzip:
            self._headers["Content-Encoding"] = "gzip"
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self, timeout: float) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=timeout)
        self._conn.timeout = timeout
        if self._conn.sock is not None:
            self._conn.sock.settimeout(timeout)
        return self._conn

    def send(self, payload: bytes, timeout: float) -> int:
        body = gzip.compress(payload, 1) if self._gzip else payload
        try:
            conn = self._connection(timeout)
            conn.request("POST", self._path, body, self._headers)
            resp = conn.getresponse()
            data = resp.read()
        except (OSError, http.client.HTTPException) as exc:
            self.close()
            reason = TIMEOUT if isinstance(exc, TimeoutError) else ENDPOINT_DOWN
            raise ExportError(f"HTTP {type(exc).__name__}: {exc}", True, reason=reason) from None
        if resp.status in _RETRYABLE_HTTP:
            raise ExportError(f"HTTP {resp.status}", True,
                              reason=TIMEOUT if resp.status == 408 else ENDPOINT_DOWN)
        if not 200 <= resp.status < 300:
            raise ExportError(f"HTTP {resp.status}", False, resp.status in (404, 405))
        return _rejected(self.signal, data)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
