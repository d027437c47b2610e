"""The live events view: a Line API widget over the ring, rendering only visible rows.

It never creates a widget per event: ``render_line`` formats the few rows on
screen from the ring (with a small strip cache), whatever the ring holds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ._columns import ColumnLayout
from ._rows import ViewRows

if TYPE_CHECKING:
    from ._logrows import LogRows

__all__ = ["EventsView"]

_CURSOR = Style(reverse=True)


class EventsView(ScrollView, can_focus=True):
    """Scrollable, following list of the rows of a :class:`ViewRows`."""

    BINDINGS = [
        Binding("up,k", "cursor(-1)", "Up", show=False),
        Binding("down,j", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home,g", "jump_start", "Start", show=False),
        Binding("end,G", "jump_end", "End", show=False),
        Binding("left", "column_focus(-1)", "Previous column", show=False),
        Binding("right", "column_focus(1)", "Next column", show=False),
        Binding("less_than_sign", "column_resize(-2)", "Narrow column", show=False),
        Binding("greater_than_sign", "column_resize(2)", "Widen column", show=False),
        Binding("h", "column_hide", "Hide column", show=False),
    ]
    DEFAULT_CSS = """
    EventsView { height: 1fr; overflow-x: hidden; scrollbar-size-vertical: 1; }
    """

    follow: reactive[bool] = reactive(True)

    class ColumnsChanged(Message):
        """The columns were resized, shown, hidden or refocused (the header redraws)."""

    class Selected(Message):
        """The cursor moved to another event (absolute ring index, or None)."""

        def __init__(self, index: int | None) -> None:
            super().__init__()
            self.index = index

    def __init__(self, rows: ViewRows | LogRows, *, id: str | None = None,
                 column_layout: ColumnLayout | None = None) -> None:
        super().__init__(id=id)
        self.rows = rows
        self.column_layout = column_layout or ColumnLayout()
        self.cursor_index: int | None = None
        self._cache: LRUCache[tuple[int, int, bool, int], Strip] = LRUCache(1024)
        self.paint_hook: Callable[[float], None] | None = None
        self.empty_hint = "No events yet."
        self._sized_at = 0.0

    # -- data -----------------------------------------------------------------------------
    @property
    def cursor_row(self) -> int | None:
        """The row of the selected event, if it is still shown."""
        if self.cursor_index is None or not len(self.rows):
            return None
        row = self.rows.row_of(self.cursor_index)
        if row >= len(self.rows) or self.rows[row] != self.cursor_index:
            return None
        return row

    def rows_changed(self, reset: bool = False) -> None:
        """Call after the ring or the filter changed: resize, follow or keep position.

        While following, rows are drawn from the end (no scrolling), and the virtual
        size (which costs a screen layout) is refreshed at most a few times a second.
        """
        n = len(self.rows)
        if reset:
            self._cache.clear()
        if self.follow:
            now = time.monotonic()
            if reset or now - self._sized_at > 0.5 or n < self.size.height:
                self._sized_at = now
                self.virtual_size = Size(self.size.width, n)
                self.scroll_to(y=max(0, n - self.size.height), animate=False, immediate=True)
            if n:
                index = self.rows[n - 1]
                if index != self.cursor_index:
                    self.cursor_index = index
                    self.post_message(self.Selected(index))
            self.refresh()
            return
        top = self._top_index()
        self.virtual_size = Size(self.size.width, n)
        if top is not None and n:
            self.scroll_to(y=self.rows.row_of(top), animate=False, immediate=True)
        if self.cursor_index is not None and self.cursor_row is None and n:
            self._select_row(min(self.rows.row_of(self.cursor_index), n - 1), scroll=False)
        self.refresh()

    def _top_row(self) -> int:
        """The first row on screen: the tail while following, else the scroll offset."""
        if self.follow:
            return max(0, len(self.rows) - self.size.height)
        return int(self.scroll_offset.y)

    def _top_index(self) -> int | None:
        y = self._top_row()
        if 0 <= y < len(self.rows):
            return self.rows[y]
        return None

    # -- rendering ------------------------------------------------------------------------
    def render_lines(self, crop: Region) -> list[Strip]:
        """Render the visible rows (timed for the benchmark's frame metric)."""
        t0 = time.perf_counter()
        strips = super().render_lines(crop)
        if self.paint_hook is not None:
            self.paint_hook(time.perf_counter() - t0)
        return strips

    def render_line(self, y: int) -> Strip:
        """One screen line: the row at scroll offset + y."""
        row = self._top_row() + y
        width = self.size.width
        if not 0 <= row < len(self.rows):
            if y == 1 and not len(self.rows):
                hint = self.empty_hint
                if not self.rows.filter.empty and len(self.rows.ring):
                    hint = "No event matches the filter (x clears it, f edits it)."
                return Strip([Segment(f"  {hint}"[:width].ljust(width), Style(dim=True))], width)
            return Strip.blank(width, self.rich_style)
        index = self.rows[row]
        selected = index == self.cursor_index
        key = (index, width, selected, self.column_layout.version)
        strip = self._cache.get(key)
        if strip is None:
            segs = self.column_layout.segments(self.rows.ring, index, width)
            if selected:
                segs = list(Segment.apply_style(segs, post_style=_CURSOR))
            strip = Strip(segs).crop_extend(0, width, None)  # many columns: cut at the edge
            self._cache[key] = strip
        return strip

    # -- columns ----------------------------------------------------------------------------
    def columns_changed(self) -> None:
        """Redraw the rows after the layout changed (and tell the header)."""
        self._cache.clear()
        self.refresh()
        self.post_message(self.ColumnsChanged())

    def action_column_focus(self, step: int) -> None:
        """Focus the next or previous column (the one ``<``/``>`` resize)."""
        self.column_layout.move_focus(step)
        self.columns_changed()

    def action_column_resize(self, delta: int) -> None:
        """Narrow or widen the focused column."""
        self.column_layout.resize(delta)
        self.columns_changed()

    def action_column_hide(self) -> None:
        """Hide the focused column (C, or the command palette, shows it again)."""
        self.column_layout.set_visible(self.column_layout.focused.key, False)
        self.columns_changed()

    # -- cursor and follow ------------------------------------------------------------------
    def _select_row(self, row: int, scroll: bool = True) -> None:
        n = len(self.rows)
        if not n:
            self.cursor_index = None
            return
        row = max(0, min(row, n - 1))
        index = self.rows[row]
        if index != self.cursor_index:
            self.cursor_index = index
            self.post_message(self.Selected(index))
        if scroll:
            height = max(1, self.size.height)
            top = int(self.scroll_offset.y)
            if row < top:
                self.scroll_to(y=row, animate=False, immediate=True)
            elif row >= top + height:
                self.scroll_to(y=row - height + 1, animate=False, immediate=True)
        self.refresh()

    def select_index(self, index: int) -> None:
        """Select the event with this absolute index (pausing follow), e.g. a search hit."""
        self.follow = False
        self._select_row(self.rows.row_of(index))

    def action_cursor(self, delta: int) -> None:
        """Move the cursor; moving up pauses following."""
        row = self.cursor_row
        row = (len(self.rows) - 1 if row is None else row) + delta
        if delta < 0:
            self.follow = False
        self._select_row(row)
        if row >= len(self.rows) - 1 and delta > 0:
            self.follow = True

    def action_page(self, direction: int) -> None:
        """Move the cursor by one screen."""
        self.action_cursor(direction * max(1, self.size.height - 1))

    def action_jump_start(self) -> None:
        """Select the oldest shown event and stop following."""
        self.follow = False
        self._select_row(0)

    def action_jump_end(self) -> None:
        """Select the newest event and follow new ones."""
        self.follow = True
        self._select_row(len(self.rows) - 1)

    def on_resize(self) -> None:
        self.rows_changed(reset=True)
        self.call_after_refresh(self._show_cursor)

    def _show_cursor(self) -> None:
        """Scroll so the selected row is on screen (after the view changed size)."""
        row = self.cursor_row
        if row is not None and not self.follow:
            self._select_row(row)

    def watch_follow(self, old: bool, follow: bool) -> None:
        n = len(self.rows)
        self.virtual_size = Size(self.size.width, n)
        top = max(0, n - self.size.height)
        self.scroll_to(y=top, animate=False, immediate=True)
        if follow and n:
            self._select_row(n - 1)
