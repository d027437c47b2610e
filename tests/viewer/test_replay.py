"""CaptureReplay: a bundled capture through the real packet providers into a session."""

import time

import pytest

from tracer import Hub, ProviderEnable, SessionConfig
from viewer._replay import CaptureReplay, bundled_captures, replay_available

pytestmark = pytest.mark.skipif(not replay_available() or not bundled_captures(),
                                reason="no replay pipeline or no bundled captures")


def test_replays_a_capture_once_a_session_exists():
    """Nothing is replayed before a session exists; then the capture's events arrive."""
    with Hub(load_installed=False) as hub:
        replay = CaptureReplay(hub, bundled_captures()[:1], speed="max")
        names = [p.name for p in replay.providers]
        assert names
        replay.start()
        time.sleep(0.3)
        assert replay.rounds == 0
        hub.start_session(SessionConfig("r", [ProviderEnable(n) for n in names], realtime=True))
        sub = hub.subscribe("r")
        deadline = time.monotonic() + 10
        while replay.rounds == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        replay.stop()
        hub.flush_session("r")
        events = sub.drain()
    assert replay.error is None and replay.rounds == 1
    assert {e.provider for e in events} & set(names)
