"""The real-time sink: one account per subscriber, reasons for every loss."""

from __future__ import annotations

from tests.tracer.sinks.conftest import emit
from tracer import Hub, ProviderEnable, SessionConfig


def test_each_subscriber_is_accounted_and_a_full_queue_loses_with_its_reason(hub: Hub) -> None:
    """A roomy and a small subscriber: handed counts both, the small one's overflow is lost."""
    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")], realtime=True,
                                    flush_interval=10))
    big, small = hub.subscribe("s", 10_000), hub.subscribe("s", 100)
    emit(1000)
    stats = hub.stop_session("s")
    sink = stats.sinks[0]
    assert len([e for e in big if e.kind == "event"]) == 1000
    assert len([e for e in small if e.kind == "event"]) == 100
    assert sink["handed"] == 2000 and sink["written"] == 1100 and sink["lost"] == 900
    assert sink["lost_reasons"] == {"subscriber queue full": 900}
    assert stats.realtime_lost == 900


def test_events_with_no_subscriber_are_lost_as_such(hub: Hub) -> None:
    """Without a subscriber, real-time events are counted lost, "no subscriber"."""
    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")], realtime=True))
    emit(50)
    sink = hub.stop_session("s").sinks[0]
    assert sink["handed"] == 50 and sink["lost_reasons"] == {"no subscriber": 50}
