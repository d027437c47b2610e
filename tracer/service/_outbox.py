"""A connection's outgoing frames, sent by their own thread so no sender ever blocks.

The hub pushes enable changes and replies from many threads; a stalled peer must not
stall them. Frames queue here (bounded in bytes) and one writer thread sends them.
Producers that can wait (a real-time forwarder) use :meth:`wait_room` for
backpressure; others drop the connection when the peer stops reading for good.
"""

from __future__ import annotations

import socket
import threading
from collections import deque
from collections.abc import Callable

__all__ = ["Outbox"]

DEFAULT_LIMIT = 32 << 20


class Outbox:
    """Queued frames for one socket and the thread that writes them."""

    def __init__(self, sock: socket.socket, name: str, limit: int = DEFAULT_LIMIT,
                 on_error: Callable[[], None] | None = None) -> None:
        self.sock = sock
        self.limit = limit
        self._q: deque[bytes] = deque()
        self._bytes = 0
        self._cond = threading.Condition()
        self._closed = False
        self._on_error = on_error
        self._thread = threading.Thread(target=self._run, name=f"wfptrace-out-{name}",
                                        daemon=True)
        self._thread.start()

    def send(self, frame: bytes) -> bool:
        """Queue a frame; False if the connection is closed or its queue is over the limit."""
        with self._cond:
            if self._closed or self._bytes > self.limit:
                return False
            self._q.append(frame)
            self._bytes += len(frame)
            self._cond.notify_all()
            return True

    def wait_room(self, timeout: float | None = None) -> bool:
        """Wait until the queue is below half its limit; False if closed or timed out."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._closed or self._bytes < self.limit // 2,
                                     timeout)
            return ok and not self._closed

    def close(self, drain: float = 0.0) -> None:
        """Stop, after sending what is queued for up to ``drain`` seconds."""
        with self._cond:
            if drain:
                self._cond.wait_for(lambda: not self._q, drain)
            self._closed = True
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._q or self._closed)
                if self._closed:
                    return
                batch = b"".join(self._q)
                n = len(self._q)
            try:
                self.sock.sendall(batch)
            except OSError:
                self._fail()
                return
            with self._cond:
                for _ in range(n):
                    self._q.popleft()
                self._bytes -= len(batch)
                self._cond.notify_all()

    def _fail(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._on_error is not None:
            self._on_error()
