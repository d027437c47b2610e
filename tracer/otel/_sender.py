"""The export thread: a bounded queue of encoded requests, retries with back-off.

A request that cannot be queued, is rejected, or keeps failing past the retry
budget is counted as dropped (spans or log records), never logged one by one;
one warning says when the collector becomes unreachable and one line when it is
back.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import deque

from ._stats import OtlpStats
from ._transport import (
    CLOSED,
    ERROR,
    PARTIAL_SUCCESS,
    QUEUE_FULL,
    UNSUPPORTED,
    ExportError,
    Transport,
)

__all__ = ["Retry", "Sender"]

_log = logging.getLogger("tracer.otel")


class Retry:
    """Exponential back-off with jitter, capped, and a total budget per request."""

    def __init__(self, initial: float = 0.5, maximum: float = 30.0, budget: float = 120.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self.budget = budget

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        base = min(self.maximum, self.initial * (2 ** (attempt - 1)))
        return base * random.uniform(0.5, 1.0)


class Sender:
    """Sends requests of the signals ``traces`` and ``logs`` on its own thread."""

    def __init__(self, transports: dict[str, Transport], stats: OtlpStats, *, timeout: float,
                 max_queued: int, retry: Retry) -> None:
        self.transports = transports
        self.stats = stats
        self.timeout = timeout
        self.max_queued = max_queued
        self.retry = retry
        self.failing: set[str] = set()
        #: signals the collector does not accept (e.g. logs sent to Jaeger): dropped unsent
        self.unsupported: set[str] = set()
        self.last_error: str | None = None
        self._queue: deque[tuple[str, bytes, int]] = deque()
        self._cond = threading.Condition()
        self._closing = False
        self._deadline = float("inf")
        self._idle = True
        self._thread = threading.Thread(target=self._run, name="wfptrace-otlp-send", daemon=True)
        self._thread.start()

    # -- called by the mapping thread -----------------------------------------------------
    def submit(self, signal: str, payload: bytes, count: int) -> bool:
        """Queue one request of ``count`` items; count them dropped if the queue is full."""
        with self._cond:
            if self._closing or signal in self.unsupported or len(self._queue) >= self.max_queued:
                self._dropped(signal, count, CLOSED if self._closing else
                              UNSUPPORTED if signal in self.unsupported else QUEUE_FULL)
                return False
            self._queue.append((signal, payload, count))
            self._cond.notify()
        return True

    def close(self, timeout: float) -> None:
        """Send what is queued within ``timeout`` seconds, then drop (and count) the rest."""
        with self._cond:
            self._closing = True
            self._deadline = time.monotonic() + timeout
            self._cond.notify_all()
        self._thread.join(timeout + self.timeout + 1)
        with self._cond:
            while self._queue:
                signal, _, count = self._queue.popleft()
                self._dropped(signal, count, CLOSED)
        for transport in self.transports.values():
            with contextlib.suppress(Exception):  # a broken channel must not fail the stop
                transport.close()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until the queue is empty and nothing is in flight (for tests and benches)."""
        end = time.monotonic() + timeout
        with self._cond:
            while self._queue or not self._idle:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
        return True

    # -- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._idle = True
                    self._cond.notify_all()
                    self._cond.wait()
                if not self._queue:
                    self._idle = True
                    self._cond.notify_all()
                    return
                self._idle = False
                signal, payload, count = self._queue.popleft()
            self._deliver(signal, payload, count)

    def _deliver(self, signal: str, payload: bytes, count: int) -> None:
        started = time.monotonic()
        attempt = 0
        while True:
            timeout = min(self.timeout, max(0.05, self._deadline - time.monotonic()))
            self.stats.export_requests += 1
            try:
                rejected = self.transports[signal].send(payload, timeout)
            except ExportError as exc:
                self.stats.export_failures += 1
                if exc.unsupported:
                    self._unsupported(signal, str(exc))
                    self._dropped(signal, count, UNSUPPORTED)
                    return
                self._note_failure(signal, str(exc))
                attempt += 1
                wait = self.retry.delay(attempt)
                now = time.monotonic()
                if (not exc.retryable or now + wait - started > self.retry.budget
                        or now + wait > self._deadline):
                    self._dropped(signal, count, exc.reason)
                    return
                self.stats.export_retries += 1
                with self._cond:
                    self._cond.wait_for(lambda: self._closing and time.monotonic()
                                        >= self._deadline, wait)
                continue
            except Exception as exc:  # an unexpected transport bug: drop, keep running
                self.stats.export_failures += 1
                self._note_failure(signal, f"{type(exc).__name__}: {exc}")
                self._dropped(signal, count, ERROR)
                return
            self._note_success(signal)
            rejected = min(max(rejected, 0), count)  # a hostile answer cannot unbalance the count
            self._exported(signal, count - rejected, rejected)
            return

    def _exported(self, signal: str, ok: int, rejected: int) -> None:
        with self._cond:
            if signal == "traces":
                self.stats.spans_exported += ok
            else:
                self.stats.logs_exported += ok
            if rejected:
                self._dropped(signal, rejected, PARTIAL_SUCCESS)

    def _dropped(self, signal: str, count: int, reason: str) -> None:
        with self._cond:  # re-entrant: submit() already holds it
            self.stats.dropped(signal, count, reason)

    def _note_failure(self, signal: str, message: str) -> None:
        self.last_error = message
        if signal not in self.failing:
            self.failing.add(signal)
            _log.warning("OTLP %s export failing (%s); retrying with back-off, counting drops",
                         signal, message)

    def _note_success(self, signal: str) -> None:
        if signal in self.failing:
            self.failing.discard(signal)
            _log.warning("OTLP %s export recovered", signal)

    def _unsupported(self, signal: str, message: str) -> None:
        self.last_error = message
        with self._cond:
            self.unsupported.add(signal)
        _log.warning("the collector does not accept OTLP %s (%s): dropping them, counted",
                     signal, message)
