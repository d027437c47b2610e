"""Session buffers: drop-and-count for live sources, back-pressure for file-fed ones."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

import pytest

from tests.tracer.sinks.conftest import SINKTEST, TICK, emit
from tracer import Event, Hub, ProviderEnable, SessionConfig

_SMALL = {"buffer_size": 16, "buffer_count": 2, "flush_interval": 0.001}


class SlowBackend:
    """A consumer that takes 2 ms per batch: far slower than the producer."""

    def __init__(self, echo: int = 0) -> None:
        self.got = 0
        self.echo = echo

    def handle(self, events: Sequence[Event]) -> None:
        self.got += sum(e.kind == "event" for e in events)
        if self.echo:  # the flush thread itself emits into the (full) session
            self.echo -= 1
            for _ in range(100):
                TICK.write(-1, "echo")
        time.sleep(0.002)

    def close(self) -> None:
        pass

    def stats(self) -> dict[str, int]:
        return {}


@pytest.fixture
def hub():
    with Hub(load_installed=False) as h:
        h.register(SINKTEST)
        yield h


@pytest.mark.parametrize("blocking", [True, False])
def test_blocking_sessions_lose_nothing_live_ones_drop_and_count(hub: Hub, blocking) -> None:
    """A blocking session delivers every event to a slow sink; a live one drops and counts."""
    backend = SlowBackend()
    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")], realtime=True,
                                    blocking=blocking, **_SMALL), backends=[backend])
    emit(3000)
    stats = hub.stop_session("s")
    if blocking:
        assert backend.got == 3000 and stats.events_dropped == 0 and stats.events_lost == 0
        assert stats.blocked_ns > 0
    else:
        assert stats.events_dropped > 0
        assert backend.got + stats.events_dropped == 3000


def test_blocked_producers_on_many_threads_all_get_through(hub: Hub) -> None:
    """Four threads writing into a full blocking session each get every event through."""
    backend = SlowBackend()
    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")], realtime=True,
                                    blocking=True, **_SMALL), backends=[backend])
    threads = [threading.Thread(target=emit, args=(500,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    stats = hub.stop_session("s")
    assert backend.got == 2000 and stats.events_dropped == 0


def test_the_flush_thread_never_waits_for_itself(hub: Hub) -> None:
    """Events the flush thread emits into its own full session are dropped, not deadlocked."""
    backend = SlowBackend(echo=3)
    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")], realtime=True,
                                    blocking=True, **_SMALL), backends=[backend])
    emit(200)
    done = threading.Event()
    threading.Thread(target=lambda: (hub.stop_session("s"), done.set()), daemon=True).start()
    assert done.wait(30), "the session did not stop: the flush thread waited for itself"
    assert hub.list_sessions() == []


def test_stopping_releases_a_blocked_producer(hub: Hub) -> None:
    """A producer blocked on a session that stops returns; its event is counted lost."""
    gate = threading.Event()

    class Stuck(SlowBackend):
        def handle(self, events: Sequence[Event]) -> None:
            gate.wait(30)

    hub.start_session(SessionConfig("s", [ProviderEnable("sinktest")], realtime=True,
                                    blocking=True, **_SMALL), backends=[Stuck()])
    producer = threading.Thread(target=emit, args=(500,))
    producer.start()
    time.sleep(0.3)
    assert producer.is_alive()  # blocked: the sink takes nothing
    session = hub.session("s")
    session.buffer.close()
    producer.join(10)
    assert not producer.is_alive()
    gate.set()
    stats = hub.stop_session("s")
    assert stats.events_dropped > 0
