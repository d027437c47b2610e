"""Per-provider event rates and their sparklines."""

from __future__ import annotations

from collections import deque

from rich.cells import set_cell_size
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from tracer import escape_text

__all__ = ["RateTracker", "RatesBar", "sparkline"]

_BARS = "▁▂▃▄▅▆▇█"


def sparkline(values: list[float], width: int) -> str:
    """The last ``width`` values as block characters scaled to their maximum."""
    values = values[-width:] if width > 0 else []
    top = max(values, default=0.0)
    if top <= 0:
        return _BARS[0] * len(values)
    return "".join(_BARS[min(7, int(v / top * 7.999))] for v in values)


class RateTracker:
    """Samples per-provider event counters into per-second rate histories."""

    def __init__(self, history: int = 120) -> None:
        self.history = history
        self.rates: dict[str, deque[float]] = {}
        self._last: dict[str, int] = {}
        self._last_t: float | None = None

    def sample(self, counts: dict[str, int], now: float) -> None:
        """Record rates from cumulative counts (``EventRing.providers``) at time ``now``."""
        if self._last_t is None:
            self._last_t = now
            self._last = dict(counts)
            return
        dt = now - self._last_t
        if dt <= 0:
            return
        for name, count in counts.items():
            rate = (count - self._last.get(name, 0)) / dt
            hist = self.rates.setdefault(name, deque(maxlen=self.history))
            hist.append(rate)
        self._last = dict(counts)
        self._last_t = now

    def current(self, name: str) -> float:
        """The latest rate of a provider (events/s)."""
        hist = self.rates.get(name)
        return hist[-1] if hist else 0.0


def _human(rate: float) -> str:
    return f"{rate / 1000:.1f}k/s" if rate >= 1000 else f"{rate:.0f}/s"


class RatesBar(Widget):
    """One line per provider: name, sparkline of its rate, current rate."""

    DEFAULT_CSS = "RatesBar { height: auto; max-height: 4; color: $text-muted; }"

    def __init__(self, tracker: RateTracker, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tracker = tracker

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, min(4, len(self.tracker.rates)))

    def render(self) -> Text:
        width = self.size.width or 80
        names = sorted(n for n in self.tracker.rates if n)[:4]
        if not names:
            return Text("rates: no events yet", style="dim")
        text = Text()
        for i, name in enumerate(names):
            rate = _human(self.tracker.current(name))
            spark_w = max(0, width - 14 - 10)
            hist = list(self.tracker.rates[name])
            line = Text(set_cell_size(escape_text(name), 13) + " ")
            line.append(sparkline(hist, spark_w).ljust(spark_w), style="green")
            line.append(f" {rate:>8}")
            if i:
                text.append("\n")
            text.append_text(line)
        return text
