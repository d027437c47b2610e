"""The first screen of a log, painted before Textual has loaded.

Importing Textual costs 0.35 s of CPU or more before anything can be drawn; a user
opening a log would stare at a blank terminal that long. When TraceView opens one log
in a terminal, :func:`prepaint` draws, on the alternate screen, what Textual's first
frame will show: the column titles and the first rows, in the same places, with the
same columns (:class:`ColumnLayout`) and the same escaping. Textual then takes the
screen over (entering the alternate screen again changes nothing in xterm-compatible
terminals, so the rows stay up until its first frame replaces them).

While the rows are up, the terminal does not echo: keys typed meanwhile wait in the
terminal's input queue and reach Textual once it runs (:meth:`Prepainted.handover`
gives the terminal back its settings first, which Textual then saves and restores on
exit).
"""

from __future__ import annotations

import contextlib
import os
import sys
import termios
from pathlib import Path
from typing import TextIO

from rich.color import ColorSystem
from rich.segment import Segment
from rich.style import Style

from ._columns import ColumnLayout
from ._logindex import LogIndex

__all__ = ["Prepainted", "prepaint"]

_ENV_OFF = "TRACEVIEW_NO_PREPAINT"
_DIM = Style(color="bright_black")
_HEADER = Style(bold=True, color="bright_white", bgcolor="blue")
_TOP = 2  # the events strip and the rates bar (one line until rates are known)
_BOTTOM = 2  # the status bar and the footer
_DAY = 86_400 * 1_000_000_000


class Prepainted:
    """A first screen on the alternate screen; the terminal's settings to give back."""

    def __init__(self, out: TextIO, fd: int, saved: list | None) -> None:
        self._out, self._fd, self._saved = out, fd, saved
        self._up = True  # the first screen is ours (not handed over, not abandoned)

    def handover(self) -> None:
        """Give the terminal its settings back, right before Textual starts; from now
        on the screen is Textual's."""
        self._restore()
        self._up = False

    def abandon(self) -> None:
        """Textual never took the screen over: leave the alternate screen and show the
        cursor again (nothing once handed over or abandoned)."""
        if self._up:
            self._restore()
            self._up = False
            self._out.write("\x1b[?25h\x1b[?1049l")
            self._out.flush()

    def _restore(self) -> None:
        if self._saved is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self._fd, termios.TCSANOW, self._saved)
            self._saved = None


def prepaint(logs: list[Path], out: TextIO | None = None) -> Prepainted | None:
    """Draw one log's first screen at once (None when it does not apply: several logs,
    not a terminal, ``TRACEVIEW_NO_PREPAINT`` set, an empty or circular log)."""
    out = out or sys.stdout
    if len(logs) != 1 or os.environ.get(_ENV_OFF) or os.environ.get("TERM", "dumb") == "dumb":
        return None
    try:
        if not (out.isatty() and sys.stdin.isatty()):
            return None
        width, height = os.get_terminal_size(out.fileno())
    except (OSError, ValueError):
        return None
    lines = _screen(logs[0], width, height)
    if lines is None:
        return None
    fd = sys.stdin.fileno()
    saved = _quiet(fd)
    out.write("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J" + "\r\n".join(lines))
    out.flush()
    return Prepainted(out, fd, saved)


def _quiet(fd: int) -> list | None:
    """Stop echo and line editing (keys typed now must not smear the rows); the old
    settings, or None if the terminal refused."""
    try:
        saved = termios.tcgetattr(fd)
        quiet = termios.tcgetattr(fd)
        quiet[3] &= ~(termios.ECHO | termios.ICANON)
        termios.tcsetattr(fd, termios.TCSANOW, quiet)
    except termios.error:
        return None
    return saved


def _screen(path: Path, width: int, height: int) -> list[str] | None:
    """The lines of the first screen (ANSI), or None if there are no rows to show yet."""
    try:
        index = LogIndex(path, follow=False, start=False)
    except (OSError, ValueError):
        return None
    try:
        if index.mode == "circular" or len(index) == 0:
            return None
        layout = ColumnLayout()
        layout.learn(index.manifests)
        last = len(index) - 1
        layout.set_show_date(index.time_ns(0) // _DAY != index.time_ns(last) // _DAY)
        rows = max(0, height - _TOP - 1 - _BOTTOM)
        lines = [_ansi([Segment("events/s reading the log's times…".ljust(width), _DIM)]),
                 _ansi([Segment("rates: no events yet".ljust(width), _DIM)]),
                 _ansi([Segment(layout.header(width).plain, _HEADER)])]
        lines += [_ansi(layout.segments(index, i, width)) for i in range(min(rows, len(index)))]
        return lines
    finally:
        index.close()


def _ansi(segments: list[Segment]) -> str:
    """Segments as terminal text (256 colors; styles reset at the end of the line)."""
    parts = [(style.render(text, color_system=ColorSystem.EIGHT_BIT) if style else text)
             for text, style, _ in segments]
    return "".join(parts) + "\x1b[0m"
