"""Another application's traffic while an interceptor runs: a bulk TCP transfer whose
progress is sampled, and short connections, between namespaces ``a`` and ``b``."""

from __future__ import annotations

import contextlib
import itertools
import socket
import threading
import time

__all__ = ["Bulk", "Servers", "short_connection"]


class Servers:
    """In namespace ``b``: a sink on ``port`` (reads everything) and an accept-and-close
    server on ``port + 1``."""

    def __init__(self, ns, addr: str, port: int) -> None:
        with ns.enter():
            self.sink = socket.create_server((addr, port), backlog=64)
            self.short = socket.create_server((addr, port + 1), backlog=1024)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._sink, daemon=True),
                         threading.Thread(target=self._short, daemon=True)]
        for t in self._threads:
            t.start()

    def _sink(self) -> None:
        self.sink.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sink.accept()
            except OSError:
                continue
            threading.Thread(target=self._drain, args=(conn,), daemon=True).start()

    @staticmethod
    def _drain(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while conn.recv(1 << 20):
                pass

    def _short(self) -> None:
        self.short.settimeout(0.2)
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self.short.accept()
                conn.close()

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(2)
        self.sink.close()
        self.short.close()


class Bulk:
    """A TCP transfer from namespace ``a`` that runs until :meth:`close`; :attr:`samples`
    holds (monotonic time, bytes sent so far) after every 64 KiB."""

    def __init__(self, ns, addr: str, port: int) -> None:
        with ns.enter():
            self.sock = socket.create_connection((addr, port), timeout=5)
        self.sent = 0
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        chunk = b"b" * 65536
        with contextlib.suppress(OSError):
            while not self._stop.is_set():
                self.sock.sendall(chunk)
                self.sent += len(chunk)
                self.samples.append((time.monotonic(), self.sent))

    def window(self, start: float, end: float) -> tuple[int, float]:
        """Bytes sent between ``start`` and ``end``, and the longest pause (s) in it."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if not inside:
            return 0, end - start
        times = [start] + [t for t, _ in inside] + [end]
        gap = max(b - a for a, b in itertools.pairwise(times))
        return inside[-1][1] - inside[0][1], gap

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(5)


def short_connection(ns, addr: str, port: int, timeout: float = 5.0) -> float | None:
    """Connect from ``ns`` and close; the seconds it took, or None if it failed."""
    with ns.enter():
        s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.settimeout(timeout)
    start = time.monotonic()
    try:
        s.connect((addr, port))
        return time.monotonic() - start
    except OSError:
        return None
    finally:
        s.close()
