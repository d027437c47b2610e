"""Event rates: the events-per-second strip (with lost-event markers) and per-provider lines.

The strip shows a live view's last seconds (sampled from the ring's counters) or a
saved log's whole time span (a :class:`LogTimeline` built from the index in the
background). A bin in which events were lost is drawn in the lost-event color.
"""

from __future__ import annotations

from collections import deque

from rich.cells import set_cell_size
from rich.style import Style
from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from tracer import escape_text

from ._columns import format_time
from ._timeline import LogTimeline

__all__ = ["EventsStrip", "RateTracker", "RatesBar", "sparkline"]

_LOG_TAIL = 60  # cells kept for the log strip's span, peak and lost-records note
_LOST_MARK = Style(color="bright_white", bgcolor="magenta", bold=True)

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
        self.total: deque[float] = deque(maxlen=history)  # all events/s, a sample a second
        self.lost: deque[bool] = deque(maxlen=history)  # events were lost in that sample
        self._last: dict[str, int] = {}
        self._last_t: float | None = None
        self._last_lost = 0

    def sample(self, counts: dict[str, int], now: float, lost: int = 0) -> None:
        """Record rates from cumulative counts (``EventRing.providers``) at time ``now``;
        ``lost``: a cumulative count of lost events or lost-event records."""
        if self._last_t is None:
            self._last_t = now
            self._last = dict(counts)
            self._last_lost = lost
            return
        dt = now - self._last_t
        if dt <= 0:
            return
        self.total.append((sum(counts.values()) - sum(self._last.values())) / dt)
        self.lost.append(lost > self._last_lost)
        self._last_lost = lost
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


def _strip(rates: list[float], lost: set[int] | frozenset[int], width: int) -> Text:
    """``rates`` resampled to ``width`` cells as a sparkline; lost bins marked."""
    n = len(rates)
    if not n or width <= 0:
        return Text("")
    cells: list[float] = []
    marks: list[bool] = []
    for c in range(width):
        a, b = c * n // width, max(c * n // width + 1, (c + 1) * n // width)
        chunk = rates[a:b]
        cells.append(sum(chunk) / len(chunk))
        marks.append(any(i in lost for i in range(a, b)))
    text = Text()
    for ch, mark in zip(sparkline(cells, width), marks, strict=True):
        text.append(ch, _LOST_MARK if mark else "green")
    return text


class EventsStrip(Widget):
    """One line: events per second over the log's span (or the last seconds, live)."""

    DEFAULT_CSS = "EventsStrip { height: 1; color: $text-muted; }"

    def __init__(self, tracker: RateTracker, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tracker = tracker
        self.timeline: LogTimeline | None = None
        self._shown = -1

    def show_log(self, timeline: LogTimeline | None) -> None:
        """Show a saved log's timeline (None: the live rates)."""
        if self.timeline is not None:
            self.timeline.close()
        self.timeline = timeline
        self._shown = -1
        self.refresh()

    def poll(self) -> None:
        """Redraw if the log's timeline changed (called on the app's timer)."""
        if self.timeline is not None and self.timeline.version != self._shown:
            self.refresh()

    def render(self) -> Text:
        width = self.size.width or 80
        if self.timeline is None:
            return self._render_live(width)
        tl = self.timeline.timeline
        self._shown = self.timeline.version
        label = Text("events/s ", style="bold")
        if not tl.rows:
            index = self.timeline.index
            empty = index.done and not index.total
            return label + Text("no events in this log yet" if empty
                                else "reading the log's times…", style="dim")
        peak = max(tl.rates, default=0.0)
        span = f" {format_time(tl.start_ns)} to {format_time(tl.end_ns)} peak {_human(peak)}"
        if tl.lost_records:
            span += f" ⚠ {tl.lost_records:,} lost records"
        if not tl.complete:
            span += " (indexing)"
        # the strip's width does not depend on the text (or each redraw would recompute it)
        bins = max(1, width - len(label) - _LOG_TAIL)
        self.timeline.resize(bins)
        return label + _strip(tl.rates, tl.lost_bins, bins) + Text(span)

    def _render_live(self, width: int) -> Text:
        hist = list(self.tracker.total)
        label = Text("events/s ", style="bold")
        if not hist:
            return label + Text("no events yet", style="dim")
        lost = sum(self.tracker.lost)
        tail = f" {_human(hist[-1])} (last {len(hist)} s)"
        if lost:
            tail += f" ⚠ losses in {lost} s"
        bins = max(1, width - len(label) - len(tail))
        shown = hist[-bins:]
        marks = {i for i, m in enumerate(list(self.tracker.lost)[-bins:]) if m}
        return label + _strip(shown, marks, len(shown)) + Text(tail)

    def on_unmount(self) -> None:
        if self.timeline is not None:
            self.timeline.close()
