"""The sender retries with back-off, bounds its queue and counts every drop."""

from __future__ import annotations

import time

from tests.tracer.otel.receiver import Receiver, free_port
from tests.tracer.otel.test_transport import request
from tracer.otel._sender import Retry, Sender
from tracer.otel._stats import OtlpStats
from tracer.otel._transport import HttpTransport


def sender(url: str, stats: OtlpStats, **kw) -> Sender:
    retry = Retry(kw.pop("initial", 0.02), 0.05, kw.pop("budget", 0.3))
    return Sender({"traces": HttpTransport("traces", url + "/v1/traces", {}, None)}, stats,
                  timeout=1, max_queued=kw.pop("max_queued", 8), retry=retry)


def test_backoff_grows_and_is_capped() -> None:
    """Delays double from the initial value, with jitter, up to the maximum."""
    r = Retry(0.1, 1.0)
    assert 0.05 <= r.delay(1) <= 0.1 and 0.2 <= r.delay(3) <= 0.4 and r.delay(10) <= 1.0


def test_requests_past_the_retry_budget_are_dropped_and_counted() -> None:
    """With the collector down, each request is retried then dropped; counts are exact."""
    stats = OtlpStats()
    s = sender(f"http://127.0.0.1:{free_port()}", stats)
    s.submit("traces", request(), 3)
    s.submit("traces", request(), 4)
    assert s.wait_idle(5)
    s.close(1)
    assert stats.spans_dropped == 7 and stats.spans_exported == 0
    assert stats.export_retries >= 2 and stats.export_failures > stats.export_retries - 1


def test_a_full_queue_drops_new_requests_without_blocking() -> None:
    """submit() returns at once and counts the drop when the queue is full."""
    stats = OtlpStats()
    s = sender(f"http://127.0.0.1:{free_port()}", stats, max_queued=1, budget=5, initial=1)
    t0 = time.monotonic()
    results = [s.submit("traces", request(), 1) for _ in range(10)]
    assert time.monotonic() - t0 < 0.5
    assert results.count(False) >= 8
    s.close(0.2)
    assert stats.spans_dropped == 10


def test_retries_succeed_once_the_collector_comes_up() -> None:
    """A request waiting in back-off is delivered when the collector starts listening."""
    port, stats = free_port(), OtlpStats()
    s = sender(f"http://127.0.0.1:{port}", stats, budget=10, initial=0.05)
    s.submit("traces", request(), 1)
    time.sleep(0.2)
    receiver = Receiver()
    try:
        receiver.start_http(port)
        assert s.wait_idle(10)
    finally:
        s.close(1)
        receiver.stop()
    assert stats.spans_exported == 1 and stats.spans_dropped == 0 and stats.export_retries >= 1
