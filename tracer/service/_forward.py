"""Forwarding a session's real-time events to a subscriber in another process."""

from __future__ import annotations

import threading

from .._realtime import Subscription
from . import _wire
from ._codec import EventPacker
from ._outbox import Outbox

__all__ = ["Forwarder"]

#: Events per frame: small enough to stay far below the frame limit, large enough to batch.
BATCH = 2048


class Forwarder:
    """A thread moving events from a hub-side subscription to the client's socket.

    It waits for room in the connection's outbox before taking more events, so a
    slow consumer fills the subscription's bounded queue, where drops are counted
    (the session's ``realtime_lost``) and reported in band.
    """

    def __init__(self, sub: Subscription, outbox: Outbox,
                 allowed: frozenset[str] | None = None) -> None:
        self.sub = sub
        self.outbox = outbox
        #: Providers whose events this subscriber may read (None: all); others are dropped.
        self.allowed = allowed
        self._packer = EventPacker()
        self._thread = threading.Thread(target=self._run, name=f"wfptrace-fwd-{sub.session}",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sub = self.sub
        while True:
            first = sub.get(timeout=0.5)
            if first is None:
                if sub.closed:
                    break
                continue
            events = [first, *sub.drain()]
            if self.allowed is not None:
                events = [e for e in events
                          if e.kind != "event" or e.provider in self.allowed]
            for i in range(0, len(events), BATCH):
                if not self.outbox.wait_room():
                    sub.close()
                    return
                types, rows = self._packer.pack(events[i:i + BATCH])
                self.outbox.send(_wire.encode(_wire.SubEvents(types, rows)))
        self.outbox.send(_wire.encode(_wire.SubEnd("session stopped")))

    def join(self, timeout: float) -> None:
        """Wait for the last events and the end marker to be queued."""
        self._thread.join(timeout)

    def stop(self) -> None:
        """End the subscription (the client went away)."""
        self.sub.close()
