"""Exact accounting across the hop: handed == exported + dropped, every drop with its reason,
against a real receiver on loopback that is down, slow, refuses, or half-accepts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tracer.otel.conftest import Msn
from tests.tracer.otel.receiver import Receiver, free_port
from tracer import Hub, ProviderEnable, SessionConfig, SessionStats
from tracer._cli import _stats_text
from tracer._runcli import run_summary
from tracer.otel import OtlpOptions, export_text

FAST = {"retry_initial": 0.02, "retry_max": 0.05, "retry_budget": 0.3, "schedule_delay": 0.02,
        "max_batch": 4, "close_timeout": 2.0}


def run(hub: Hub, msn: Msn, endpoint: str, protocol: str = "http/protobuf", flows: int = 12,
        **kw: Any) -> tuple[SessionStats, dict[str, Any]]:
    """Export ``flows`` closed flows (one span and one log record each); the stopped session's
    statistics and its OTLP sink's."""
    opts = OtlpOptions(endpoint=endpoint, protocol=protocol, **{**FAST, **kw})
    hub.start_session(SessionConfig("acct", [ProviderEnable("wfptrace-msnmon")],
                                    flush_interval=0.01, otlp=opts))
    for i in range(flows):
        msn.open(f"f:{i}")
        msn.error.write(f"f:{i}", "line_too_long")
        msn.closed.write(f"f:{i}", "fin", 1)
    stats = hub.stop_session("acct")
    (sink,) = [s for s in stats.sinks if s["kind"] == "otlp"]
    return stats, sink


def balanced(sink: dict[str, Any]) -> None:
    """The identity for spans and logs, and the reasons add up to the drops."""
    for kind in ("spans", "logs"):
        assert sink[f"{kind}_pending"] == 0
        assert sink[f"{kind}_handed"] == sink[f"{kind}_exported"] + sink[f"{kind}_dropped"]
        assert sum(sink["drop_reasons"][kind].values()) == sink[f"{kind}_dropped"]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_all_exported_when_the_collector_takes_everything(hub: Hub, msn: Msn, receiver: Receiver,
                                                           protocol: str) -> None:
    """A healthy collector: everything handed is exported and the receiver has it all."""
    url = receiver.start_grpc() if protocol == "grpc" else receiver.start_http()
    stats, sink = run(hub, msn, url, protocol)
    balanced(sink)
    assert sink["spans_handed"] == 12 == len(receiver.spans) == sink["spans_exported"]
    assert sink["logs_exported"] == 12 == len(receiver.logs)
    line, ok = run_summary(stats)
    assert ok and "12 spans and 12 logs exported" in line and "LOST" not in line


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_an_endpoint_that_is_down_drops_everything_as_endpoint_down(hub: Hub, msn: Msn,
                                                                     protocol: str) -> None:
    """Nobody listens: every span and log is dropped, for the reason endpoint_down."""
    stats, sink = run(hub, msn, f"http://127.0.0.1:{free_port()}", protocol)
    balanced(sink)
    assert sink["spans_dropped"] == 12 and sink["spans_exported"] == 0
    assert sink["drop_reasons"]["spans"] == {"endpoint_down": 12}
    assert sink["drop_reasons"]["logs"] == {"endpoint_down": 12}
    line, ok = run_summary(stats)
    assert not ok
    assert "LOST 24 at export (spans: 12 endpoint down; logs: 12 endpoint down)" in line
    assert "LOST 24 at export" in _stats_text(stats)  # what `session query` prints


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_an_endpoint_answering_503_is_retried_then_counted_as_endpoint_down(
        hub: Hub, msn: Msn, protocol: str) -> None:
    """503 / UNAVAILABLE is retried, then every item is dropped as endpoint_down."""
    receiver = Receiver(status=503)
    try:
        url = receiver.start_grpc() if protocol == "grpc" else receiver.start_http()
        _, sink = run(hub, msn, url, protocol)
    finally:
        receiver.stop()
    balanced(sink)
    assert receiver.refused > sink["otel_export_requests"] // 2 > 0 and not receiver.spans
    assert sink["drop_reasons"]["spans"] == {"endpoint_down": 12}
    assert sink["otel_export_retries"] > 0


