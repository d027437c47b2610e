"""Feed: saved logs opened (and followed while they grow) and real-time subscriptions."""

from tracer import ProviderEnable, SessionConfig
from viewer import TraceViewApp
from viewer._feed import Feed
from viewer._ring import EventRing

from .conftest import emit, wait_for


async def test_opens_a_saved_log_and_follows_it_as_it_grows(hub, tmp_path):
    """A log written by a real session shows in the view, and events appended later too."""
    path = tmp_path / "trace.jsonl"
    hub.start_session(SessionConfig("file", [ProviderEnable("wfptrace-msnmon")], file=path))
    emit(200)
    hub.flush_session("file")
    first = hub.query_session("file").events_written
    app = TraceViewApp(None, logs=[path])
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(pilot, lambda: len(app.ring) == first)
        assert app.ring.schema(0).provider == "wfptrace-msnmon"
        assert app.ring.event(0).message  # formatted from the header's manifest
        emit(200, seed=3)
        hub.flush_session("file")
        total = hub.query_session("file").events_written
        assert total > first
        await wait_for(pilot, lambda: len(app.ring) == total)


def test_subscription_loss_is_counted():
    """Events a subscription could not hold are reported by the feed as lost."""
    from tracer import Hub
    from viewer._demo import demo_providers

    with Hub(load_installed=False) as hub:
        for p in demo_providers():
            hub.register(p)
        hub.start_session(SessionConfig("s", [ProviderEnable("wfptrace-inspect")], realtime=True))
        feed = Feed(EventRing(1000))
        feed.watch("s", hub.subscribe("s", maxsize=10))
        emit(500)
        hub.flush_session("s")
        feed.pump()
        assert feed.lost > 0
        assert feed.lost == hub.query_session("s").realtime_lost
