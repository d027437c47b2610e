"""Where the view's events come from: real-time subscriptions and followed log files.

The app drains every source into the ring on a timer, in batches, so a burst of
events costs one screen update, not one per event.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING

from tracer import LogReader

from ._ring import EventRing

if TYPE_CHECKING:
    from tracer import Event, Subscription

__all__ = ["Feed", "LogFollower"]

#: The inspector's provider name and its queue-full event (see providers/inspect).
INSPECT_PROVIDER = "wfptrace-inspect"
OVERLOAD = "Overload"


def _count(value: object) -> int:
    """A count field from the network side of the pipeline: an int, else 0."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class LogFollower:
    """Reads a saved log (and keeps following it) on a thread, into a queue."""

    def __init__(self, path: str | Path, follow: bool = True, max_queue: int = 200_000) -> None:
        self.path = Path(path)
        self._stop = threading.Event()
        self.reader = LogReader(path, follow=follow, should_stop=self._stop.is_set)
        self._queue: deque[Event] = deque()
        self._room = threading.Semaphore(max_queue)
        self.done = False
        self.lost = 0
        self._thread = threading.Thread(target=self._run, name="traceview-log", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            for event in self.reader:
                while not self._room.acquire(timeout=0.1):
                    if self._stop.is_set():
                        return
                self._queue.append(event)
        finally:
            self.done = True

    def drain(self) -> list[Event]:
        """Events read since the last call."""
        out = []
        q = self._queue
        while q:
            out.append(q.popleft())
        for _ in out:
            self._room.release()
        return out

    def close(self) -> None:
        """Stop following."""
        self._stop.set()
        self._thread.join(timeout=2)


class Feed:
    """Every source the view shows, drained into one ring."""

    def __init__(self, ring: EventRing) -> None:
        self.ring = ring
        self.subscriptions: dict[str, Subscription] = {}
        self.logs: list[LogFollower] = []
        self._backlog: deque[Event] = deque()
        #: The inspector's overload totals (let through, dropped) from its latest
        #: ``Overload`` event: what a full queue did, shown in the status bar.
        self.overload: tuple[int, int] | None = None

    def watch(self, session: str, sub: Subscription) -> None:
        """Show a session's real-time events."""
        old = self.subscriptions.pop(session, None)
        if old is not None:
            old.close()
        self.subscriptions[session] = sub

    def unwatch(self, session: str) -> None:
        """Stop showing a session's events."""
        sub = self.subscriptions.pop(session, None)
        if sub is not None:
            sub.close()

    def open_log(self, path: str | Path, follow: bool = True) -> LogFollower:
        """Show a saved log's events (and new ones while it grows)."""
        follower = LogFollower(path, follow=follow)
        self.logs.append(follower)
        return follower

    @property
    def lost(self) -> int:
        """Events the sources could not deliver to the view (queues overflowed)."""
        return sum(s.lost for s in self.subscriptions.values())

    @property
    def backlog(self) -> int:
        """Events received but not yet in the ring."""
        return len(self._backlog)

    def pump(self, budget_s: float = 0.008, max_backlog: int = 50_000) -> int:
        """Move pending events into the ring for at most ``budget_s``; return how many.

        The budget keeps frames and keys responsive under any load; what does not fit
        waits in a small backlog, then in the sources' own bounded queues, where
        overflow is counted as lost.
        """
        backlog = self._backlog
        if len(backlog) < max_backlog:
            for name, sub in list(self.subscriptions.items()):
                backlog.extend(sub.drain())
                if sub.closed and not sub._queue:
                    self.subscriptions.pop(name, None)
            for log in self.logs:
                backlog.extend(log.drain())
        moved = 0
        deadline = time.perf_counter() + budget_s
        while backlog:
            chunk = [backlog.popleft() for _ in range(min(512, len(backlog)))]
            self._note_overload(chunk)
            moved += self.ring.extend(chunk)
            if time.perf_counter() >= deadline:
                break
        return moved

    def add(self, events: list[Event]) -> int:
        """Put events straight into the ring (a stopped session's last ones)."""
        self._note_overload(events)
        return self.ring.extend(events)

    def _note_overload(self, chunk: list[Event]) -> None:
        for ev in chunk:
            if ev.name == OVERLOAD and ev.provider == INSPECT_PROVIDER:
                f = ev.fields
                self.overload = (_count(f.get("total_accepted")), _count(f.get("total_dropped")))

    def close(self) -> None:
        """Close every source."""
        for sub in self.subscriptions.values():
            sub.close()
        self.subscriptions.clear()
        for log in self.logs:
            log.close()
