"""A one-line progress bar for long replays, drawn on a terminal only."""

from __future__ import annotations

import time
from typing import TextIO

__all__ = ["ProgressBar"]


class ProgressBar:
    """Draws ``name [####......]  42.0% 1234 pkts`` on ``stream`` if it is a terminal
    (at most five times a second); silent otherwise, so logs and pipes stay clean."""

    def __init__(self, stream: TextIO | None) -> None:
        self.stream = stream if stream is not None and stream.isatty() else None
        self.last = 0.0

    def show(self, name: str, fraction: float, packets: int, force: bool = False) -> None:
        """Redraw (``force``: now, and end the line: the work is done)."""
        if self.stream is None:
            return
        now = time.monotonic()
        if not force and now - self.last < 0.2:
            return
        self.last = now
        filled = int(fraction * 30)
        self.stream.write(f"\r{name[-30:]:30} [{'#' * filled}{'.' * (30 - filled)}] "
                          f"{fraction * 100:5.1f}% {packets} pkts")
        if force:
            self.stream.write("\n")
        self.stream.flush()
