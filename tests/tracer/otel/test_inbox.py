"""The hand-off queue is bounded in events and never blocks the producer."""

from __future__ import annotations

import time

from tracer.otel._inbox import Inbox


def test_a_batch_that_does_not_fit_is_refused_whole() -> None:
    """put() refuses a batch that would exceed max_events and keeps the earlier ones."""
    box = Inbox(5)
    assert box.put([1, 2, 3]) and not box.put([4, 5, 6]) and box.put([7, 8])
    assert box.take(0) == [[1, 2, 3], [7, 8]] and box.pending == 0


def test_take_waits_at_most_the_timeout_and_close_wakes_it() -> None:
    """An empty take returns after its timeout; after close() it returns at once."""
    box = Inbox(5)
    t0 = time.monotonic()
    assert box.take(0.05) == [] and time.monotonic() - t0 >= 0.04
    box.close()
    t0 = time.monotonic()
    assert box.take(5) == [] and time.monotonic() - t0 < 1
    assert not box.put([1])
