"""The provider side's bounded buffer: never blocks, counts drops per event."""

from __future__ import annotations

import time

from tracer import Level, Provider
from tracer.service._linkbuffer import LinkBuffer

P = Provider("lb-test", keywords=["a"])
A = P.event(1, "A", Level.INFO, "a", {"n": int})
B = P.event(2, "B", Level.INFO, "a", {"n": int})


def test_full_buffer_drops_and_counts_each_event_type():
    """Past capacity, records are dropped and counted per event id with the drop window."""
    buf = LinkBuffer(capacity=3, batch=2)
    for i in range(5):
        buf.put((100 + i, A.index, 1, i))
    buf.put((200, B.index, 1, 0))
    assert [r[3] for r in buf.take()] == [0, 1, 2]
    losses = buf.take_losses()
    assert (losses.count, losses.first_ns, losses.last_ns, losses.by_event) == (3, 103, 200,
                                                                              {1: 2, 2: 1})
    assert buf.take_losses() is None and buf.dropped == 3


def test_reaching_the_batch_size_wakes_the_sender():
    """The sender is woken when a batch is ready, not before."""
    buf = LinkBuffer(capacity=10, batch=2)
    buf.put((1, A.index, 1, 1))
    assert not buf.wake.is_set()
    buf.put((2, A.index, 1, 2))
    assert buf.wake.is_set()


def test_put_stays_fast_when_full():
    """Dropping costs about as little as appending (no waiting on anyone)."""
    buf = LinkBuffer(capacity=1, batch=1)
    t0 = time.perf_counter()
    for i in range(20000):
        buf.put((i, A.index, 1, i))
    assert (time.perf_counter() - t0) / 20000 < 20e-6
    assert buf.dropped == 19999
