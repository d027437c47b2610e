"""Real-time subscribers as a sink: each has its own bounded queue and lost count.

A batch handed to this sink counts once per subscriber (once when there is none, as
lost "no subscriber"); what a subscriber's full queue refused is lost "subscriber
queue full". Only as many events are built as the roomiest subscriber can take.
"""

from __future__ import annotations

import os
import threading
import time

from .._event import Event
from .._realtime import Subscription
from .._render import Renderer
from .._sink import Needs, SinkBatch, SinkContext, SinkSpec, SinkStats, SinkStatsCounter

__all__ = ["RealtimeSink"]

_NO_SUBSCRIBER = "no subscriber"
_QUEUE_FULL = "subscriber queue full"


class RealtimeSink:
    """Delivers events to the session's subscriptions."""

    needs = Needs.EVENTS

    def __init__(self, spec: SinkSpec, context: SinkContext) -> None:
        self.name = "realtime"
        self.session = context.session
        self.counter = SinkStatsCounter(self.name, "realtime")
        self._renderer: Renderer = context.renderer
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()
        self._closed = False

    # -- consumers ----------------------------------------------------------------------
    def subscribe(self, maxsize: int = 100_000) -> Subscription:
        """A new subscription; finished at once if the sink is closed."""
        sub = Subscription(self.session, maxsize, on_close=self._unsubscribe)
        with self._lock:
            if self._closed:
                sub._finish()
                return sub
            self._subs.append(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def subscribers(self) -> int:
        return len(self._subs)

    def event_room(self, n: int) -> int:
        """How many events of a batch of ``n`` are worth building (the roomiest queue)."""
        with self._lock:
            return min(n, max((sub.room() for sub in self._subs), default=0))

    # -- the Sink protocol --------------------------------------------------------------
    def write(self, batch: SinkBatch) -> None:
        n = batch.count
        with self._lock:
            subs = list(self._subs)
        if not subs:
            self.counter.hand(n)
            self.counter.settle(0, n, _NO_SUBSCRIBER)
            return
        skipped = n - len(batch.events)
        events = batch.events_and_lost()
        for sub in subs:
            self.counter.hand(n)
            dropped = sub._push(events, self._lost_marker, skipped)
            dropped = min(dropped, n)
            self.counter.settle(n - dropped, dropped, _QUEUE_FULL)

    def _lost_marker(self, count: int) -> Event:
        now = time.time_ns()
        return self._renderer.lost(0, count, now, now, os.getpid(), {_QUEUE_FULL: count})[1]

    def flush(self) -> None:
        pass

    def close(self) -> None:
        with self._lock:
            self._closed = True
            subs, self._subs = self._subs, []
        for sub in subs:
            sub._finish()

    def stats(self) -> SinkStats:
        return self.counter.snapshot(subscribers=len(self._subs))
