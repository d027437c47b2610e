"""How one event becomes one screen line: columns from the manifests, widths, level colors.

The columns are the envelope's (sequence, time, provider, level, event, and the log a
row comes from when several are merged), one per field any manifest declares (hidden
until the user shows them), and the message, which takes the rest of the line. Widths
of the provider and event columns fit the names the manifests declare; every column can
be shown, hidden and resized (:class:`ColumnLayout`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

from tracer import Level, Manifest, escape_text, format_message, format_value

from ._ring import EventRing

if TYPE_CHECKING:
    from ._logindex import LogIndex

__all__ = ["LEVEL_STYLES", "LOST_STYLE", "Column", "ColumnLayout", "declared_fields",
           "fit_cells", "format_time", "header_text", "row_segments", "seq_cell"]

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
_SOURCE_STYLE = Style(color="magenta")
_FIELD_STYLE = Style(color="bright_blue")
_FOCUS_STYLE = Style(reverse=True)

#: The width a field column starts with, by its declared type (others: 12).
_TYPE_WIDTHS = {"bool": 5, "int": 8, "float": 9, "str": 16, "bytes": 16, "list": 18,
                "dict": 18}
_NUMERIC = frozenset({"int", "float"})
_MIN_WIDTH, _MAX_WIDTH = 3, 60
_MAX_COLUMNS = 512  # field columns past this many are not offered
_TIME_W, _DATE_TIME_W = 12, 23
#: Bounds of the provider and event columns fitted to the declared names.
_NAME_BOUNDS = {"provider": (8, 24), "event": (5, 28)}


def format_time(ns: int, date: bool = False) -> str:
    """``HH:MM:SS.mmm`` in UTC (deterministic, matches ``wfptrace fmt``); with ``date``,
    ``YYYY-MM-DD HH:MM:SS.mmm``."""
    sec, frac = divmod(ns, 1_000_000_000)
    fmt = "%Y-%m-%d %H:%M:%S" if date else "%H:%M:%S"
    return datetime.fromtimestamp(sec, UTC).strftime(fmt) + f".{frac // 1_000_000:03d}"


def fit_cells(text: str, width: int) -> str:
    """``text`` in exactly ``width`` terminal cells: padded, or cut with an ellipsis."""
    if text.isascii():
        return text.ljust(width) if len(text) <= width else text[:max(0, width - 1)] + "…"[:width]
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, max(0, width - 1)) + "…"[:width]


def seq_cell(seq: int, width: int) -> str:
    """A sequence number in ``width`` cells; a longer one keeps its last digits behind
    an ellipsis (never silently cut: 10,000,000 is not 0000000)."""
    text = str(seq)
    return text.rjust(width) if len(text) <= width else "…" + text[-(width - 1):]


def declared_fields(schema: Any) -> list[tuple[str, str, str]]:
    """(name, type, unit) of each field an event schema declares, in declared order.

    Read generically: a field is a ``(name, type[, unit])`` tuple or an object with
    ``name``/``type``/``unit`` attributes, whichever the manifest gives.
    """
    out = []
    for f in getattr(schema, "fields", ()) or ():
        if isinstance(f, tuple | list):
            name, kind, unit = [*f, "", ""][:3]
        else:
            name, kind, unit = (getattr(f, "name", f), getattr(f, "type", ""),
                                getattr(f, "unit", ""))
        out.append((str(name), str(kind or ""), str(unit or "")))
    return out


@dataclass
class Column:
    """One column: what it shows (``key``: an envelope part, or ``field:NAME``), its width."""

    key: str
    title: str
    width: int
    visible: bool = True
    kind: str = ""  # a field column's declared type
    unit: str = ""

    @property
    def field(self) -> str | None:
        """The field a field column shows (None for the envelope's columns)."""
        return self.key[6:] if self.key.startswith("field:") else None

    @property
    def label(self) -> str:
        """The title with the field's unit, as the header shows it."""
        return f"{self.title} ({self.unit})" if self.unit else self.title


class _Rows(Protocol):
    """What a layout reads from the view's storage (EventRing, LogIndex, merged logs)."""

    def schema(self, index: int) -> Any: ...
    def level(self, index: int) -> int: ...
    def fields(self, index: int) -> dict[str, Any]: ...
    def seq(self, index: int) -> int: ...
    def time_ns(self, index: int) -> int: ...
    def event(self, index: int) -> Any: ...


class ColumnLayout:
    """The events view's columns: which are shown, their widths, the focused one.

    ``version`` changes with every change, so cached rows can be redrawn.
    """

    def __init__(self) -> None:
        self.columns: list[Column] = [
            Column("seq", "Seq", 7), Column("time", "Time", _TIME_W),
            Column("source", "Log", 12, visible=False),
            Column("provider", "Provider", 15), Column("level", "Lvl", 4),
            Column("event", "Event", 14), Column("message", "Message", 0)]
        self._focus_key = "event"
        self._keys = {c.key for c in self.columns}
        self.version = 0
        self.show_date = False
        self._fitted: dict[str, int] = {}  # name columns' widths the user has not changed
        self._learned: set[tuple[str, str]] = set()

    # -- learning from manifests ---------------------------------------------------------
    def learn(self, manifests: Mapping[str, Manifest]) -> bool:
        """Add the columns of event types not seen yet; True if anything changed."""
        changed = False
        for provider, manifest in manifests.items():
            for name, schema in manifest.events.items():
                if (provider, name) in self._learned:
                    continue
                self._learned.add((provider, name))
                changed |= self._fit("provider", provider) | self._fit("event", name)
                for fname, kind, unit in declared_fields(schema):
                    changed |= self._add_field(fname, kind, unit)
        if changed:
            self.version += 1
        return changed

    def learn_names(self, names: Iterable[tuple[str, str]]) -> bool:
        """Fit the name columns to (provider, event) pairs seen without a manifest."""
        changed = False
        for provider, name in names:
            if (provider, name) not in self._learned:
                self._learned.add((provider, name))
                changed |= self._fit("provider", provider) | self._fit("event", name)
        if changed:
            self.version += 1
        return changed

    def _fit(self, key: str, name: str) -> bool:
        col = self._by_key(key)
        fitted = self._fitted.get(key)
        if fitted is not None and fitted != col.width:
            return False  # the user resized it: the width is theirs
        lo, hi = _NAME_BOUNDS[key]
        want = max(fitted or lo, min(hi, cell_len(escape_text(name))))
        if want == fitted:
            return False
        col.width = self._fitted[key] = want
        return True

    def _add_field(self, name: str, kind: str, unit: str) -> bool:
        key = "field:" + name
        if key in self._keys or len(self._keys) >= _MAX_COLUMNS:
            return False  # known, or a log declaring more fields than anyone can read
        self._keys.add(key)
        width = max(_TYPE_WIDTHS.get(kind, 12), min(16, cell_len(name)))
        self.columns.insert(len(self.columns) - 1,
                            Column(key, name, width, visible=False, kind=kind, unit=unit))
        return True

    # -- user changes --------------------------------------------------------------------
    def _by_key(self, key: str) -> Column:
        return next(c for c in self.columns if c.key == key)

    def column(self, key: str) -> Column | None:
        """The column with this key (``time``, ``field:verb``...), if any."""
        return next((c for c in self.columns if c.key == key), None)

    @property
    def visible(self) -> list[Column]:
        """The shown columns, left to right."""
        return [c for c in self.columns if c.visible]

    @property
    def focus(self) -> int:
        """The position of the focused column."""
        return next(i for i, c in enumerate(self.columns) if c.key == self._focus_key)

    @property
    def focused(self) -> Column:
        """The column that ``<``/``>`` resize and ``h`` hides."""
        return self.columns[self.focus]

    def move_focus(self, step: int) -> None:
        """Focus the next (1) or previous (-1) shown column."""
        shown = [i for i, c in enumerate(self.columns) if c.visible]
        if not shown:
            return
        focus = self.focus
        pos = min(range(len(shown)), key=lambda k: abs(shown[k] - focus))
        self._focus_key = self.columns[shown[max(0, min(len(shown) - 1, pos + step))]].key
        self.version += 1

    def column_at(self, x: int) -> Column | None:
        """The shown column drawn at cell ``x`` of a row (the message: the rest)."""
        used = 0
        for col in self.visible:
            if col.key == "message" or x < used + col.width + 1:
                return col
            used += col.width + 1
        return None

    def focus_on(self, key: str) -> None:
        """Focus the column with this key (e.g. the one clicked in the header)."""
        if self.column(key) is not None:
            self._focus_key = key
            self.version += 1

    def resize(self, delta: int) -> None:
        """Widen (or narrow) the focused column; the message column takes what is left."""
        col = self.focused
        if col.key == "message":
            return
        col.width = max(_MIN_WIDTH, min(_MAX_WIDTH, col.width + delta))
        self.version += 1

    def set_visible(self, key: str, visible: bool) -> None:
        """Show or hide a column (the message column always shows)."""
        col = self.column(key)
        if col is None or col.key == "message" or col.visible == visible:
            return
        col.visible = visible
        if not visible and col is self.focused:
            self.move_focus(1 if self.focus < len(self.columns) - 1 else -1)
        elif visible:
            self._focus_key = col.key
        self.version += 1

    def toggle(self, key: str) -> None:
        """Show a hidden column, hide a shown one."""
        col = self.column(key)
        if col is not None:
            self.set_visible(key, not col.visible)

    def set_sources(self, labels: list[str]) -> None:
        """Show the Log column (fitted to the labels) when rows come from several logs."""
        col = self._by_key("source")
        col.visible = len(labels) > 1
        col.width = max(3, min(20, max((cell_len(x) for x in labels), default=3)))
        self.version += 1

    def set_show_date(self, show: bool) -> None:
        """Show the date in the time column (the rows span more than one day)."""
        if show != self.show_date:
            self.show_date = show
            self._by_key("time").width = _DATE_TIME_W if show else _TIME_W
            self.version += 1

    # -- drawing -------------------------------------------------------------------------
    def header(self, width: int) -> Text:
        """The titles of the shown columns, aligned with :meth:`segments`; the focused
        column's title is highlighted."""
        text = Text(no_wrap=True)
        used = 0
        focused = self.focused
        for col in self.visible:
            w = col.width if col.key != "message" else max(0, width - used)
            cell = fit_cells(escape_text(col.label), w)
            text.append(cell, _FOCUS_STYLE if col is focused else None)
            used += w
            if col.key != "message":
                text.append(" ")
                used += 1
        text.truncate(width, pad=True)
        return text

    def segments(self, ring: _Rows, index: int, width: int) -> list[Segment]:
        """The segments of one event's line (``width`` cells); data is shown escaped."""
        s = ring.schema(index)
        if s.kind == "lost":
            text = f"{seq_cell(ring.seq(index), 7)} " \
                f"{format_time(ring.time_ns(index), self.show_date)} ⚠ " + \
                escape_text(ring.event(index).message)
            return [Segment(fit_cells(text, width), LOST_STYLE)]
        level = ring.level(index)
        fields = ring.fields(index)
        base = LEVEL_STYLES.get(level, Style())
        segs: list[Segment] = []
        used = 0
        for col in self.visible:
            if used >= width:
                break
            if col.key == "message":
                message = escape_text(format_message(s.template, fields))
                segs.append(Segment(fit_cells(message, width - used), base))
                used = width
                break
            text, style = self._cell(col, ring, index, s, level, fields)
            segs.append(Segment(text + " ", base + style if style else base))
            used += col.width + 1
        if used != width:  # more columns than fit: cut at the edge
            segs = Segment.adjust_line_length(segs, width)
        return segs

    def _cell(self, col: Column, ring: _Rows, index: int, s: Any, level: int,
              fields: dict[str, Any]) -> tuple[str, Style | None]:
        w, key = col.width, col.key
        if key == "seq":
            return seq_cell(ring.seq(index), w), _SEQ_STYLE
        if key == "time":
            return fit_cells(format_time(ring.time_ns(index), self.show_date), w), None
        if key == "provider":
            return fit_cells(escape_text(s.provider), w), _PROVIDER_STYLE
        if key == "level":
            return fit_cells(LEVEL_NAMES.get(level, str(level)), w), None
        if key == "event":
            return fit_cells(escape_text(s.name), w), _EVENT_STYLE
        if key == "source":
            source = getattr(ring, "source", None)
            label = source(index) if source is not None else ""
            return fit_cells(escape_text(label), w), _SOURCE_STYLE
        name = col.field or ""
        if name not in fields:
            return " " * w, None
        value = escape_text(format_value(fields[name]))
        if col.kind in _NUMERIC and cell_len(value) <= w:
            return value.rjust(w), _FIELD_STYLE
        return fit_cells(value, w), _FIELD_STYLE


_DEFAULT = ColumnLayout()


def header_text(width: int) -> str:
    """The default columns' titles, aligned with :func:`row_segments`."""
    return _DEFAULT.header(width).plain


def row_segments(ring: EventRing | LogIndex, index: int, width: int,
                 layout: ColumnLayout | None = None) -> list[Segment]:
    """The segments of one event's line (``width`` cells) in ``layout`` (default columns)."""
    return (layout or _DEFAULT).segments(ring, index, width)