def test_an_endpoint_answering_400_is_not_retried_and_counted_as_rejected(hub: Hub,
                                                                          msn: Msn) -> None:
    """A 400 answer is final: no retry, every item dropped as rejected."""
    receiver = Receiver(status=400)
    try:
        _, sink = run(hub, msn, receiver.start_http())
    finally:
        receiver.stop()
    balanced(sink)
    assert sink["drop_reasons"]["spans"] == {"rejected": 12}
    assert sink["otel_export_retries"] == 0


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_partial_success_counts_the_rejected_items_as_dropped(hub: Hub, msn: Msn,
                                                              protocol: str) -> None:
    """rejected_spans / rejected_log_records in the answer are drops (partial_success);
    the rest is exported."""
    receiver = Receiver(reject_spans=1, reject_logs=1)
    try:
        url = receiver.start_grpc() if protocol == "grpc" else receiver.start_http()
        _, sink = run(hub, msn, url, protocol)
    finally:
        receiver.stop()
    balanced(sink)
    assert sink["spans_handed"] == len(receiver.spans) == 12
    rejected = sink["drop_reasons"]["spans"]["partial_success"]
    assert 3 <= rejected <= 12 and sink["spans_exported"] == 12 - rejected
    assert sink["drop_reasons"]["logs"]["partial_success"] == sink["logs_dropped"] >= 3


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_a_slow_endpoint_drops_as_timeout(hub: Hub, msn: Msn, protocol: str) -> None:
    """A collector slower than the request timeout: every item dropped as timeout."""
    receiver = Receiver(delay=0.5)
    try:
        url = receiver.start_grpc() if protocol == "grpc" else receiver.start_http()
        _, sink = run(hub, msn, url, protocol, flows=4, timeout=0.1, logs=False)
    finally:
        receiver.stop()
    balanced(sink)
    assert sink["drop_reasons"]["spans"] == {"timeout": 4}


def test_a_full_export_queue_drops_as_queue_full(hub: Hub, msn: Msn) -> None:
    """With one request queued behind a slow collector, further requests are queue_full."""
    receiver = Receiver(delay=0.3)
    try:
        _, sink = run(hub, msn, receiver.start_http(), flows=40, max_queued_requests=1,
                      max_batch=1, logs=False, close_timeout=5.0)
    finally:
        receiver.stop()
    balanced(sink)
    assert sink["drop_reasons"]["spans"].get("queue_full", 0) > 0
    assert sink["spans_exported"] == len(receiver.spans)


def test_a_collector_killed_mid_run_keeps_the_identity(hub: Hub, msn: Msn) -> None:
    """Spans before the kill are exported, those after dropped as endpoint_down; exact."""
    receiver = Receiver()
    url = receiver.start_http()
    opts = OtlpOptions(endpoint=url, logs=False, **FAST)
    hub.start_session(SessionConfig("acct", [ProviderEnable("wfptrace-msnmon")],
                                    flush_interval=0.01, otlp=opts))
    for i in range(5):
        msn.open(f"a:{i}")
        msn.closed.write(f"a:{i}", "fin", 1)
    assert receiver.wait(lambda r: len(r.spans) == 5)
    receiver.kill()
    for i in range(7):
        msn.open(f"b:{i}")
        msn.closed.write(f"b:{i}", "fin", 1)
    stats = hub.stop_session("acct")
    (sink,) = [s for s in stats.sinks if s["kind"] == "otlp"]
    balanced(sink)
    assert sink["spans_exported"] == 5 and sink["drop_reasons"]["spans"] == {"endpoint_down": 7}


def test_the_account_reads_in_session_query_text() -> None:
    """export_text gives exported counts, drops with reasons and the time range."""
    sink = {"spans_handed": 10, "spans_exported": 7, "spans_dropped": 3, "spans_pending": 0,
            "logs_handed": 0, "logs_exported": 0, "logs_dropped": 0, "logs_pending": 0,
            "drop_reasons": {"spans": {"timeout": 1, "partial_success": 2}, "logs": {}},
            "time_range_ns": [1_700_000_000_000_000_000, 1_700_000_060_000_000_000]}
    text, dropped = export_text(sink)
    assert dropped == 3
    assert text == ("7 spans and 0 logs exported, LOST 3 at export (spans: 2 partial success, "
                    "1 timeout), times 2023-11-14 22:13:20Z .. 2023-11-14 22:14:20Z")
