"""Helpers shared by the benchmarks: medians, RSS sampling, the JSON result line."""

from __future__ import annotations

import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson


def median_of(runs: int, fn: Callable[[], float]) -> float:
    """Median of ``runs`` calls of ``fn`` (each returns one measurement)."""
    return statistics.median(fn() for _ in range(runs))


def spread(name: str, values: list[float]) -> dict[str, float]:
    """``name`` = the median of ``values``; ``name_min`` / ``name_max`` their range (the
    spread a noisy machine gives a figure measured over several runs)."""
    return {name: statistics.median(values), f"{name}_min": min(values),
            f"{name}_max": max(values)}


def rss_mb(pid: int | str = "self") -> float:
    """A process's resident set size in MB (this one by default; 0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssSampler:
    """Samples RSS on a thread and keeps the peak (VmHWM cannot be reset)."""

    def __init__(self, interval: float = 0.01, pid: int | str = "self") -> None:
        self.pid = pid
        self.base = rss_mb(pid)
        self.peak = self.base
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)
        self._thread.start()

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self.peak = max(self.peak, rss_mb(self.pid))

    def stop(self) -> float:
        """Stop sampling; return the growth over the starting RSS in MB."""
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mb(self.pid))
        return self.peak - self.base


def progress(text: str) -> None:
    """Show progress on stderr (stdout's last line is the JSON result)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def emit(bench: str, metrics: dict[str, Any], ratios: dict[str, Any]) -> None:
    """Print the result as the last line of stdout."""
    print(orjson.dumps({"bench": bench, "metrics": metrics, "ratios": ratios}).decode())
