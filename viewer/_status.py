"""The column header line and the status bar."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.message import Message
from textual.widget import Widget

from tracer import escape_text

from ._columns import ColumnLayout

__all__ = ["ColumnHeader", "StatusBar"]


class ColumnHeader(Widget):
    """Titles of the events view's columns."""

    DEFAULT_CSS = "ColumnHeader { height: 1; background: $panel; text-style: bold; }"

    def __init__(self, layout: ColumnLayout | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.column_layout = layout or ColumnLayout()

    def render(self) -> Text:
        return self.column_layout.header(self.size.width)

    def on_click(self, event: events.Click) -> None:
        """Focus the clicked column (``<``/``>`` then resize it)."""
        col = self.column_layout.column_at(event.x)
        if col is not None:
            self.column_layout.focus_on(col.key)
            self.post_message(self.Clicked())

    class Clicked(Message):
        """A column title was clicked (the events view redraws its rows)."""


class StatusBar(Widget):
    """Follow state, position, filter, events dropped from the view, the inspector's
    overload totals, and whether the opened log holds secrets in clear."""

    DEFAULT_CSS = "StatusBar { height: 1; background: $primary-background; }"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = Text("")

    def show(self, *, follow: bool, row: int | None, shown: int, held: int, filter_text: str,
             pending: int, ring_dropped: int, lost: int, sessions: int,
             progress: str = "", secrets: str | None = None,
             overload: tuple[int, int] | None = None) -> None:
        """Update from the app's state (``secrets``: the log header's note on them;
        ``overload``: the inspector's totals let through and dropped by a full queue)."""
        t = Text()
        t.append(" FOLLOW " if follow else " PAUSED ",
                 style="bold black on green" if follow else "bold black on yellow")
        pos = f"{row + 1:,}" if row is not None else "-"
        t.append(f" {pos}/{shown:,}")
        if filter_text:
            t.append(f" of {held:,}  filter: {escape_text(filter_text)}", style="cyan")
        if progress:
            t.append(f"  {progress}", style="yellow")
        elif pending:
            t.append(f"  filtering… {pending:,} left", style="yellow")
        if ring_dropped or lost:
            t.append(f"  dropped {ring_dropped:,} (ring full) lost {lost:,}",
                     style="bold magenta")
        if overload is not None and any(overload):
            accepted, dropped = overload
            t.append(f"  overload: {accepted:,} let through, {dropped:,} dropped",
                     style="bold white on red" if accepted else "bold yellow")
        if not sessions:
            t.append("  no source", style="dim")
        if secrets is not None:
            captured = secrets.startswith("SECRETS")
            t.append("  ")
            t.append(" SECRETS IN CLEAR " if captured else "secrets redacted",
                     style="bold white on red" if captured else "dim")
        self.text = t
        self.refresh()

    def render(self) -> Text:
        return self.text
