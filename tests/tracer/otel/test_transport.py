"""Transports send encoded requests over real gRPC and HTTP and classify failures."""

from __future__ import annotations

import pytest

from tests.tracer.otel.receiver import Receiver, free_port
from tracer.otel._encode import encode_resource, encode_scope, encode_span, export_request
from tracer.otel._records import SpanData
from tracer.otel._transport import ExportError, GrpcTransport, HttpTransport


def request() -> bytes:
    span = encode_span(SpanData("p", "x", b"\x01" * 16, b"\x02" * 8, 1))
    return export_request({encode_resource({"service.name": "p"}): [span]}, encode_scope("s", ""))


@pytest.mark.parametrize("kind", ["grpc", "http"])
def test_send_delivers_and_sends_headers(kind: str, receiver: Receiver) -> None:
    """A request reaches the receiver over each transport."""
    if kind == "grpc":
        t = GrpcTransport("traces", receiver.start_grpc(), {"x-k": "v"}, "gzip", True)
    else:
        t = HttpTransport("traces", receiver.start_http() + "/v1/traces", {"x-k": "v"}, "gzip")
    try:
        assert t.send(request(), 5) == 0
        assert t.send(request(), 5) == 0  # the kept-alive connection is reused
    finally:
        t.close()
    assert [s.item.name for s in receiver.spans] == ["x", "x"]


@pytest.mark.parametrize("kind", ["grpc", "http"])
def test_nobody_listening_is_a_retryable_error(kind: str) -> None:
    """Connection refused is retryable, for gRPC (UNAVAILABLE) and HTTP."""
    url = f"http://127.0.0.1:{free_port()}"
    t = (GrpcTransport("traces", url, {}, None, True) if kind == "grpc"
         else HttpTransport("traces", url + "/v1/traces", {}, None))
    with pytest.raises(ExportError) as info:
        t.send(request(), 1)
    t.close()
    assert info.value.retryable


def test_http_404_is_not_retryable(receiver: Receiver) -> None:
    """A wrong path (client error) is dropped rather than retried."""
    t = HttpTransport("traces", receiver.start_http() + "/wrong", {}, None)
    with pytest.raises(ExportError) as info:
        t.send(request(), 5)
    t.close()
    assert not info.value.retryable
