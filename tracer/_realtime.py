"""Real-time consumers: each subscriber has its own bounded queue and lost count."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

from ._event import Event

__all__ = ["Subscription"]

_DEFAULT_MAXSIZE = 100_000


class Subscription:
    """A live view of a session's events, fed by the session's flush thread.

    Iterate it (``for event in sub``) or ``async for event in sub``; iteration ends
    when the session stops or :meth:`close` is called. When the consumer falls
    behind by more than ``maxsize`` events, newer events are dropped and counted in
    :attr:`lost`, and an in-band ``lost`` event tells the consumer where.
    """

    def __init__(self, session: str, maxsize: int = _DEFAULT_MAXSIZE,
                 on_close: Callable[[Subscription], None] | None = None) -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self.session = session
        self.maxsize = maxsize
        self.lost = 0
        self.delivered = 0
        self._queue: deque[Event] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        self._on_close = on_close
        self._pending_lost = 0

    @property
    def closed(self) -> bool:
        """True once the session stopped or the consumer closed the subscription."""
        return self._closed

    def room(self) -> int:
        """How many more events the queue takes now."""
        return max(0, self.maxsize - len(self._queue))

    def _push(self, events: Sequence[Event], make_lost: Callable[[int], Event],
              skipped: int = 0) -> int:
        """Queue a batch (called by the session); return how many were dropped.

        ``skipped`` events of the batch were not even built (no subscriber had room):
        they count as dropped, after ``events`` and before any in-band loss record.
        """
        with self._cond:
            room = self.room()
            if self._pending_lost and room > 0:
                self._queue.append(make_lost(self._pending_lost))
                self._pending_lost = 0
                room -= 1
            take = events if len(events) <= room else events[:room]
            self._queue.extend(take)
            dropped = len(events) - len(take) + skipped
            self.lost += dropped
            self._pending_lost += dropped
            self._cond.notify_all()
        self._wake_async()
        return dropped

    def _finish(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._wake_async()

    def _wake_async(self) -> None:
        for loop, ev in list(self._waiters):
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(ev.set)

    def get(self, timeout: float | None = None) -> Event | None:
        """The next event, waiting up to ``timeout`` seconds; None on timeout or end."""
        with self._cond:
            if not self._queue and not self._closed:
                self._cond.wait(timeout)
            if self._queue:
                self.delivered += 1
                return self._queue.popleft()
            return None

    def _take_all(self) -> list[Event]:
        """Everything queued (the caller holds the lock), counted as delivered."""
        out = list(self._queue)
        self._queue.clear()
        self.delivered += len(out)
        return out

    def drain(self) -> list[Event]:
        """Every event queued now, without waiting."""
        with self._cond:
            return self._take_all()

    def __iter__(self) -> Iterator[Event]:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = self._take_all()  # one lock round trip per batch, not per event
            yield from batch

    async def __aiter__(self) -> AsyncIterator[Event]:
        loop = asyncio.get_running_loop()
        waiter = (loop, asyncio.Event())
        self._waiters.append(waiter)
        try:
            while True:
                batch = self.drain()
                for event in batch:
                    yield event
                if not batch:
                    if self._closed:
                        return
                    waiter[1].clear()
                    if not self._queue and not self._closed:
                        await waiter[1].wait()
        finally:
            self._waiters.remove(waiter)

    def close(self) -> None:
        """Stop receiving events; pending iteration ends."""
        self._finish()
        if self._on_close is not None:
            self._on_close(self)
