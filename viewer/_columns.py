"""How one event becomes one screen line: columns, widths and level colors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style

from tracer import Level, escape_text, format_message

from ._ring import EventRing

if TYPE_CHECKING:
    from ._logindex import LogIndex

__all__ = ["LEVEL_STYLES", "LOST_STYLE", "fit_cells", "format_time", "header_text", "row_segments"]

LEVEL_NAMES = {1: "CRIT", 2: "ERR", 3: "WARN", 4: "INFO", 5: "VERB"}
LEVEL_STYLES: dict[int, Style] = {
    int(Level.CRITICAL): Style(color="bright_white", bgcolor="red", bold=True),
    int(Level.ERROR): Style(color="bright_red", bold=True),
    int(Level.WARNING): Style(color="yellow"),
    int(Level.INFO): Style(),
    int(Level.VERBOSE): Style(color="bright_black"),
}
LOST_STYLE = Style(color="bright_white", bgcolor="magenta", bold=True)
_SEQ_STYLE = Style(color="cyan")
_PROVIDER_STYLE = Style(color="green")
_EVENT_STYLE = Style(bold=True)

# (title, width); the message takes the rest of the line
COLUMNS: tuple[tuple[str, int], ...] = (("Seq", 7), ("Time", 12), ("Provider", 15),
                                        ("Lvl", 4), ("Event", 14))


def format_time(ns: int) -> str:
    """``HH:MM:SS.mmm`` in UTC (deterministic, matches ``wfptrace fmt``)."""
    sec, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(sec, UTC).strftime("%H:%M:%S") + f".{frac // 1_000_000:03d}"


def fit_cells(text: str, width: int) -> str:
    """``text`` in exactly ``width`` terminal cells: padded, or cut with an ellipsis."""
    if text.isascii():
        return text.ljust(width) if len(text) <= width else text[:max(0, width - 1)] + "…"[:width]
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, max(0, width - 1)) + "…"[:width]


def header_text(width: int) -> str:
    """The column titles, aligned with :func:`row_segments`."""
    cells = [fit_cells(t, w) for t, w in COLUMNS]
    return (" ".join(cells) + " Message").ljust(width)[:width]


def seq_cell(seq: int, width: int) -> str:
    """A sequence number in ``width`` cells; a longer one keeps its last digits behind
    an ellipsis (never silently cut: 10,000,000 is not 0000000)."""
    text = str(seq)
    return text.rjust(width) if len(text) <= width else "…" + text[-(width - 1):]


def row_segments(ring: EventRing | LogIndex, index: int, width: int) -> list[Segment]:
    """The segments of one event's line (``width`` cells); data is shown escaped."""
    s = ring.schema(index)
    level = ring.level(index)
    fields = ring.fields(index)
    if s.kind == "lost":
        text = f"{seq_cell(ring.seq(index), 7)} {format_time(ring.time_ns(index))} ⚠ " + \
            escape_text(ring.event(index).message)
        return [Segment(fit_cells(text, width), LOST_STYLE)]
    base = LEVEL_STYLES.get(level, Style())
    (_, w_seq), (_, w_time), (_, w_prov), (_, w_lvl), (_, w_ev) = COLUMNS
    used = w_seq + w_time + w_prov + w_lvl + w_ev + 5
    message = escape_text(format_message(s.template, fields))
    segs = [
        Segment(seq_cell(ring.seq(index), w_seq) + " ", base + _SEQ_STYLE),
        Segment(format_time(ring.time_ns(index)) + " ", base),
        Segment(fit_cells(escape_text(s.provider), w_prov) + " ", base + _PROVIDER_STYLE),
        Segment(fit_cells(LEVEL_NAMES.get(level, str(level)), w_lvl) + " ", base),
        Segment(fit_cells(escape_text(s.name), w_ev) + " ", base + _EVENT_STYLE),
        Segment(fit_cells(message, max(0, width - used)), base),
    ]
    return segs
